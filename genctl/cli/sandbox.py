"""`genctl sandbox serve`: run the local fal.ai + Replicate emulator in the foreground for CI scripts."""

from __future__ import annotations

import errno
import shlex
import socket
import threading
from typing import Annotated

import typer

from genctl.cli.output import out

sandbox_app = typer.Typer(
    help="""Run the local emulator of the fal.ai and Replicate APIs.

    Examples:

        genctl sandbox serve --port 8765
    """,
    no_args_is_help=True,
)


def _bind_error(host: str, port: int, exc: OSError) -> Exception:
    """Why `serve` could not listen on HOST:PORT, as one usage error (taken port, unknown host …)."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.errors import usage

    if exc.errno == errno.EADDRINUSE:
        return usage(
            f"Port {port} on {host} is already in use.",
            fix="Pick another --port, or --port 0 for any free port.",
        )
    if isinstance(exc, socket.gaierror):
        return usage(
            f"--host {host!r} is not an address or a host name this machine resolves.",
            fix="Pass an IP address such as 127.0.0.1 (the default).",
        )
    return usage(
        f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
        fix="Pick another --host/--port (the default 127.0.0.1 with --port 0 always works).",
    )


@sandbox_app.command("serve")
def serve(
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).", min=0, max=65535)
    ] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
) -> None:
    """Serve the emulator until Ctrl-C; print the `export` lines that point genctl at it.

    Examples:

        genctl sandbox serve

        genctl sandbox serve --port 8765 --host 127.0.0.1
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.sandbox import Sandbox
    from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK

    sandbox = Sandbox(host=host, port=port)
    try:
        sandbox.start()
    except OSError as exc:
        raise _bind_error(host, port, exc) from None
    with sandbox as box:
        env = {**box.env(), "FAL_KEY": FAL_KEY_OK, "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK}
        for name, value in env.items():
            out.result(f"export {name}={shlex.quote(value)}")
        out.info(f"Sandbox listening on {box.url}; the keys above are the emulator's demo keys.")
        out.info("Ctrl-C stops it.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            out.info("Sandbox stopped.")

"""The Sandbox object: start and stop the server, tune it, inject faults, read what it saw."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from genctl.sandbox.control import make_control
from genctl.sandbox.faults import Fault, FaultSet
from genctl.sandbox.keys import DEFAULT_ACCOUNT, KeyInfo, KeyRegistry, KeyState, Provider, Scope
from genctl.sandbox.server import SandboxServer
from genctl.sandbox.state import CancelRecord, Context, Job, RequestRecord, SandboxConfig, Store


class Sandbox:
    """A local fal.ai + Replicate emulator on one loopback port; see the package docstring for the map."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        settings = SandboxConfig()
        settings.update(**config)
        self._host, self._port = host, port
        self._ctx = Context(Store(), KeyRegistry(), settings)
        self._faults = FaultSet()
        self._stop = threading.Event()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        self._stop.clear()
        control = make_control(self._ctx, self._faults)
        self._server = SandboxServer((self._host, self._port), self._ctx, self._faults, self._stop, control)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="genctl-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake every blocked request, stop accepting, cut open connections, close the listening socket."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    def env(self) -> dict[str, str]:
        """The variables that point genctl at this sandbox (DESIGN.md, "Talking to the providers")."""
        return {
            "GENCTL_FAL_QUEUE_URL": f"{self.url}/fal/queue",
            "GENCTL_FAL_RUN_URL": f"{self.url}/fal/run",
            "GENCTL_FAL_API_URL": f"{self.url}/fal/api/v1",
            "GENCTL_FAL_REST_URL": f"{self.url}/fal/rest",
            "GENCTL_REPLICATE_API_URL": f"{self.url}/replicate/v1",
        }

    # --- tuning -----------------------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        return self._ctx.config

    def configure(self, **config: Any) -> None:
        """Change settings (SandboxConfig fields); jobs keep the settings they were submitted with."""
        self._ctx.config.update(**config)

    def add_key(
        self,
        provider: Provider,
        key: str,
        *,
        state: KeyState = "ok",
        account: str = DEFAULT_ACCOUNT,
        scope: Scope = "API",
        balance: float = 24.5,
    ) -> KeyInfo:
        return self._ctx.keys.add(provider, key, state=state, account=account, scope=scope, balance=balance)

    # --- faults -----------------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        return self._faults.list()

    # --- what the sandbox saw ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._ctx.store.lock:
            return list(self._ctx.store.records)

    @property
    def cancels(self) -> list[CancelRecord]:
        with self._ctx.store.lock:
            return list(self._ctx.store.cancels)

    def clear_requests(self) -> None:
        with self._ctx.store.lock:
            self._ctx.store.records.clear()

    def count(
        self,
        path_regex: str | None = None,
        *,
        method: str | None = None,
        host: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many recorded requests match (path regex searched in the full path, e.g. r"/status$")."""
        return sum(
            1
            for r in self.requests
            if (path_regex is None or re.search(path_regex, r.path))
            and (method is None or r.method == method.upper())
            and (host is None or r.host == host or r.host.startswith(host + "."))
            and (status is None or r.status == status)
        )

    def job(self, request_id: str) -> Job | None:
        """A submitted job (fal request or Replicate prediction) by id, to inspect its phase or input."""
        return self._ctx.store.job(request_id)


def serve_forever(
    port: int = 8765,
    *,
    host: str = "127.0.0.1",
    on_ready: Callable[[Sandbox], None] | None = None,
    **config: Any,
) -> None:
    """Run a sandbox until Ctrl-C (for `genctl sandbox serve`); `on_ready` can print `sandbox.env()`."""
    sandbox = Sandbox(host=host, port=port, **config).start()
    try:
        if on_ready is not None:
            on_ready(sandbox)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()

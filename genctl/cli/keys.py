"""`genctl keys`: each key's rotation state and live check, and adding, removing and listing config keys."""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from genctl.cli import common
from genctl.cli.completion import complete_key_label
from genctl.cli.config import settings_for_cli
from genctl.cli.output import out
from genctl.cli.sandbox_run import SandboxOpt, settings_for
from genctl.errors import error, usage
from genctl.providers import registry

if TYPE_CHECKING:
    from genctl.errors import GenctlError
    from genctl.keys import KeyPool, KeyView
    from genctl.providers.accounts import KeyCheck
    from genctl.settings import Settings
    from genctl.values import Key

keys_app = typer.Typer(
    help="""See each key's state (rotation, failures, live check) and add, remove or list keys.

    Examples:

        genctl keys status --check

        genctl keys add fal --label ci-3 < key.txt

        genctl keys list --json
    """,
    no_args_is_help=True,
)

STDIN_WAIT = 10.0  # seconds to wait for a piped key before calling it "nothing piped" (never hang a script)
ProviderArg = Annotated[
    str,
    typer.Argument(
        help="The provider.",
        show_default=False,
        metavar=common.PROVIDER_CHOICES,
        autocompletion=common.complete_provider,
    ),
]


def _provider(name: str) -> str:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import PROVIDERS

    if name not in PROVIDERS:
        raise usage(f"Unknown provider {name!r}.", fix="Use fal or replicate.")
    return name


# -- status ----------------------------------------------------------------------------------------------


@keys_app.command("status")
def status_command(
    check: Annotated[
        bool,
        typer.Option("--check", help="Probe every key live, concurrently, with calls that cost nothing."),
    ] = False,
    provider: common.ProviderOpt = None,
    json_output: common.JsonOpt = False,
    sandbox: SandboxOpt = False,
) -> None:
    """Each key's state: usable, failed (why, since when) or cooling down; which key is next.

    Exit 0 when every provider with keys has one that has not failed, else 3.

    Examples:

        genctl keys status

        genctl keys status --check

        genctl keys status --provider fal --json

        genctl keys status --check --sandbox
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import PROVIDERS
    from genctl.keys import pool_for

    out.configure(json_mode=json_output)
    names = [_provider(provider)] if provider else list(PROVIDERS)
    with ExitStack() as stack:
        settings = settings_for(stack, sandbox=sandbox)
        pools = {name: pool_for(settings, name) for name in names}
        checks = _check_all(settings, pools) if check else {}
    views = {name: pool.views() for name, pool in pools.items()}
    for problem in dict.fromkeys(pool.store.problem for pool in pools.values() if pool.store.problem):
        out.warn(problem)
    failure = _failure(pools, views, asked_for=provider)
    if json_output:
        _status_json(views, checks, failure)
        if failure is not None:
            out.configure(json_mode=False)  # the one JSON document above already holds the error
    else:
        _status_text(settings, views, checks)
    _show_refusals(checks)
    if failure is not None:
        raise failure


def _check_all(settings: Settings, pools: dict[str, KeyPool]) -> dict[Key, KeyCheck]:
    """Probe every key of `pools` live, at once; refused keys are marked failed, valid ones put back."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.keys.check import apply_checks, check_keys

    keys = [key for pool in pools.values() for key in pool.keys]
    with out.status(f"Checking {len(keys)} key(s)…"):
        checks = check_keys(settings.providers, keys)
    for pool in pools.values():
        apply_checks(pool, {key: checks[key] for key in pool.keys})
    return checks


def _show_refusals(checks: dict[Key, KeyCheck]) -> None:
    """Each key a check refused, as the same Finding `genctl generate` and `genctl doctor` show for it (a
    warning here: the command itself succeeds while another key works)."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.diagnose import from_key_check

    for check in checks.values():
        if not check.ok:
            out.finding(from_key_check(check), heading="Warning")


def _failure(
    pools: dict[str, KeyPool], views: dict[str, list[KeyView]], *, asked_for: str | None
) -> GenctlError | None:
    """The error that makes `status` exit 3, or None: a provider whose keys all failed, or no key at all."""
    for name, pool in pools.items():
        if views[name] and all(view.state == "failed" for view in views[name]):
            return pool.explain(views[name])
    if not any(views.values()) or (asked_for and not views[asked_for]):
        which = asked_for or "fal or replicate"
        return error(
            "key.missing",
            f"No {which} key is configured.",
            fix='Set FAL_KEY / REPLICATE_API_TOKEN, or add one: echo "$KEY" | genctl keys add PROVIDER.',
            provider=asked_for,
        )
    return None


def _summary(name: str, views: list[KeyView]) -> str:

    if not views:
        return f"{name}: no keys (set {registry.info(name).key_env}, or `genctl keys add {name}`)"
    usable = sum(view.state == "usable" for view in views)
    cooling = sum(view.state == "cooling" for view in views)
    nxt = next((view.key.label for view in views if view.next), "none")
    extra = f", {cooling} cooling down" if cooling else ""
    return f"{name}: {len(views)} key{'s' if len(views) != 1 else ''}, {usable} usable{extra}, next: {nxt}"


def _status_text(settings: Settings, views: dict[str, list[KeyView]], checks: dict[Key, KeyCheck]) -> None:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.keys import timestamp

    columns = ["label", "key", "source", "account", "format", "state", "last used", "next"]
    now = time.time()
    for name, rows in views.items():
        if not rows:
            continue
        table = []
        for view in rows:
            table.append(
                [
                    view.key.label,
                    view.key.masked,
                    _source(view.key.source, settings),
                    view.account or "",
                    f"warning: {view.key.shape_warning}" if view.key.shape_warning else "ok",
                    _state(view, now),
                    timestamp(view.last_used, now) if view.last_used else "never",
                    "→ next" if view.next else "",
                    *([_check_cell(checks.get(view.key))] if checks else []),
                ]
            )
        out.table([*columns, *(["check"] if checks else [])], table, title=name)
    for name, rows in views.items():
        out.result(_summary(name, rows))


def _source(source: str, settings: Settings) -> str:
    if settings.config_file is not None and source == str(settings.config_file):
        home = str(Path.home())
        return "config " + (("~" + source[len(home) :]) if source.startswith(home + os.sep) else source)
    return source


def _state(view: KeyView, now: float) -> str:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.keys import timestamp

    if view.state == "failed" and view.since and view.until:
        return f"failed ({view.code}) since {timestamp(view.since, now)}, retry {timestamp(view.until, now)}"
    if view.state == "cooling" and view.until:
        return f"rate limited until {timestamp(view.until, now)}"
    return view.state


def _check_cell(check: KeyCheck | None) -> str:
    if check is None:
        return ""
    if check.error is not None:
        return f"{'network error' if check.status == 'network' else check.status} ({check.error.code})"
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.diagnose import valid_summary

    return ", ".join([valid_summary(check), *check.notes])


def _check_json(check: KeyCheck) -> dict[str, Any]:
    """A check's verdict with the fix of its Finding (genctl.diagnose): the same words as everywhere."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.diagnose import from_key_check

    return {**check.to_json(), "fix": from_key_check(check).fix or None}


def _status_json(
    views: dict[str, list[KeyView]], checks: dict[Key, KeyCheck], failure: GenctlError | None
) -> None:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.keys import view_json

    providers = {
        name: {
            "keys": [
                {**view_json(view), "check": _check_json(checks[view.key]) if view.key in checks else None}
                for view in rows
            ],
            "total": len(rows),
            "usable": sum(view.state == "usable" for view in rows),
            "next": next((view.key.label for view in rows if view.next), None),
        }
        for name, rows in views.items()
    }
    document: dict[str, Any] = {"ok": failure is None, "providers": providers}
    if failure is not None:
        document["error"] = failure.to_json()
    out.json(document)


# -- add / remove / list ---------------------------------------------------------------------------------


TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout", help="Give up after this many seconds waiting for another genctl's edit.", min=0.1
    ),
]


@keys_app.command("add")
def add_command(
    provider: ProviderArg,
    label: Annotated[str | None, typer.Option("--label", help="Name the key (default: key-N).")] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="The account it belongs to (locks are account-wide).")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Probe the key live first; add it only if valid.")
    ] = False,
    timeout: TimeoutOpt = None,
) -> None:
    """Add a key to the config file, read from stdin or a hidden prompt (never from the command line).

    Examples:

        genctl keys add replicate

        genctl keys add fal --label ci-1 --account acme < key.txt

        genctl keys add fal --label ci-2 --check < key.txt
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl import config_edit, deadline
    from genctl.config import load_settings
    from genctl.values import Key, shape_warning

    name = _provider(provider)
    path = _config_path()
    if path.exists():
        settings = settings_for_cli()  # warnings (permissions, typos); a broken file stops here, unrewritten
    else:
        settings = load_settings(config_path=path, env=os.environ, missing_ok=True)
    secret = _read_secret(name)
    if warning := shape_warning(secret, name):
        out.warn(f"the {name} key looks unusual ({warning}); adding it anyway")
    with deadline.limit(timeout, _deadline_label(timeout), command=True):
        planned = config_edit.add_key(path, name, secret, label=label, account=account, dry_run=True)
        if not planned.existing:
            key = Key(provider=name, label=planned.label, source=str(path), _secret=secret, account=account)
            key.sendable()  # key.format (masked) for a key that could never work: it is not stored
            if check:
                _check_before_adding(settings, key)  # before the lock: nothing slow happens under it
            added = config_edit.add_key(path, name, secret, label=label, account=account)
        if planned.existing or added.existing:
            existing = planned.existing or added.existing
            out.warn(f"that {name} key is already in {path} as {existing}; nothing changed")
            return
    key = Key(provider=name, label=added.label, source=str(path), _secret=secret, account=account)
    out.info(f"Added {name} key {key} to {path}.")


def _deadline_label(timeout: float | None) -> str:
    return f"the {timeout:g} s deadline (--timeout)" if timeout is not None else ""


def _check_before_adding(settings: Settings, key: Key) -> None:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.keys.check import check_keys

    verdict = check_keys(settings.providers, [key])[key]
    if verdict.error is not None:
        raise verdict.error
    account = f" (account {verdict.account})" if verdict.account else ""
    out.info(f"{key.provider} key {key} is valid{account}.")


@keys_app.command("remove")
def remove_command(
    provider: ProviderArg,
    label: Annotated[
        str, typer.Argument(help="The key's label.", metavar="LABEL", autocompletion=complete_key_label)
    ],
    timeout: TimeoutOpt = None,
) -> None:
    """Remove the key labelled LABEL from the config file (see `genctl keys list`).

    Examples:

        genctl keys remove fal ci-3
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl import config_edit, deadline
    from genctl.keys import pool_for
    from genctl.values import Key

    name = _provider(provider)
    path = _config_path()
    settings = settings_for_cli()
    if label not in config_edit.labels(path, name):
        elsewhere = next((k for k in settings.providers[name].keys if k.label == label), None)
        if elsewhere is not None:
            raise usage(
                f"The {name} key {elsewhere} comes from {elsewhere.source}, not from {path}.",
                fix=f"Remove it from the {elsewhere.source} environment variable instead.",
            )
        config_edit.remove_key(path, name, label, dry_run=True)  # says which labels there are
    with deadline.limit(timeout, _deadline_label(timeout), command=True):
        secret = config_edit.remove_key(path, name, label)
    removed = Key(provider=name, label=label, source=str(path), _secret=secret)
    pool_for(settings, name).forget(removed)
    out.info(f"Removed {name} key {removed} from {path}.")


@keys_app.command("list")
def list_command(json_output: common.JsonOpt = False) -> None:
    """Every configured key: provider, label, masked key and where it comes from.

    Examples:

        genctl keys list

        genctl keys list --json
    """
    out.configure(json_mode=json_output)
    settings = settings_for_cli()
    keys = [key for provider in settings.providers.values() for key in provider.keys]
    if json_output:
        rows = [
            {"provider": k.provider, "label": k.label, "masked": k.masked, "source": k.source} for k in keys
        ]
        out.json({"ok": True, "keys": rows})
        return
    if not keys:
        out.info("No keys configured: set FAL_KEY or REPLICATE_API_TOKEN, or `genctl keys add PROVIDER`.")
        return
    out.table(
        ["provider", "label", "key", "source"], [[k.provider, k.label, k.masked, k.source] for k in keys]
    )


# -- helpers ---------------------------------------------------------------------------------------------


def _config_path() -> Path:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.paths import resolve_config_file

    return resolve_config_file(config_path=common.options.config_path, env=os.environ)[0]


def _read_secret(provider: str) -> str:
    """The key from a hidden prompt on a terminal, else from piped stdin; never waits on an idle pipe."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.key_sources import clean_key

    how = f'echo "$KEY" | genctl keys add {provider}'
    if _stdin_is_terminal():
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        import getpass

        raw = getpass.getpass(f"{provider} key (input hidden): ")
    elif _has_input(sys.stdin):
        raw = sys.stdin.read()
    else:
        raise usage(f"No key was piped in within {STDIN_WAIT:g} s.", fix=how)
    secret, _ = clean_key(raw)
    if not secret:
        raise usage("No key was given (stdin was empty).", fix=how)
    if any(ch.isspace() for ch in secret) or "," in secret:
        raise usage("Give one key at a time, without spaces or commas.", fix=how)
    info = registry.info(provider)
    sep = info.key_separator
    if sep is not None and (sep not in secret or "" in secret.split(sep)):
        raise error(
            "key.format",
            f"That is not a whole {info.key_noun}: it needs both halves, {info.key_look}.",
            fix=f"Copy the whole key from {info.key_page} and pipe it in again.",
            provider=provider,
        )
    return secret


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except ValueError:  # stdin was closed
        return False


def _has_input(stream: Any) -> bool:
    """Whether a pipe has data (or EOF) within STDIN_WAIT; True when that can't be told (read it then)."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import select

    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # an in-memory stream (the test runner): reading never blocks
    if os.name == "nt":
        return True  # select() only works on sockets there
    ready, _, _ = select.select([fd], [], [], STDIN_WAIT)
    return bool(ready)

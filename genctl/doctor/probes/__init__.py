"""What every `genctl doctor` probe shares: the Check it reports, the Probe that runs it, the DoctorContext.

A probe source is a function `(DoctorContext) -> Iterable[Probe]` (see `genctl.doctor.SOURCES`); each Probe
runs on a worker thread and returns its Checks. A probe never prints; it may raise a GenctlError, which
becomes a failed Check. Every HTTP exchange a probe makes through `ctx.client` is recorded (method, URL,
status, time, request id, the provider's words) for `--verbose` and the report.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl.catalog import ONE_TRY, Catalog
from genctl.diagnose import Finding
from genctl.keys import pool_for
from genctl.providers import registry
from genctl.providers._common import read_error_body
from genctl.settings import flag_seconds

if TYPE_CHECKING:
    import httpx

    from genctl.catalog import Catalog
    from genctl.errors import GenctlError
    from genctl.keys import KeyView
    from genctl.settings import Settings
    from genctl.values import Key

CATEGORIES = ("environment", "connectivity", "keys", "models", "aliases", "live")  # display order
DEFAULT_TIMEOUT = 10.0  # seconds for each HTTP call of a probe (--timeout)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's verdict: what was checked (id, category, provider, subject), the Finding."""

    id: str
    category: str
    provider: str | None
    subject: str  # a masked key label, a model id or a host
    finding: Finding

    def to_json(self) -> dict[str, Any]:
        head = {"id": self.id, "category": self.category, "provider": self.provider, "subject": self.subject}
        return head | self.finding.to_json()


@dataclass(frozen=True)
class Probe:
    """A unit of work for one worker thread: `run()` returns the Checks it found (usually one)."""

    id: str
    category: str
    provider: str | None
    subject: str
    run: Callable[[], list[Check]] = field(default=lambda: [], repr=False)  # a template has nothing to run

    def check(self, finding: Finding, *, aspect: str | None = None, subject: str | None = None) -> Check:
        """A Check of this probe; `aspect` makes a second one (`keys.fal.ci-1.scope`)."""
        check_id = f"{self.id}.{aspect}" if aspect else self.id
        return Check(check_id, self.category, self.provider, subject or self.subject, finding)


@dataclass(frozen=True)
class DoctorOptions:
    """What the user asked of `genctl doctor`."""

    providers: tuple[str, ...] = registry.NAMES  # --provider narrows it to one
    provider_flag: str | None = None
    models: tuple[str, ...] = ()  # -m/--model, repeatable: only these models are checked
    offline: bool = False  # local checks only: nothing is sent
    live: bool = False  # one real (billed) generation per provider
    timeout: float = DEFAULT_TIMEOUT
    config_path: Path | None = None  # the global --config, for saying which file was (or would be) read

    def __post_init__(self) -> None:
        flag_seconds(self.timeout, "--timeout")  # `doctor --timeout inf` would overflow the waits


class DoctorContext:
    """Everything a probe may read: settings, options, the shared HTTP client, catalogues, key states.

    Phase-one checks are in `checks` when late sources (`--live`) build their probes.
    """

    def __init__(
        self,
        settings: Settings,
        options: DoctorOptions,
        *,
        client: httpx.Client | None,
        load_error: GenctlError | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.options = options
        self.client = client
        self.load_error = load_error  # the config file could not be read: settings come from env only
        self.client_error: GenctlError | None = None  # no HTTP client could be made (a CA bundle missing)
        self.clock = clock
        self.checks: list[Check] = []
        self.providers: tuple[str, ...] = options.providers  # those worth probing (genctl.doctor decides)
        # Set on Ctrl-C: a probe that started a paid job (--live) stops waiting and cancels it.
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._catalogs: dict[tuple[str, str | None], Catalog] = {}
        self._views: dict[str, list[KeyView]] = {}
        # What a phase-one source found for a late one, by the late source's own keys (aliases' look-ups).
        self.prefetched: dict[Any, Any] = {}

    def sleep(self, seconds: float) -> None:
        """A sleep for probes that poll: Ctrl-C (`stop`) ends it as a KeyboardInterrupt in the probe's thread,
        which the runner answers by cancelling the remote job."""
        if self.stop.wait(seconds):
            raise KeyboardInterrupt

    @property
    def offline(self) -> bool:
        return self.options.offline or self.client is None

    @property
    def why_offline(self) -> str:
        """Why nothing is sent: `--offline`, or the error that left doctor without an HTTP client."""
        return f"{self.client_error.code}: no HTTP client" if self.client_error else "--offline"

    def keys(self, provider: str) -> list[Key]:
        """The provider's keys, those not set aside by the rotation first (genctl.keys state)."""
        views = self.views(provider)
        return [v.key for v in views if v.state == "usable"] + [v.key for v in views if v.state != "usable"]

    def views(self, provider: str) -> list[KeyView]:
        """The rotation state of each key (read once; doctor never changes it)."""

        with self._lock:
            if provider not in self._views:
                self._views[provider] = pool_for(self.settings, provider).views()
            return self._views[provider]

    def catalog(self, provider: str, key: Key | None) -> Catalog:
        """A catalogue that asks `provider` with `key`; fresh answers (refresh), one try per call."""

        with self._lock:
            found = self._catalogs.get((provider, key.fingerprint if key else None))
            if found is None:
                others = registry.others(provider)
                keys = {p: next(iter(self.settings.providers[p].keys), None) for p in others}
                keys[provider] = key
                found = Catalog(
                    self.settings,
                    client=self.client,
                    keys=keys,
                    refresh=not self.offline,
                    cache_only=self.offline,
                    policy=ONE_TRY,
                )
                self._catalogs[(provider, key.fingerprint if key else None)] = found
            return found

    def check(self, check_id: str) -> Check | None:
        """A phase-one check by id."""
        return next((c for c in self.checks if c.id == check_id), None)


# -- the HTTP exchanges of the probe running on this thread -----------------------------------------------

# A context variable, not a thread-local: a probe that sends calls at once from helper threads (the fal key
# check's three probes) runs them in a copy of its context, so they land in the same log.
_recording: contextvars.ContextVar[tuple[list[dict[str, Any]], dict[int, float]] | None]
_recording = contextvars.ContextVar("genctl_doctor_recording", default=None)


def install_recorder(client: httpx.Client) -> None:
    """Record every exchange `client` makes into the log of the probe running in the calling context."""
    client.event_hooks = {"request": [_on_request], "response": [_on_response]}


def start_recording() -> None:
    _recording.set(([], {}))


def stop_recording() -> list[dict[str, Any]]:
    found = _recording.get()
    _recording.set(None)
    return found[0] if found is not None else []


def _on_request(request: httpx.Request) -> None:
    if (found := _recording.get()) is not None:
        found[1][id(request)] = time.monotonic()


def _on_response(response: httpx.Response) -> None:
    if (found := _recording.get()) is None:
        return
    log, started = found
    request = response.request
    began = started.pop(id(request), None)
    entry: dict[str, Any] = {
        "method": request.method,
        "url": str(request.url),
        "status": response.status_code,
        "ms": round((time.monotonic() - began) * 1000) if began is not None else None,
    }
    request_id = response.headers.get("x-fal-request-id") or response.headers.get("x-request-id")
    if request_id:
        entry["request_id"] = request_id
    if response.status_code >= 400:
        entry["message"] = read_error_body(response).message  # reads the (small) error body now
    log.append(entry)

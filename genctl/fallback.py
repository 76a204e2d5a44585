"""Provider fallback: which providers a generation tries, in order, and which failures let it move on.

`[defaults] fallback = [<providers>]` (env GENCTL_FALLBACK=<a>,<b>) turns it on, in that
order of preference; `--provider` pins one provider and `--no-fallback` turns it off for one run. A
generation moves on to the next provider only when the one it tried cannot serve the request at all:
every key failed (key.*, billing.required: the key pool's all-failed error), a Cloudflare block, the
provider unavailable after retries, a network failure before the request went out (DNS, TLS, connect,
proxy), or — when an alias names the model elsewhere — a model this provider does not have. It never
moves on after the provider accepted the job (that job is waited for, or left for `genctl result`: a
second job would be charged twice), nor for what would fail the same way anywhere or was the model's own
doing (payload.invalid, content.policy, other model.* codes, generation.*), nor for rate.limited (the
key pool waits it out or says when to retry).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from genctl.aliases import Route, routes
from genctl.errors import CODES, GenctlError
from genctl.providers import registry

if TYPE_CHECKING:
    from genctl.plan import GenerationRequest
    from genctl.settings import Settings

# The codes after which another provider may succeed: the first provider could not take the job at all.
FALLBACK_CODES = frozenset(
    {code for code, (exit_code, _) in CODES.items() if exit_code == 3 or code.startswith("network.")}
    | {"blocked.cloudflare", "provider.unavailable", "model.not_found"}
)
_MAX_MESSAGE = 200
T = TypeVar("T")


@dataclass
class Attempt:
    """One provider's try at a generation; `accepted` turns true once the provider has the job."""

    accepted: bool = False


@dataclass(frozen=True)
class Failure:
    """Why one provider could not serve the generation (the `fallbacks` items of --json)."""

    provider: str
    code: str
    message: str

    @classmethod
    def of(cls, provider: str, err: GenctlError) -> Failure:
        return cls(provider, err.code, _one_line(err))

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "code": self.code, "message": self.message}

    def text(self) -> str:
        return f"{registry.label(self.provider)} failed ({self.code}: {self.message})"


def chain(settings: Settings, request: GenerationRequest) -> list[Route]:
    """The providers this request may run on, in order: one unless fallback is on and nothing pins it.

    Only providers listed in `[defaults] fallback` are moved on to; the first is whichever the model and
    the preference order pick (genctl.aliases.routes).
    """
    found = routes(settings, model=request.model, provider=request.provider)
    if request.provider or not request.fallback or not settings.fallback:
        return found[:1]
    return found[:1] + [route for route in found[1:] if route.provider in settings.fallback]


def idle(settings: Settings, request: GenerationRequest) -> list[str]:
    """Providers with a key that could serve this request but that fallback leaves out (off, or not
    listed): a failure's fix names them instead of only "top up"."""
    if request.provider:
        return []
    used = {route.provider for route in chain(settings, request)}
    found = routes(settings, model=request.model, provider=None)
    return [r.provider for r in found if r.provider not in used and settings.providers[r.provider].keys]


def idle_hint(providers: list[str]) -> str:
    names = [*registry.PROVIDERS]
    listed = ", ".join(f'"{name}"' for name in names)
    where = " or ".join(registry.label(name) for name in providers)
    return (
        f" Fallback is off, but {where} could serve this: --provider {providers[0]} for this run, or turn "
        f"fallback on with [defaults] fallback = [{listed}] (env GENCTL_FALLBACK={','.join(names)})."
    )


def first_served(
    chain: list[Route],
    run: Callable[[Route, Attempt, float | None], T],
    *,
    timeout: float | None,
    clock: Callable[[], float] = time.monotonic,
    on_notice: Callable[[str], None] | None = None,
    idle: list[str] | None = None,
) -> tuple[T, list[Failure]]:
    """`run(route, attempt, seconds left)` on each route in turn until one serves; what it returned, and
    the failures before it. The error that ends the chain is raised, annotated with those failures (and,
    when fallback would have moved on to one of the `idle` providers, a fix that says so)."""
    started = clock()
    failures: list[Failure] = []
    for index, route in enumerate(chain):
        attempt = Attempt()
        left = None if timeout is None else timeout - (clock() - started)
        try:
            return run(route, attempt, left), failures
        except GenctlError as err:
            out_of_time = timeout is not None and clock() - started >= timeout
            if index + 1 == len(chain) or out_of_time or not allows(err, accepted=attempt.accepted):
                if idle and index + 1 == len(chain) and allows(err, accepted=attempt.accepted):
                    err.fix = (err.fix or "") + idle_hint(idle)
                raise annotate(err, failures)  # noqa: B904 - the same error, told what failed before it
            failures.append(Failure.of(route.provider, err))
            if on_notice is not None:
                on_notice(moving_on(failures[-1], chain[index + 1]))
    raise AssertionError("a chain always has a first route")


def for_route(request: GenerationRequest, route: Route) -> GenerationRequest:
    """The request with its -p and -i names renamed by the alias's parameter map for this provider."""
    renames = route.renames
    if not renames:
        return request

    def renamed(item: str) -> str:
        name, sep, rest = item.partition("=")
        bare = name.removesuffix(":")  # KEY:=JSON
        return renames[bare] + name[len(bare) :] + sep + rest if bare in renames else item

    return replace(
        request, params=[renamed(i) for i in request.params], inputs=[renamed(i) for i in request.inputs]
    )


def allows(err: GenctlError, *, accepted: bool) -> bool:
    """Whether `err` lets the generation move on to the next provider in its chain."""
    return not accepted and err.code in FALLBACK_CODES and not _maybe_delivered(err)


def _maybe_delivered(err: GenctlError) -> bool:
    """A network failure after the request went out (a read timeout, a dropped connection): a submit may
    have reached the provider and started a paid job, so moving on could pay twice. Only failures before
    anything was sent — DNS, TLS, a refused or timed-out connection, the proxy — are safe."""

    cause = err.__cause__
    if not err.code.startswith("network.") or not isinstance(cause, httpx.TransportError):
        return False
    return not isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.ProxyError)


def moving_on(failure: Failure, route: Route) -> str:
    """The notice when one provider failed and the next is tried (the whole reason comes at the end)."""
    label = registry.label(failure.provider)
    return f"{label} failed ({failure.code}); trying {registry.label(route.provider)} ({route.model})"


def served_elsewhere(failures: list[Failure], provider: str) -> str:
    """`fal.ai failed (key.locked: …); generated on Replicate instead`."""
    return "; ".join(f.text() for f in failures) + f"; generated on {registry.label(provider)} instead"


def annotate(err: GenctlError, failures: list[Failure]) -> GenctlError:
    """The last provider's error, telling what failed before it (message and `details.fallbacks`)."""
    if failures:
        err.details["fallbacks"] = [f.to_json() for f in failures]
        err.message += "".join(f"\nTried first: {f.text()}" for f in failures)
    return err


def _one_line(err: GenctlError) -> str:
    """The error in one short line; for the key pool's all-failed error, the reason of the failing key."""
    keys = err.details.get("keys")
    text = err.message
    if isinstance(keys, list):
        failed = [k for k in keys if isinstance(k, dict) and k.get("code") == err.code and k.get("reason")]
        if failed:
            text = str(failed[0]["reason"])  # it names the key by its label
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"

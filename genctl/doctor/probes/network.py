"""Doctor's connectivity checks: for each provider URL, DNS, TCP connect, TLS and one unauthenticated HTTP
GET, each timed; a failure is mapped by genctl.http like any other transport error (network.dns, .connect,
.tls, .timeout, .proxy), and an answer by the providers' shared mapping (Cloudflare, 429, 5xx)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from genctl import diagnose
from genctl.doctor.probes import Check, DoctorContext, Probe, install_recorder
from genctl.doctor.probes.environment import masked_proxy
from genctl.http import REQUEST_ERRORS, make_client, map_transport_error, proxy_for
from genctl.providers._common import common_error, read_error_body

if TYPE_CHECKING:
    from genctl.errors import GenctlError

# httpcore trace events -> the stage they time (https://www.encode.io/httpcore/extensions/#trace).
_STAGES = {"connection.connect_tcp": "connect", "connection.start_tls": "tls"}


def probes(ctx: DoctorContext) -> list[Probe]:
    found: list[Probe] = []
    for provider in ctx.providers:
        for setting, url in ctx.settings.providers[provider].urls.items():
            probe_id = f"connectivity.{provider}.{setting}"
            subject = host_of(url)

            def run(provider: str = provider, setting: str = setting, url: str = url) -> list[Check]:
                return [
                    Check(
                        f"connectivity.{provider}.{setting}",
                        "connectivity",
                        provider,
                        host_of(url),
                        probe_url(ctx, provider, setting, url),
                    )
                ]

            found.append(Probe(probe_id, "connectivity", provider, subject, run))
    return found


def host_of(url: str) -> str:
    """`api.fal.ai`, or `127.0.0.1:8765` when the port is not the scheme's default."""

    parsed = httpx.URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


def probe_url(ctx: DoctorContext, provider: str, setting: str, url: str) -> diagnose.Finding:

    if ctx.client_error is not None:
        return diagnose.from_error(ctx.client_error).with_details(setting=setting, url=url)
    if ctx.offline:
        return diagnose.unchecked("network.connect", f"{setting} {url} not checked ({ctx.why_offline})")

    parsed = httpx.URL(url)
    https = parsed.scheme == "https"
    port = parsed.port or (443 if https else 80)
    proxy, proxy_var = proxy_for(url)
    timings: dict[str, Any] = {}
    details: dict[str, Any] = {"setting": setting, "url": url}
    if proxy is None:
        began = time.monotonic()
        try:
            addresses = socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            wrapped = httpx.ConnectError(str(exc))
            wrapped.__cause__ = exc  # so genctl.http sees the gaierror, as it would in a real call
            err = map_transport_error(wrapped, provider=provider, url=url)
            return diagnose.from_error(err).with_details(stage="dns", **details)
        timings["dns_ms"] = _ms(began)
        details["addresses"] = sorted({str(info[4][0]) for info in addresses})[:4]
    else:
        details["proxy"] = masked_proxy(proxy)
    trace = _Trace()
    client = _client(ctx)
    try:
        began = time.monotonic()
        with client:
            response = client.get(url, extensions={"trace": trace})
        timings["http_ms"] = trace.ms("http") if trace.ms("http") is not None else _ms(began)
    except REQUEST_ERRORS as exc:  # also gzip garbage, redirect loops, bad URLs
        err = map_transport_error(exc, provider=provider, url=url)
        finding = diagnose.network_finding(err, proxy=details.get("proxy"), proxy_var=proxy_var)
        return finding.with_details(stage=trace.failed or "http", **details, **timings, **trace.timings())
    timings.update(trace.timings())
    answer = _answer_error(response, provider)
    if answer is not None:
        return diagnose.from_error(answer).with_details(stage="http", **details, **timings)
    summary = _summary(response, https=https, timings=timings, proxy=details.get("proxy"))
    return diagnose.ok(f"{setting} {summary}", **details, http_status=response.status_code, **timings)


def _client(ctx: DoctorContext) -> httpx.Client:
    """A client of its own: a fresh connection, so connect and TLS are timed, through the same settings."""

    client = make_client(timeout=ctx.options.timeout, connect_timeout=ctx.options.timeout)
    install_recorder(client)
    return client


def _answer_error(response: httpx.Response, provider: str) -> GenctlError | None:
    """Any HTTP answer proves the host is reachable, unless it is Cloudflare's block, a 429 or a 5xx."""

    if response.status_code < 400:
        return None
    return common_error(response, read_error_body(response), provider=provider, request_id=None)


def _summary(response: httpx.Response, *, https: bool, timings: dict[str, Any], proxy: str | None) -> str:
    parts = []
    if "dns_ms" in timings:
        parts.append(f"DNS {timings['dns_ms']} ms")
    if "connect_ms" in timings:
        parts.append(f"connect {timings['connect_ms']} ms")
    parts.append(
        f"TLS {timings['tls_ms']} ms"
        if "tls_ms" in timings
        else "TLS skipped (http)"
        if not https
        else "TLS via the proxy"
    )
    parts.append(f"HTTP {timings.get('http_ms')} ms")
    via = f" via proxy {proxy}" if proxy else ""
    return f"reachable{via}: HTTP {response.status_code} ({', '.join(parts)})"


def _ms(began: float) -> int:
    return round((time.monotonic() - began) * 1000)


class _Trace:
    """httpcore's `trace` extension: when each stage of the request started, ended or failed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.failed: str | None = None

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        name, _, phase = event.rpartition(".")
        stage = _STAGES.get(name) or ("http" if name.startswith(("http11.", "http2.")) else None)
        if stage is None:
            return
        now = self.clock()
        if phase == "started":
            self.started.setdefault(stage, now)
        elif phase == "complete":
            self.done[stage] = now
        elif phase == "failed" and self.failed is None:
            self.failed = stage

    def ms(self, stage: str) -> int | None:
        if stage in self.started and stage in self.done:
            return round((self.done[stage] - self.started[stage]) * 1000)
        return None

    def timings(self) -> dict[str, int]:
        return {f"{stage}_ms": ms for stage in ("connect", "tls") if (ms := self.ms(stage)) is not None}

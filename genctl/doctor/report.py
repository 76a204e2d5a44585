"""How a doctor report reads: the terminal lines (grouped like `flutter doctor`) and the Markdown report in
the shape of a hand-written diagnosis (summary and root causes, test results, findings per provider, fixes
in priority order, a working curl call per working model). Pure: strings in, strings out; no secret in
either (keys only masked, curl lines use $FAL_KEY / $REPLICATE_API_TOKEN)."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from genctl import __version__, diagnose
from genctl.http import redact, to_curl
from genctl.params import build_params
from genctl.providers import registry
from genctl.providers.factory import get_provider
from genctl.values import Key

if TYPE_CHECKING:
    from genctl.doctor import DoctorReport
    from genctl.doctor.probes import Check
    from genctl.settings import Settings

MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "○"}
TITLES = {
    "environment": "Environment",
    "connectivity": "Connectivity",
    "keys": "Keys",
    "models": "Models",
    "live": "Live generation",
}
EXAMPLE_PROMPT = "a lighthouse at dusk"


def area_title(category: str, provider: str | None) -> str:
    title = TITLES.get(category, category.title())
    return f"{title} · {registry.label(provider)}" if provider else title


def conclusion(report: DoctorReport) -> str:
    """`doctor found 3 problems in 2 areas`, or `no problems found`."""
    problems = report.problems
    if not problems:
        return "no problems found"
    areas = {(c.category, c.provider) for c in problems}
    n, m = len(problems), len(areas)
    return f"doctor found {n} problem{'s' if n != 1 else ''} in {m} area{'s' if m != 1 else ''}"


@dataclass(frozen=True)
class TextLine:
    """One line of the terminal report and how it wraps: `indent` spaces before it, continuation lines
    `hang` spaces further in (under the words after the mark, or after `Fix: `)."""

    text: str
    indent: int = 0
    hang: int = 0

    def __str__(self) -> str:
        return " " * self.indent + self.text


def text_lines(report: DoctorReport, *, verbose: bool = False) -> list[str]:
    """The terminal report as plain lines, unwrapped (what a pipe gets): see `text_rows`."""
    return [str(row) for row in text_rows(report, verbose=verbose)]


def text_rows(report: DoctorReport, *, verbose: bool = False) -> list[TextLine]:
    """The terminal report, like `flutter doctor`: one `[✓] Area (4 checks passed)` line per passing area;
    an area with a warning or a failure lists each of its checks, `Fix:` under each problem; `verbose`
    lists every check of every area and each probe's HTTP exchanges. Then the conclusion."""
    rows: list[TextLine] = []
    hidden = 0
    for (category, provider), checks in report.areas().items():
        status = diagnose.worst(c.finding.status for c in checks)
        if status == "skip" and any(c.finding.status == "ok" for c in checks):
            status = "ok"  # a check that could not be made does not make the area look broken
        title = f"[{MARKS[status]}] {area_title(category, provider)}"
        if status in ("ok", "skip") and not verbose:
            rows.append(TextLine(f"{title} ({_tally(checks)})", hang=4))
            hidden += len(checks)
            continue
        rows.append(TextLine(title, hang=4))
        for check in checks:
            rows += _check_rows(check, verbose=verbose)
    rows += [TextLine(""), TextLine(_closing(report, hidden=hidden), hang=2)]
    return rows


def _check_rows(check: Check, *, verbose: bool) -> list[TextLine]:
    finding = check.finding
    shown = finding.code not in (diagnose.OK_CODE, diagnose.SKIPPED_CODE)
    code = f" [{finding.code}]" if shown else ""
    rows = [TextLine(f"{MARKS[finding.status]}{code} {check.subject}: {finding.message}", indent=4, hang=2)]
    if finding.fix and finding.status != "ok":
        rows.append(TextLine(f"Fix: {finding.fix}", indent=6, hang=5))
    if verbose:
        rows += [TextLine(line, indent=6, hang=2) for line in _exchange_lines(finding.details)]
    return rows


def _tally(checks: list[Check]) -> str:
    """`4 checks passed`, `1 passed, 1 skipped`, `4 checks skipped`."""
    passed = sum(c.finding.status == "ok" for c in checks)
    skipped = len(checks) - passed
    if passed and skipped:
        return f"{passed} passed, {skipped} skipped"
    n = len(checks)
    return f"{n} check{'s' if n != 1 else ''} {'passed' if passed else 'skipped'}"


def _closing(report: DoctorReport, *, hidden: int) -> str:
    """`no problems found (16 checks in 0.8 s: 15 passed, 1 skipped; -v shows each)`."""
    counts = report.summary()
    tally = ", ".join(
        f"{counts[status]} {word}"
        for status, word in (("fail", "failed"), ("warn", "warned"), ("ok", "passed"), ("skip", "skipped"))
        if counts[status]
    )
    hint = "; -v shows each" if hidden else ""
    n = len(report.checks)
    return f"{conclusion(report)} ({n} check{'s' if n != 1 else ''} in {report.seconds:.1f} s: {tally}{hint})"


def _passed(n: int) -> str:
    return "1 check passed" if n == 1 else f"{n} checks passed"


def _exchange_lines(details: dict[str, Any], *, timing: bool = True) -> list[str]:
    """--verbose: each HTTP exchange (status, time, request id, the provider's words) and the probe's time."""
    lines = []
    for exchange in details.get("http") or ():
        line = f"{exchange['method']} {exchange['url']} → HTTP {exchange['status']}"
        if exchange.get("ms") is not None:
            line += f" in {exchange['ms']} ms"
        if exchange.get("request_id"):
            line += f", request id {exchange['request_id']}"
        if exchange.get("message"):
            line += f": {exchange['message']}"
        lines.append(line)
    if details.get("request_id") and not details.get("http"):
        lines.append(f"request id {details['request_id']}")
    if timing and details.get("http") and details.get("elapsed_ms") is not None:
        lines.append(f"took {details['elapsed_ms']} ms")
    return lines


# -- Markdown ----------------------------------------------------------------------------------------------


def markdown(report: DoctorReport, settings: Settings, *, now: datetime | None = None) -> str:
    """The whole report as Markdown, masked keys only: safe to paste into an issue."""

    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# genctl doctor report",
        "",
        f"Generated {when} by genctl {__version__} (Python {platform.python_version()}, {platform.system()}) "
        f"in {report.seconds:.1f} s. Keys appear only masked (`a1b2…9f0e`): this report holds no secret.",
        "",
        *_summary(report),
        *_results_table(report),
        *_details(report),
        *_fixes(report),
        *_working_calls(report, settings),
    ]
    every_key = [key for provider in settings.providers.values() for key in provider.keys]

    return redact("\n".join(lines).rstrip() + "\n", every_key)


def _summary(report: DoctorReport) -> list[str]:
    counts = report.summary()
    total = len(report.checks)
    line = (
        f"**{counts['fail']} failed, {counts['warn']} warning{'s' if counts['warn'] != 1 else ''}, "
        f"{counts['ok']} passed, {counts['skip']} skipped** of {total} checks: {conclusion(report)}."
    )
    lines = ["## Summary", "", line, ""]
    causes = _root_causes(report)
    if causes:
        lines += ["Root causes, most fundamental first:", ""]
        for number, (finding, checks) in enumerate(causes, start=1):
            where = ", ".join(
                dict.fromkeys(f"{area_title(c.category, c.provider)}: {c.subject}" for c in checks)
            )
            lines.append(f"{number}. **`{finding.code}`** ({finding.status}) — {_one_line(finding.message)}")
            lines.append(f"   Seen in: {where}.")
        lines.append("")
    return lines


def _root_causes(report: DoctorReport) -> list[tuple[diagnose.Finding, list[Check]]]:
    """Problems grouped by (code, fix), failures before warnings, then by diagnose.priority."""
    groups: dict[tuple[str, str], list[Check]] = {}
    for check in report.problems:
        groups.setdefault((check.finding.code, check.finding.fix), []).append(check)
    ordered = sorted(
        groups.values(),
        key=lambda checks: (
            checks[0].finding.status != "fail",
            diagnose.priority(checks[0].finding.code),
        ),
    )
    return [(checks[0].finding, checks) for checks in ordered]


def _results_table(report: DoctorReport) -> list[str]:
    lines = ["## Test results", "", "| check | status | details |", "|---|---|---|"]
    for check in report.checks:
        finding = check.finding
        what = f"{area_title(check.category, check.provider)}: {check.subject}"
        code = f"`{finding.code}`: " if finding.code != diagnose.OK_CODE else ""
        status = f"{MARKS[finding.status]} {finding.status}"
        lines.append(f"| {_cell(what)} | {status} | {_cell(code + finding.message)} |")
    return [*lines, ""]


def _details(report: DoctorReport) -> list[str]:
    lines = ["## Detailed findings", ""]
    sections: dict[str | None, list[Check]] = {}
    for check in report.checks:
        sections.setdefault(check.provider, []).append(check)
    for provider, checks in sections.items():
        lines += [f"### {registry.label(provider) if provider else 'Environment'}", ""]
        for check in checks:
            finding = check.finding
            title = f"{area_title(check.category, None)}: {check.subject}"
            if not finding.problem:
                lines.append(f"- {MARKS[finding.status]} {title} — {_one_line(finding.message)}")
                continue
            lines += ["", f"#### {MARKS[finding.status]} {title} — `{finding.code}`", ""]
            lines.append(f"- **Finding:** {_one_line(finding.message)}")
            if finding.fix:
                lines.append(f"- **Fix:** {_one_line(finding.fix)}")
            for exchange in _exchange_lines(finding.details, timing=False):
                lines.append(f"- **Evidence:** `{exchange}`")
            lines.append("")
        lines.append("")
    return lines


def _fixes(report: DoctorReport) -> list[str]:
    causes = [(finding, checks) for finding, checks in _root_causes(report) if finding.fix]
    if not causes:
        return []
    lines = ["## Fix recommendations, in priority order", ""]
    for number, (finding, checks) in enumerate(causes, start=1):
        subjects = ", ".join(dict.fromkeys(c.subject for c in checks))
        lines.append(f"{number}. {_one_line(finding.fix)} (`{finding.code}`: {subjects})")
    return [*lines, ""]


def _working_calls(report: DoctorReport, settings: Settings) -> list[str]:
    """For each model that passed, the submit request as curl, the key as $FAL_KEY / $REPLICATE_API_TOKEN."""

    lines = ["## Working calls", ""]
    calls = []
    for check in report.checks:
        if check.category != "models" or check.id != f"models.{check.provider}.{check.subject}":
            continue
        if check.finding.status != "ok" or check.provider is None:
            continue
        defaults_check = next((c for c in report.checks if c.id == f"{check.id}.params"), None)
        if defaults_check is not None and defaults_check.finding.status == "fail":
            continue  # the call with the config's defaults would be refused
        provider = get_provider(check.provider, settings.providers[check.provider])
        # A stand-in key: to_curl writes the Authorization header as the env variable, never a key.
        stand_in = Key(
            provider=check.provider, label="stand-in", source="report", _secret="stand-in:stand-in"
        )
        defaults = dict(settings.model_params.get(check.subject, {}))
        params = build_params(prompt=EXAMPLE_PROMPT, defaults=defaults, params=[])
        request = provider.submit_request(model=check.subject, params=params, key=stand_in)
        calls += [
            f"{check.subject} ({registry.label(check.provider)}):",
            "",
            "```sh",
            to_curl(request),
            "```",
            "",
        ]
    if not calls:
        return [*lines, "No model passed its checks, so there is no working call to show.", ""]
    intro = "Each model that passed its checks, as one call (export the key variable first):"
    return [*lines, intro, "", *calls]


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _one_line(text: str) -> str:
    return " ".join(text.split())

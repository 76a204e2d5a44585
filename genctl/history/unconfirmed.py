"""Unconfirmed submits: a paid submit whose answer (with the job id) never arrived, and finding its job.

genctl records the submit just before it goes out (genctl.history.tracking). When the answer is lost — a
timeout after sending, an undecodable body, Ctrl-C or a killed process while the create is held open — the
job may exist at the provider, and be paid for, with no id on this side. `genctl result --pending` (and
`genctl result unconfirmed-…`) looks for it in the provider's own list of recent requests
(genctl.history.remote), with the key that sent it: same model, created within the time window around the
moment it was sent, and, where the provider echoes the input (Replicate), the same input fingerprint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from genctl import deadline as limits
from genctl.errors import GenctlError, error, usage
from genctl.history.remote import list_remote
from genctl.http import RetryPolicy, make_client, send
from genctl.keys import timestamp
from genctl.providers import registry
from genctl.providers.factory import get_provider
from genctl.providers.fal import FalProvider
from genctl.providers.listing import fal_job, replicate_get_request
from genctl.runner import CANCELLED, cancel

if TYPE_CHECKING:
    from genctl.history import History, JobRecord
    from genctl.providers.base import Job, Provider
    from genctl.providers.listing import RemoteRequest
    from genctl.settings import Settings
    from genctl.values import Key


def input_fingerprint(params: Mapping[str, Any]) -> str:
    """sha256 of the input's canonical JSON (keys sorted, no spaces): the same input gives the same
    fingerprint on either side (genctl before sending, the provider's echo of it)."""
    text = json.dumps(dict(params), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


log = logging.getLogger("genctl.history")
CANCEL_LOOKUP = 5.0  # seconds Ctrl-C during a held create may spend finding its job and cancelling it

# The window around the moment the submit was sent in which its job's creation time must fall. Wide on
# purpose: the provider's clock and ours may differ, and a create may be held open (Prefer: wait) or slow.
# UNVERIFIED: how far the providers' clocks drift from a user's; no artifact says.
_BARE_VERSION = re.compile(r"[0-9a-f]{64}")
BEFORE_SENT = 120.0  # seconds
AFTER_SENT = 600.0  # seconds


def resolve(
    settings: Settings,
    history: History,
    record: JobRecord,
    key: Key,
    *,
    transport: httpx.BaseTransport | None = None,
) -> JobRecord:
    """Find the job of the unconfirmed submit `record` in its provider's recent requests, with the `key`
    that sent it, and adopt it: the row takes the job's id (`genctl result ID` then works on it). Raises
    `output.expired` when no request matches (the fix: the dashboard), usage.invalid when several do."""

    chosen = settings.providers[record.provider]
    only_this_key = dataclasses.replace(
        settings, providers={**settings.providers, record.provider: dataclasses.replace(chosen, keys=(key,))}
    )
    listing = list_remote(
        only_this_key,
        history,
        record.provider,
        model=record.model,
        since=record.submitted_at - BEFORE_SENT,
        only_unrecorded=True,
    )
    near = [row.request for row in listing.rows if _near(record, row.request)]
    provider = get_provider(record.provider, chosen)
    api_url = {**registry.info(record.provider).default_urls, **chosen.urls}["api_url"]
    found: list[tuple[Job, bool | None]] = []  # (the job, whether its input matches; None: not known)
    with make_client(
        timeout=chosen.timeout, connect_timeout=chosen.connect_timeout, transport=transport
    ) as c:
        for request in near:
            found.append(_job_of(provider, c, api_url, record, key, request.request_id))
    same = [job for job, matches in found if matches]
    maybe = same or [job for job, matches in found if matches is None]
    if len(maybe) == 1:
        history.confirm(record.request_id, maybe[0])
        return history.find(maybe[0].request_id) or record
    if maybe:
        listed = ", ".join(job.request_id for job in maybe[:5])
        raise usage(
            f"The unconfirmed submit {_described(record)} matches {len(maybe)} {record.provider} requests: "
            f"{listed}.",
            fix="`genctl result ID` adopts the one you mean (compare them in the provider's dashboard).",
        )
    raise error(
        "output.expired",
        f"No {record.provider} request matches the unconfirmed submit {_described(record)}: the submit may "
        f"never have reached {record.provider}.",
        fix=f"Check {_dashboard(record.provider)} for a {record.model} job from then before running it "
        "again; `genctl history --remote "
        f"{record.provider}` lists its recent requests.",
        provider=record.provider,
        request_id=record.request_id,
    )


def _described(record: JobRecord) -> str:
    return f"{record.request_id} ({record.model}, sent {timestamp(record.submitted_at)})"


def _near(record: JobRecord, request: RemoteRequest) -> bool:
    """The listed request is of the record's model and was created in the window around its sending."""
    # A bare Replicate version id names no model the listing shows: the input fingerprint decides then.
    named = not _BARE_VERSION.fullmatch(record.model)
    if named and request.model is not None and _model_name(request.model) != _model_name(record.model):
        return False
    created = _epoch(request.created_at)
    if created is None:
        return False
    return record.submitted_at - BEFORE_SENT <= created <= record.submitted_at + AFTER_SENT


def _model_name(model: str) -> str:
    """`owner/name` of a Replicate `owner/name:version` (the listing names the model without version)."""
    return model.split(":", 1)[0].strip("/")


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _job_of(
    provider: Provider,
    client: httpx.Client,
    api_url: str,
    record: JobRecord,
    key: Key,
    request_id: str,
) -> tuple[Job, bool | None]:
    """The listed request as a Job to follow, and whether its input is the one sent (None: unknown)."""
    if record.provider == registry.REPLICATE.name:
        # The prediction echoes its input as sent (replicate-api.md §1.4; the recorded creates show the
        # same object back): the fingerprint tells jobs apart.
        ask = replicate_get_request(api_url, key, request_id)
        response = send(client, ask, policy=RetryPolicy(), provider=record.provider)
        if not response.is_success:
            raise provider.error_from_response(response, key=key)
        job, _ = provider.parse_submit(response, model=record.model, key=key)
        body = response.json()
        inputs = body.get("input") if isinstance(body, dict) else None
        if not isinstance(inputs, dict) or record.input_fingerprint is None:
            return job, None  # the input is deleted with the outputs after an hour (§1.6)
        return job, input_fingerprint(inputs) == record.input_fingerprint
    # fal: the queue URLs follow from the endpoint and the id (fal-api.md §1.2); the listing carries the
    # input only with expand=payloads, which genctl's listing does not ask for: model and time decide.
    assert isinstance(provider, FalProvider)
    return fal_job(provider, record.model, request_id, key), None


def _dashboard(provider: str) -> str:
    # UNVERIFIED: the pages where each provider's web UI lists an account's requests.
    pages = {
        registry.REPLICATE.name: "https://replicate.com/predictions",
        registry.FAL.name: "https://fal.ai/dashboard/requests",
    }
    return pages.get(provider, f"the {provider} dashboard")


def cancel_lost(
    settings: Settings,
    history: History,
    placeholder: str,
    key: Key,
    *,
    provider: Provider,
    client: httpx.Client,
) -> GenctlError | None:
    """Ctrl-C while a create was held open (no job id yet): find the job as `genctl result --pending` would,
    and cancel it, within CANCEL_LOOKUP seconds. The error to report then; None when the job was not found
    in time (its unconfirmed row stays, for `genctl result --pending`)."""
    record = history.find(placeholder)
    if record is None or not record.unconfirmed:
        return None
    try:
        with limits.limit(CANCEL_LOOKUP, f"the cancel's {CANCEL_LOOKUP:g} s", fresh=True):
            adopted = resolve(settings, history, record, key)
    except (GenctlError, sqlite3.Error, OSError) as exc:
        log.debug("the job of %s was not found to cancel it: %r", placeholder, exc)
        return None
    rid = adopted.request_id
    try:
        with limits.limit(CANCEL_LOOKUP, f"the cancel's {CANCEL_LOOKUP:g} s", fresh=True):
            stopped = cancel(provider=provider, client=client, job=adopted.job(), key=key)
    except GenctlError as failure:
        return error(
            "interrupted",
            f"Interrupted while submitting; the job {rid} was found, but cancelling it failed "
            f"({failure.code}).",
            fix=f"`genctl result {rid} --wait` finishes it, or cancel it on the provider.",
            provider=record.provider,
            request_id=rid,
            details={"cancel": f"cancelling it failed ({failure.code})", "pending": True},
        )
    note = CANCELLED if stopped else "the remote job had already finished"
    err = error(
        "interrupted",
        f"Interrupted while submitting; {note} (request {rid}).",
        fix="Run the command again to start a new generation."
        if stopped
        else f"`genctl result {rid}` saves its outputs.",
        provider=record.provider,
        request_id=rid,
        details={"cancel": note, "pending": not stopped},
    )
    if stopped:
        with contextlib.suppress(sqlite3.Error, OSError):
            history.set_status(record.provider, rid, "failed", error_code=err.code, error_message=err.message)
    return err

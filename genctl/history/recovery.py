"""`genctl result`: finish a job from its history row, and explain a result that can no longer be had.

A row is enough to finish a job that a killed run, a full disk or `--no-wait` left behind: its status and
result are fetched again with the key that submitted it (found in the configured keys by fingerprint), and
every output without a local file is downloaded. A result the provider no longer keeps is `output.expired`
with when it was lost and how long that provider keeps results.

Hidden `.part` files: a download killed outright (SIGKILL, power loss) leaves its temp file, never a final
file (genctl.download writes atomically). `genctl result` deletes the job's own `.part` files in the folder
it saves to, once untouched for `STALE_PART_AGE` (a live download writes to its file continuously); a
plain `generate` leaves other files alone.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl import spend
from genctl.catalog import preflight
from genctl.download import output_name
from genctl.errors import GenctlError, ModelError, error
from genctl.history import History
from genctl.history.remote import adopt, not_found
from genctl.history.tracking import Tracker, output_entries, result_size
from genctl.history.unconfirmed import resolve
from genctl.http import make_client
from genctl.keys import iso, timestamp
from genctl.providers import registry
from genctl.providers.base import Output
from genctl.providers.factory import get_provider
from genctl.runner import fetch_result, follow
from genctl.saving import save_one
from genctl.waiting import WaitPlan

if TYPE_CHECKING:
    import httpx

    from genctl.history import History, JobRecord, Status
    from genctl.providers.base import Output, Provider, Result
    from genctl.runner import Event
    from genctl.settings import Settings
    from genctl.values import Key

STALE_PART_AGE = 120.0  # seconds a .part file must be untouched before `genctl result` deletes it
# Errors that say how the job itself ended (a network error or a key problem says nothing about it).
_JOB_ENDINGS = frozenset(
    {"generation.failed", "generation.canceled", "generation.aborted", "output.expired"}
    | {"content.policy", "payload.invalid"}
)


@dataclass(frozen=True)
class RecoveredOutput:
    """One output of a recovered job: where it is now, and whether this run downloaded it."""

    url: str | None
    path: str | None
    content_type: str | None
    bytes: int | None
    downloaded: bool
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "url": self.url,
            "path": self.path,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "downloaded": self.downloaded,
        }
        return data if self.value is None else {**data, "value": self.value}


@dataclass(frozen=True)
class Recovery:
    """What `genctl result` found: the job's status and, once it succeeded, its outputs."""

    record: JobRecord
    status: str  # succeeded, or submitted / queued / running while the job is not done
    outputs: list[RecoveredOutput]
    queue_position: int | None = None

    def to_json(self) -> dict[str, Any]:
        record = self.record
        return {
            "ok": True,
            "status": self.status,
            "provider": record.provider,
            "model": record.model,
            "request_id": record.request_id,
            "queue_position": self.queue_position,
            "outputs": [output.to_json() for output in self.outputs],
            "key_label": record.key_label,
            "cost": record.cost_detail,  # as history recorded it (genctl.spend)
        }


def recover(
    settings: Settings,
    request_id: str,
    *,
    output_dir: Path | None = None,
    wait: bool = False,
    history: History | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    model: str | None = None,
) -> Recovery:
    """Fetch the job `request_id` (or a unique prefix of it) names in history and save what is missing;
    one genctl never recorded is adopted first (a fal request needs its endpoint, `model`)."""

    history = history if history is not None else History()
    record = history.find(request_id)
    if record is None and adopt(settings, history, request_id, endpoint=model):  # never recorded
        record = history.find(request_id)
    if record is None:
        raise not_found(history, request_id, model)
    if record.unconfirmed:  # sent, its answer lost: find the job in the provider's list first
        record = resolve(settings, history, record, key_of(settings, record))
    dest = output_dir or (Path(record.output_dir) if record.output_dir else settings.output_dir)
    clean_parts(dest, record)
    provider_settings = settings.providers[record.provider]
    provider = get_provider(record.provider, provider_settings)
    with make_client(
        timeout=provider_settings.timeout, connect_timeout=provider_settings.connect_timeout
    ) as c:
        fetched = _fetch(
            settings, record, provider, c, history=history, wait=wait, on_event=on_event, sleep=sleep
        )
        if isinstance(fetched, Recovery):
            return fetched
        outputs, key = fetched
        saved = _save_missing(
            record, outputs, provider, key, c, history=history, dest=dest, on_bytes=on_bytes
        )
    if output_dir is not None:  # -o DIR: the files saved elsewhere are wanted there too
        saved = [_copied_into(output_dir, item) for item in saved]
    return Recovery(record=history.find(record.request_id) or record, status="succeeded", outputs=saved)


def _fetch(
    settings: Settings,
    record: JobRecord,
    provider: Provider,
    client: httpx.Client,
    *,
    history: History,
    wait: bool,
    on_event: Callable[[Event], None] | None,
    sleep: Callable[[float], None],
) -> Recovery | tuple[Sequence[Output], Key | None]:
    """The job's outputs (and the key to download them with), or a Recovery saying it is not done yet.

    A row that already holds the output URLs needs no call to the provider: only the files are fetched.
    """

    missing = record.missing_outputs()
    if record.status == "succeeded" and not any(record.outputs[i - 1].get("inline") for i in missing):
        outputs = [
            Output(url=o.get("url"), content_type=o.get("content_type"), value=o.get("value"))
            for o in record.outputs
        ]
        return outputs, _key_or_none(settings, record)
    key = key_of(settings, record)
    job = record.job()
    tracker = Tracker.of_job(history, job, ())

    def track(event: Event) -> None:
        tracker.event(event)
        if on_event is not None:
            on_event(event)

    try:
        if wait:
            result: Result | None = follow(
                provider=provider,
                client=client,
                job=job,
                key=key,
                on_event=track,
                sleep=sleep,
                waiting=WaitPlan.for_provider(provider.name),
            )
        else:
            status, result = fetch_result(provider=provider, client=client, job=job, key=key, sleep=sleep)
            if result is None:  # not done yet: fetch_result raises for a job that ended badly
                state: Status = "queued" if status.state == "queued" else "running"
                tracker.status(state)
                fresh = history.find(record.request_id) or record
                return Recovery(record=fresh, status=state, outputs=[], queue_position=status.queue_position)
    except KeyboardInterrupt as exc:
        raise error(
            "interrupted",
            f"Stopped waiting for {record.request_id}; the job goes on at {record.provider}.",
            fix=f"`genctl result {record.request_id} --wait` picks it up again.",
            provider=record.provider,
            request_id=record.request_id,
        ) from exc
    except GenctlError as err:
        final = expired(err, record) if err.code == "output.expired" else err
        if isinstance(err, ModelError):  # a wrong endpoint path shows only on the result (fal-api.md §2.2)
            final = preflight.explain(
                err, settings=settings, model=record.model, provider=record.provider, key=key, client=client
            )
        if final.code in _JOB_ENDINGS:
            tracker.failed(final)
        if final is err:
            raise
        raise final from err
    assert result is not None
    entries = output_entries(result.outputs)
    for index, old in enumerate(record.outputs[: len(entries)]):
        if old.get("path") and Path(old["path"]).is_file():  # saved by an earlier run: keep it
            entries[index].update(path=old["path"], bytes=old.get("bytes"))
    tracker.status(
        "succeeded",
        outputs=entries,
        result_bytes=result_size(result.raw),
        error_code=None,
        error_message=None,
        **spend.recovered(settings, record, key, client, result),
    )
    return result.outputs, key


def _copied_into(dest: Path, item: RecoveredOutput) -> RecoveredOutput:
    """`item` with its file copied into `dest` when it was saved in another folder (no network: the
    provider may no longer hold it); an existing file of that name in `dest` is kept as it is."""
    if item.path is None or not Path(item.path).is_file():
        return item
    source = Path(item.path)
    target = dest / source.name
    if target.resolve() == source.resolve():
        return item
    dest.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(source, target)
    return replace(item, path=str(target))


def _save_missing(
    record: JobRecord,
    outputs: Sequence[Output],
    provider: Provider,
    key: Key | None,
    client: httpx.Client,
    *,
    history: History,
    dest: Path,
    on_bytes: Callable[[int], None] | None,
) -> list[RecoveredOutput]:
    """Download each output with no local file into `dest`; every output, where it is now."""

    fresh = history.find(record.request_id) or record
    tracker = Tracker.of_job(history, fresh.job(), ())
    tracker.entries = [dict(entry) for entry in fresh.outputs]
    missing = set(fresh.missing_outputs())
    found: list[RecoveredOutput] = []
    downloaded = False
    for index, output in enumerate(outputs, start=1):
        entry = fresh.outputs[index - 1] if index <= len(fresh.outputs) else {}
        if index not in missing or output.url is None:
            found.append(
                RecoveredOutput(
                    url=entry.get("url", output.url),
                    path=entry.get("path"),
                    content_type=entry.get("content_type") or output.content_type,
                    bytes=entry.get("bytes"),
                    downloaded=False,
                    value=output.value,
                )
            )
            continue
        headers = provider.download_headers(output.url, key=key) if key is not None else {}

        def lost(err: GenctlError) -> GenctlError:
            gone = expired(err, fresh)
            tracker.failed(gone)
            return gone

        saved = save_one(
            client,
            output,
            job=fresh.job(),
            index=index,
            outputs=outputs,
            dest=dest,
            tracker=tracker,
            headers=headers,
            on_bytes=on_bytes,
            on_expired=lost,
        )
        downloaded = True
        found.append(
            RecoveredOutput(
                url=None if output.url.startswith("data:") else output.url,
                path=str(saved.path) if saved.path else None,
                content_type=saved.content_type,
                bytes=saved.bytes,
                downloaded=True,
            )
        )
    if downloaded:
        tracker.all_saved(dest)
    return found


def key_of(settings: Settings, record: JobRecord) -> Key:
    """The configured key that submitted the job (by fingerprint): only its account can read the job."""

    keys = settings.providers[record.provider].keys
    for key in keys:
        if key.fingerprint == record.key_fingerprint:
            return key
    label, provider = record.key_label or "?", record.provider
    also = (
        f" A key labelled {label} is configured, but it is a different key."
        if any(key.label == label for key in keys)
        else ""
    )
    raise error(
        "key.missing",
        f"The {provider} key that submitted request {record.request_id} ({label}, fingerprint "
        f"{record.key_fingerprint}) is not configured any more; only its account can read the job.{also}",
        fix=f"Give genctl that key again ({registry.info(provider).key_env}=…, or "
        f"`genctl keys add {provider} --label {label}`), then run `genctl result {record.request_id}` again.",
        provider=provider,
        request_id=record.request_id,
    )


def _key_or_none(settings: Settings, record: JobRecord) -> Key | None:
    try:
        return key_of(settings, record)
    except GenctlError:
        return None  # fal's output files are public; Replicate's may be too (replicate-api.md §1.6)


def expired(err: GenctlError, record: JobRecord, *, now: float | None = None) -> GenctlError:
    """`output.expired` with when the result was lost and how long the provider keeps results."""

    now = time.time() if now is None else now
    retention = registry.info(record.provider).retention
    keeps, rule = retention.keeps(record.result_bytes), retention.rule
    ended = record.completed_at
    if ended is None:
        lost_at = None
        when = f"it was submitted {timestamp(record.submitted_at, now)} and not seen to finish"
    elif ended + keeps <= now:
        lost_at = ended + keeps
        when = f"it completed {timestamp(ended, now)}, so it was lost at about {timestamp(lost_at, now)}"
    else:
        lost_at = now
        when = (
            f"it completed {timestamp(ended, now)} and is gone before its time (deleted, or another "
            "account's job)"
        )
    return error(
        "output.expired",
        f"{record.provider} no longer holds the result of {record.model} (request {record.request_id}): "
        f"{when}; {rule}.",
        fix="It cannot be recovered: run the generation again (it is charged again). To keep results, let "
        "genctl download them at once, or run `genctl result ID --wait` soon after `--no-wait`.",
        provider=record.provider,
        http_status=err.http_status,
        request_id=record.request_id,
        details={
            "lost_at": iso(lost_at),
            "completed_at": iso(ended),
            "submitted_at": iso(record.submitted_at),
            "retention_seconds": keeps,
            "provider_said": err.message,
        },
    )


def clean_parts(dest: Path, record: JobRecord, *, now: float | None = None) -> list[Path]:
    """Delete the job's own hidden `.part` temp files in `dest` that are older than STALE_PART_AGE."""

    stem = output_name(record.model, record.request_id, 1, None, None).rsplit("-", 1)[0]
    now = time.time() if now is None else now
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for path in dest.glob(f".{stem}-*.part"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime >= STALE_PART_AGE:
                    path.unlink()
                    removed.append(path)
    return removed

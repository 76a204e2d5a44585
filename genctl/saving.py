"""Saving one output of a finished job, and the error when it cannot be saved: how to get it all the same.

Both `generate` (genctl.generation) and `genctl result` (genctl.history.recovery) save outputs this way, so a
full disk or a cut download reads the same from either, and each saved file is recorded as it lands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genctl.download import SavedFile, save_output, write_error
from genctl.errors import GenctlError, error

if TYPE_CHECKING:
    import httpx

    from genctl.history.tracking import Tracker
    from genctl.providers.base import Job, Output


def save_one(
    client: httpx.Client,
    output: Output,
    *,
    job: Job,
    index: int,
    outputs: Sequence[Output],
    dest: Path,
    tracker: Tracker,
    headers: Mapping[str, str],
    on_bytes: Callable[[int], None] | None,
    on_expired: Callable[[GenctlError], GenctlError] | None = None,
) -> SavedFile:
    """Download output `index` (1-based) of `job` into `dest` and record it; a failure says how to recover.

    `on_expired` turns an `output.expired` answer into the caller's own explanation (when it was lost).
    """
    try:
        file = save_output(
            client,
            output,
            dest_dir=dest,
            model=job.model,
            request_id=job.request_id,
            index=index,
            headers=headers,
            on_bytes=on_bytes,
        )
    except GenctlError as err:
        if on_expired is not None and err.code == "output.expired":
            raise on_expired(err) from err
        raise unsaved(err, job, outputs, dest=dest, recorded=tracker.active) from err
    except OSError as exc:
        raise unsaved(exc, job, outputs, dest=dest, recorded=tracker.active) from exc
    except KeyboardInterrupt as exc:  # Ctrl-C, or TERM / HUP / PIPE (genctl.cli makes them one)
        raise interrupted(job, outputs, index=index, recorded=tracker.active) from exc
    tracker.saved(index, file)
    return file


def interrupted(job: Job, outputs: Sequence[Output], *, index: int, recorded: bool) -> GenctlError:
    """Stopped while saving: the job succeeded (and is paid for), so say which it is and how to save it."""
    urls = [o.url for o in outputs if o.url and not o.url.startswith("data:")]
    if recorded:
        fix = (
            f"`genctl result {job.request_id}` saves its outputs (within about an hour, before "
            f"{job.provider} deletes them)."
        )
    else:
        fix = f"The history is off: its outputs stay about an hour at: {' '.join(urls) or '(inline outputs)'}"
    return error(
        "interrupted",
        f"Interrupted while saving output {index} of {len(outputs)}: the job {job.request_id} succeeded "
        "and is paid for.",
        fix=fix,
        provider=job.provider,
        request_id=job.request_id,
        details={"outputs": urls, "pending": False},
    )


_WRITE_HEADS = {
    "space": "Free some space or choose another folder: ",
    "permission": "Make the folder writable or choose another: ",
    "other": "Choose another folder: ",
}


def unsaved(
    exc: GenctlError | OSError, job: Job, outputs: Sequence[Output], *, dest: Path, recorded: bool
) -> GenctlError:
    """The error for outputs of a finished job that could not be saved: how to fetch them all the same."""
    urls = [o.url for o in outputs if o.url and not o.url.startswith("data:")]
    if isinstance(exc, OSError):
        exc = write_error(dest, exc)
    if exc.code == "output.expired":
        exc.request_id = exc.request_id or job.request_id
        return exc
    head = _WRITE_HEADS.get(str(exc.details.get("write")), "") if exc.code == "usage.invalid" else ""
    if recorded:
        fix = (
            f"{head}genctl result {job.request_id} -o OTHER_DIR saves them (within about an hour, before "
            f"{job.provider} deletes them)."
        )
        also = "its output URLs are kept in the history"
    else:
        fix = f"{head}its outputs stay about an hour at: {' '.join(urls) or '(inline outputs only)'}"
        also = "the history is off, so the URLs are listed in the fix"
    return error(
        exc.code,
        f"{exc.message} The job {job.request_id} succeeded; {also}.",
        fix=fix,
        provider=exc.provider or job.provider,
        http_status=exc.http_status,
        request_id=job.request_id,
        details={**exc.details, "outputs": urls},
    )

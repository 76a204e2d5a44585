"""Unconfirmed submits: a paid submit whose answer (with the job id) never arrived, and finding its job.

genctl records the submit just before it goes out (genctl.history.tracking). When the answer is lost — a
timeout after sending, an undecodable body, Ctrl-C or a killed process while the create is held open — the
job may exist at the provider, and be paid for, with no id on this side. `genctl result --pending` (and
`genctl result unconfirmed-…`) looks for it in the provider's own list of recent requests
(genctl.history.remote), with the key that sent it: same model, created within the time window around the
moment it was sent, and, where the provider echoes the input (Replicate), the same input fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def input_fingerprint(params: Mapping[str, Any]) -> str:
    """sha256 of the input's canonical JSON (keys sorted, no spaces): the same input gives the same
    fingerprint on either side (genctl before sending, the provider's echo of it)."""
    text = json.dumps(dict(params), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

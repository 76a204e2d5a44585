"""Slices of a secret's base64 inside text: what a server echoing part of an encoded key leaves in a message.

A server may base64-encode the credentials it was sent (Basic auth, a debug dump) and quote only part of
it, cut anywhere. Every slice of base64 of text holding the secret, once its 1-2 boundary characters are
off, is a substring of the encoding of the secret itself at one of the 3 byte alignments
(`b64(raw[0:])`, `b64(raw[1:])`, `b64(raw[2:])`), standard or URL-safe. `Echoes` finds every run of at
least MIN_ECHO characters of text that is such a substring.

MIN_ECHO = 12 characters are 72 bits of the secret (9 bytes): no ordinary text or unrelated base64 payload
(an image, a request id) shares 12 characters with a key's encoding except by a 2**-72-per-position
accident, so nothing else is ever masked; what a shorter slice can still show is at most 11 characters,
8 bytes, fewer than a fal secret half's 16 bytes or a Replicate token's 30.

Speed (it runs on every error message): the text is probed only every STEP characters for one of the
PROBE-character grams of the forms (a match of MIN_ECHO characters always covers one such probe); a hit is
then extended exactly, left and right, each distinct neighbourhood once. Measured on this project's
shared 2-core box: ~45 ms for 1 MB of prose or of unrelated base64, ~130-160 ms for 1 MB of 28,000 echoes.
"""

from __future__ import annotations

import base64
import functools

MIN_ECHO = 12
STEP = 6
PROBE = MIN_ECHO - STEP + 1  # a match of MIN_ECHO characters holds a whole PROBE gram at a STEP multiple


class Echoes:
    """The base64 forms of some secrets (each with the text that replaces it) and the PROBE-grams that
    index them."""

    def __init__(self, secrets: tuple[tuple[str, str], ...]) -> None:
        forms: dict[str, str] = {}
        for secret, shown in secrets:
            raw = secret.encode("utf-8", "surrogatepass")
            for start in range(3):
                for encode in (base64.b64encode, base64.urlsafe_b64encode):
                    form = encode(raw[start:]).decode("ascii")
                    if len(form) >= MIN_ECHO:
                        forms.setdefault(form, shown)
        self.forms = list(forms.items())
        self.grams: dict[str, list[tuple[int, int]]] = {}
        for index, (form, _) in enumerate(self.forms):
            for offset in range(len(form) - PROBE + 1):
                self.grams.setdefault(form[offset : offset + PROBE], []).append((index, offset))

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, shown) of each maximal run of >= MIN_ECHO characters of `text` found in one form,
        in order, not overlapping."""
        grams = self.grams
        probes = [p for p in range(0, len(text) - PROBE + 1, STEP) if text[p : p + PROBE] in grams]
        found: list[tuple[int, int, str]] = []
        covered = 0  # everything before this is already reported
        # The answer at a probe depends only on the text around it (as far as a form reaches, and not
        # before `covered`): a body repeating one echo thousands of times is worked out once.
        reach = max(len(form) for form, _ in self.forms)
        seen: dict[tuple[str, int], tuple[int, int, str] | None] = {}
        for probe in probes:
            if probe < covered:
                continue
            low = max(covered, probe - reach)
            window = (text[low : probe + reach], probe - low)
            if window in seen:
                known = seen[window]
                best = None if known is None else (probe + known[0], probe + known[1], known[2])
            else:
                best = self._at(text, probe, covered)
                if len(seen) < 1024:
                    seen[window] = None if best is None else (best[0] - probe, best[1] - probe, best[2])
            if best is not None:
                found.append(best)
                covered = best[1]
        return found

    def _at(self, text: str, probe: int, covered: int) -> tuple[int, int, str] | None:
        """The longest match of >= MIN_ECHO characters around the gram at `probe`, not before `covered`."""
        best: tuple[int, int, str] | None = None
        for index, offset in self.grams[text[probe : probe + PROBE]]:
            form, shown = self.forms[index]
            left = min(offset, probe - covered)
            right = min(len(form) - offset, len(text) - probe) - PROBE
            if best is not None and left + PROBE + right <= best[1] - best[0]:
                continue  # cannot beat what was found already
            start = probe - _common_suffix(text, probe, form, offset, left)
            end = probe + PROBE + _common_prefix(text, probe + PROBE, form, offset + PROBE, right)
            if end - start >= MIN_ECHO and (best is None or end - start > best[1] - best[0]):
                best = (start, end, shown)
        return best


def _common_prefix(text: str, at: int, form: str, offset: int, most: int) -> int:
    """How many characters (up to `most`) of text[at:] and form[offset:] agree."""
    count = 0
    while count < most and text[at + count] == form[offset + count]:
        count += 1
    return count


def _common_suffix(text: str, at: int, form: str, offset: int, most: int) -> int:
    """How many characters (up to `most`) just before text[at] and form[offset] agree."""
    count = 0
    while count < most and text[at - count - 1] == form[offset - count - 1]:
        count += 1
    return count


@functools.lru_cache(maxsize=32)
def echoes_of(secrets: tuple[tuple[str, str], ...]) -> Echoes:
    """The (cached) index for `secrets`: redaction asks for the same few keys on every message."""
    return Echoes(secrets)


def mask_echoes(text: str, secrets: tuple[tuple[str, str], ...]) -> str:
    """`text` with every slice of >= MIN_ECHO characters of a secret's base64 forms replaced by the text
    shown for that secret; `secrets` is ((secret, shown), …)."""
    if len(text) < MIN_ECHO:
        return text
    found = echoes_of(secrets).spans(text)
    if not found:
        return text
    parts, last = [], 0
    for start, end, shown in found:
        parts += [text[last:start], shown]
        last = end
    parts.append(text[last:])
    return "".join(parts)

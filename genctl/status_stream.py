"""Server-Sent Events, parsed: bytes as they arrive in, whole events out. Pure; no I/O, no clock.

fal's queue status stream (fal-api.md §1.1) is SSE: each event a `data:` line holding a status object,
a comment line every 15 s to keep the connection alive. The parser follows the WHATWG "event stream"
interpretation rules (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
lines end in CRLF, LF or CR, possibly split across chunks; `:` starts a comment; `data` lines of one event
join with newlines; a blank line dispatches the event; an event with no data is not dispatched.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_EOL = re.compile(r"(\r\n|\r|\n)")


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its data (lines joined by `\\n`), type, and the last event id seen."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None  # reconnection time in ms, when the server set it


class SseParser:
    """Feed it chunks of the body; it returns the events each chunk completed. Comments count as activity."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""  # the part of a line not yet ended
        self._after_cr = False  # the last chunk ended in CR: a LF starting the next one belongs to it
        self._first = True  # a UTF-8 BOM may open the stream (and is dropped)
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self.comments = 0  # keep-alive comments seen so far

    def feed(self, chunk: bytes) -> list[SseEvent]:
        text = self._decoder.decode(chunk)
        if self._first and text:
            self._first = False
            text = text.removeprefix("\ufeff")
        events: list[SseEvent] = []
        pieces = _EOL.split(text)
        for index, piece in enumerate(pieces):
            if index % 2 == 0:  # text between line ends
                if piece:
                    self._after_cr = False
                self._line += piece
                continue
            if piece == "\n" and self._after_cr and not self._line:
                self._after_cr = False  # the LF of a CRLF split across two chunks
                continue
            self._after_cr = piece == "\r"
            line, self._line = self._line, ""
            if (event := self._line_done(line)) is not None:
                events.append(event)
        return events

    def _line_done(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value or None
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None  # unknown fields are ignored

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent("\n".join(data), event or "message", self._id, self._retry)

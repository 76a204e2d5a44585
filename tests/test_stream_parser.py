"""The SSE parser (genctl.status_stream): whole events out of any chunking, comments ignored and counted."""

from __future__ import annotations

from genctl.status_stream import SseEvent, SseParser

FAL_LIKE = (
    b": ping\n\n"
    b'data: {"status": "IN_QUEUE", "queue_position": 1}\n\n'
    b": ping\n\n"
    b'data: {"status": "IN_PROGRESS"}\n\n'
    b'data: {"status": "COMPLETED"}\n\n'
)
EXPECTED = [
    SseEvent('{"status": "IN_QUEUE", "queue_position": 1}'),
    SseEvent('{"status": "IN_PROGRESS"}'),
    SseEvent('{"status": "COMPLETED"}'),
]


def parse_in(chunks: list[bytes]) -> tuple[list[SseEvent], int]:
    parser = SseParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events, parser.comments


def test_status_events_come_out_whole_and_keepalives_are_only_counted() -> None:
    assert parse_in([FAL_LIKE]) == (EXPECTED, 2)


def test_an_event_is_dispatched_only_by_its_blank_line() -> None:
    parser = SseParser()
    assert parser.feed(b'data: {"status": "IN_QUEUE"}\n') == []
    assert parser.feed(b"\n") == [SseEvent('{"status": "IN_QUEUE"}')]


def test_every_line_ending_and_a_bom() -> None:
    body = b"\xef\xbb\xbfdata: a\r\n\r\ndata: b\r\rdata: c\n\n"
    assert parse_in([body]) == ([SseEvent("a"), SseEvent("b"), SseEvent("c")], 0)


def test_fields_multi_line_data_and_what_is_ignored() -> None:
    body = (
        b"event: status\nid: 7\nretry: 1500\ndata: first\ndata:second\nunknown: x\ndata\n\n"
        b"event: empty\n\n"  # no data: not dispatched
        b"data: after\n\n"
    )
    assert parse_in([body]) == (
        [
            SseEvent("first\nsecond\n", event="status", id="7", retry=1500),
            SseEvent("after", event="message", id="7", retry=1500),  # the id and retry persist
        ],
        0,
    )


def test_a_multibyte_character_split_across_chunks() -> None:
    text = 'data: {"log": "caf\u00e9 \u2713"}\n\n'.encode()
    cut = text.index(b"\xc3") + 1
    assert parse_in([text[:cut], text[cut:]]) == ([SseEvent('{"log": "caf\u00e9 \u2713"}')], 0)


def test_any_chunking_gives_the_same_events() -> None:
    # Every way of cutting the body in three (every byte boundary, every pair): exhaustive, not sampled.
    n = len(FAL_LIKE)
    for a in range(n + 1):
        for b in range(a, n + 1, 3):
            assert parse_in([FAL_LIKE[:a], FAL_LIKE[a:b], FAL_LIKE[b:]]) == (EXPECTED, 2), (a, b)


def test_crlf_split_anywhere_never_makes_an_extra_event() -> None:
    lines = ["a", "", "b c", '{"x": 1}']
    for eol in ("\n", "\r\n", "\r"):
        raw = ("".join(f"data: {line}{eol}" for line in lines) + eol).encode()
        for size in range(1, 8):
            chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
            assert parse_in(chunks) == ([SseEvent("\n".join(lines))], 0), (eol, size)

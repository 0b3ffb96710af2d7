"""The CRI log writer and reader: records, partial lines, timestamps, tail, since, streams, follow."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest

from kybernetes.kubelet.runtimes.crilog import (
    CriLogWriter,
    LogRecord,
    format_record,
    format_timestamp,
    parse_line,
    parse_timestamp,
    read_log,
)

BASE_NS = 1_700_000_000 * 1_000_000_000


def ticking_clock(step_ns: int = 1_000_000_000) -> itertools.count[int]:
    return itertools.count(BASE_NS, step_ns)


def writer(path: Path, **kwargs: object) -> CriLogWriter:
    clock = ticking_clock()
    return CriLogWriter(path, clock=lambda: next(clock), **kwargs)  # type: ignore[arg-type]


async def records(path: Path, **kwargs: object) -> list[LogRecord]:
    return [r async for r in read_log(path, **kwargs)]  # type: ignore[arg-type]


def test_timestamps_round_trip() -> None:
    assert format_timestamp(BASE_NS + 5) == "2023-11-14T22:13:20.000000005Z"
    assert parse_timestamp("2023-11-14T22:13:20.000000005Z") == BASE_NS + 5
    assert parse_timestamp("2023-11-14T22:13:20Z") == BASE_NS
    assert parse_timestamp("2023-11-14T22:13:20.5Z") == BASE_NS + 500_000_000
    assert parse_timestamp("2023-11-14T23:13:20.000000001+01:00") == BASE_NS + 1
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


def test_writer_lines_partials_and_streams(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "c.log"
    w = writer(path, max_line=8)
    w.write("stdout", b"one\ntw")
    w.write("stderr", b"err\n")
    w.write("stdout", b"o\n0123456789abcdefXY\n")
    w.write("stdout", b"tail")
    w.close()
    lines = path.read_bytes().splitlines()
    parsed = [parse_line(line) for line in lines]
    assert all(p is not None for p in parsed)
    got = [(p.stream, p.partial, p.content) for p in parsed if p]
    assert got == [
        ("stdout", False, b"one"),
        ("stderr", False, b"err"),
        ("stdout", False, b"two"),
        ("stdout", True, b"01234567"),
        ("stdout", True, b"89abcdef"),
        ("stdout", False, b"XY"),
        ("stdout", True, b"tail"),  # EOF without a newline
    ]
    assert lines[0].startswith(b"2023-11-14T22:13:20.000000000Z stdout F one")
    assert w.closed


def test_format_record_and_malformed_lines() -> None:
    record = parse_line(b"2023-11-14T22:13:20.000000000Z stdout F hello world\n")
    assert record is not None and record.content == b"hello world" and record.time == BASE_NS / 1e9
    assert format_record(record) == b"hello world\n"
    assert format_record(record, timestamps=True) == b"2023-11-14T22:13:20.000000000Z hello world\n"
    empty = parse_line(b"2023-11-14T22:13:20.000000000Z stderr F")
    assert empty is not None and empty.content == b""
    partial = parse_line(b"2023-11-14T22:13:20.000000000Z stdout P abc")
    assert partial is not None and format_record(partial) == b"abc"
    assert parse_line(b"garbage") is None
    assert parse_line(b"2023-11-14T22:13:20Z stdin F x") is None
    assert parse_line(b"notatime stdout F x") is None


async def test_read_tail_since_streams(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    path.write_bytes(b"not a record\n")  # skipped (tail counts the file's lines, as the kubelet does)
    w = writer(path)
    for i in range(10):
        w.write("stdout" if i % 2 == 0 else "stderr", f"line {i}\n".encode())
    w.close()
    everything = await records(path)
    assert [r.content for r in everything] == [f"line {i}".encode() for i in range(10)]
    assert [r.content for r in await records(path, tail=3)] == [b"line 7", b"line 8", b"line 9"]
    assert await records(path, tail=0) == []
    assert len(await records(path, tail=100)) == 10
    since = (BASE_NS + 6 * 1_000_000_000) / 1e9
    assert [r.content for r in await records(path, since=since)] == [
        b"line 6",
        b"line 7",
        b"line 8",
        b"line 9",
    ]
    assert [r.content for r in await records(path, tail=5, since=since)] == [
        b"line 6",
        b"line 7",
        b"line 8",
        b"line 9",
    ]
    exact = BASE_NS + 6 * 1_000_000_000
    assert [r.content for r in await records(path, since_ns=exact + 1)] == [b"line 7", b"line 8", b"line 9"]
    assert [r.content for r in await records(path, streams=("stderr",), tail=4)] == [b"line 7", b"line 9"]
    assert await records(tmp_path / "missing.log") == []


async def test_tail_over_many_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    w = writer(path)
    w.write("stdout", b"".join(f"{i:05d} {'x' * 100}\n".encode() for i in range(2000)))
    w.close()
    last = await records(path, tail=150)
    assert len(last) == 150 and last[0].content.startswith(b"01850") and last[-1].content.startswith(b"01999")


async def test_follow_until_stopped_and_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    w = CriLogWriter(path)
    w.write("stdout", b"before\n")
    stop = asyncio.Event()
    seen: list[bytes] = []
    got_two = asyncio.Event()
    got_rotated = asyncio.Event()

    async def consume() -> None:
        async for record in read_log(path, tail=1, follow=True, stop=stop, poll_interval=0.02):
            seen.append(record.content)
            if len(seen) == 3:
                got_two.set()
            if record.content == b"rotated":
                got_rotated.set()

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    w.write("stdout", b"after 1\nafter")  # the incomplete line is not yielded until its newline
    w.write("stdout", b" 2\n")
    await asyncio.wait_for(got_two.wait(), 5)
    w.close()
    os.rename(path, tmp_path / "c.log.1")  # rotation: a new file appears under the same name
    w2 = CriLogWriter(path)
    w2.write("stderr", b"rotated\n")
    w2.close()
    await asyncio.wait_for(got_rotated.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == [b"before", b"after 1", b"after 2", b"rotated"]


async def test_follow_waits_for_a_missing_file_and_reads_what_came_before_stop(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    stop = asyncio.Event()

    async def collect() -> list[bytes]:
        return [r.content async for r in read_log(path, follow=True, stop=stop, poll_interval=0.02)]

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.05)
    w = CriLogWriter(path)
    w.write("stdout", b"hello\n")
    w.close()
    stop.set()  # set at once: the final read still picks the record up
    assert await asyncio.wait_for(task, 5) == [b"hello"]

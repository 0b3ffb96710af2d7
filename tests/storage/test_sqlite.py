"""SQLite-only behaviour: durability under SIGKILL, reopening, slow watchers, chunked compaction, close."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from kybernetes.storage import sqlite as sqlite_module
from kybernetes.storage.interface import StorageError
from kybernetes.storage.sqlite import SQLiteStore, prefix_end

TIMEOUT = 10.0

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from kybernetes.storage.sqlite import SQLiteStore

    async def main() -> None:
        store = SQLiteStore(sys.argv[1])
        await store.start()

        async def writer(w: int) -> None:
            for i in range(1_000_000):
                key = f"/d/{w}/{i:07d}"
                await store.create(key, b"x" * 200)
                sys.stdout.write(key + "\\n")
                sys.stdout.flush()

        await asyncio.gather(*(writer(w) for w in range(8)))

    asyncio.run(main())
    """
)


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(path), stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        while len(acked) < 3000:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, "writer exited early"
            acked.append(line.decode().strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest = await asyncio.wait_for(proc.stdout.read(), 30)  # lines acknowledged before the kill
        await asyncio.wait_for(proc.wait(), 30)
    acked += [line for line in rest.decode().splitlines() if line.endswith(tuple("0123456789"))]
    assert proc.returncode == -signal.SIGKILL

    store = SQLiteStore(path)
    await store.start()
    try:
        present = {kv.key for kv in (await store.range("/d/")).kvs}
        missing = [key for key in acked if key not in present]
        assert not missing, f"{len(missing)} acknowledged keys lost, e.g. {missing[:5]}"
        revision = await store.current_revision()
        assert revision >= len(present) >= len(acked)
        kv = await store.create("/d/after-restart", b"y")
        assert kv.mod_revision == revision + 1
    finally:
        await store.close()


async def test_state_and_revision_persist_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(path, synchronous="FULL")
    await store.start()
    await store.create("/p/a", b"1")
    await store.create("/p/b", b"2")
    await store.delete("/p/a")
    await store.compact(3)  # removes the newest row (the delete): the revision must not go back
    await store.close()

    store = SQLiteStore(path)
    await store.start()
    try:
        assert await store.current_revision() == 3
        assert await store.compacted_revision() == 3
        assert [kv.key for kv in (await store.range("/p/")).kvs] == ["/p/b"]
        assert await asyncio.to_thread(_count_rows, store.path) == 1
        again = await store.create("/p/a", b"3")
        assert again.mod_revision == 4 and again.create_revision == 4
    finally:
        await store.close()


async def test_slow_watcher_falls_back_to_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "_WATCH_BUFFER", 16)
    monkeypatch.setattr(sqlite_module, "_WATCH_PAGE", 7)
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    events = store.watch("/s/", after_revision=0)
    try:
        await store.create("/s/0", b"v")
        first = await asyncio.wait_for(anext(events), TIMEOUT)  # subscribed and live
        assert first.revision == 1
        for i in range(1, 300):  # nobody reads meanwhile: the 16-event buffer overflows many times
            await store.create(f"/s/{i}", b"v")
        got = [await asyncio.wait_for(anext(events), TIMEOUT) for _ in range(299)]
        assert [e.revision for e in got] == list(range(2, 301))
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await store.close()


async def test_compaction_in_many_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "_COMPACT_CHUNK", 10)
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    try:
        kvs = [await store.create(f"/k/{i:02d}", b"0") for i in range(20)]
        for round_ in range(3):
            kvs = [
                await store.update(kv.key, str(round_).encode(), expected_mod_revision=kv.mod_revision)
                for kv in kvs
            ]
        for kv in kvs[:5]:
            await store.delete(kv.key)
        rev = await store.current_revision()
        before = await store.range("/k/")
        await store.compact(rev)
        assert await store.range("/k/") == before
        rows = await asyncio.to_thread(_count_rows, store.path)
        assert rows == 15  # only the live keys' latest rows remain
    finally:
        await store.close()


def _count_rows(path: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0])


async def test_close_ends_watches_and_refuses_calls(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    events = store.watch("/", after_revision=0)
    await store.create("/a", b"1")
    assert (await asyncio.wait_for(anext(events), TIMEOUT)).kv.key == "/a"
    waiting = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.05)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, TIMEOUT)
    with pytest.raises(StorageError):
        await store.create("/b", b"2")


async def test_start_fails_cleanly_on_unusable_path(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-dir" / "state.db")
    with pytest.raises(StorageError):
        await asyncio.wait_for(store.start(), TIMEOUT)


def test_prefix_end() -> None:
    assert prefix_end("/a/") == "/a0"
    assert prefix_end("") is None
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("\ud7ff") == "\ue000"

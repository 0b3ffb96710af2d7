"""One conformance suite for every ``Store`` backend (the ``store`` fixture runs it on SQLite and etcd).

Grouped by behaviour: compare-and-swap writes, revisions, ranges, reads in the past, watches, compaction.
Revisions are only compared relative to ones a test observed (the etcd backend shares one server).
Every wait is bounded with ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kybernetes.storage.interface import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
    Store,
    WatchEvent,
)

TIMEOUT = 10.0


async def take(events: AsyncIterator[WatchEvent], n: int, within: float = TIMEOUT) -> list[WatchEvent]:
    async def collect() -> list[WatchEvent]:
        out: list[WatchEvent] = []
        async for event in events:
            out.append(event)
            if len(out) == n:
                break
        return out

    return await asyncio.wait_for(collect(), within)


async def no_more(events: AsyncIterator[WatchEvent], wait: float = 0.3) -> None:
    """Nothing else arrives within ``wait`` seconds (used after the expected events were taken)."""
    with pytest.raises(asyncio.TimeoutError):
        extra = await asyncio.wait_for(anext(events), wait)
        pytest.fail(f"unexpected extra event {extra}")


async def close(events: AsyncIterator[WatchEvent]) -> None:
    await asyncio.wait_for(events.aclose(), TIMEOUT)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- create / get / update / delete


async def test_create_then_get(store: Store) -> None:
    before = await store.current_revision()
    kv = await store.create("/r/pods/a", b"one")
    assert kv == KeyValue("/r/pods/a", b"one", before + 1, before + 1)
    assert await store.get("/r/pods/a") == kv
    assert await store.get("/r/pods/missing") is None
    assert await store.current_revision() == before + 1


async def test_create_existing_key_fails_without_bumping_revision(store: Store) -> None:
    await store.create("/r/pods/a", b"one")
    rev = await store.current_revision()
    with pytest.raises(KeyExistsError) as info:
        await store.create("/r/pods/a", b"two")
    assert info.value.key == "/r/pods/a"
    assert await store.current_revision() == rev
    assert (await store.get("/r/pods/a")).value == b"one"  # type: ignore[union-attr]


async def test_update_is_compare_and_swap(store: Store) -> None:
    created = await store.create("/r/pods/a", b"one")
    updated = await store.update("/r/pods/a", b"two", expected_mod_revision=created.mod_revision)
    assert updated == KeyValue("/r/pods/a", b"two", created.create_revision, created.mod_revision + 1)
    with pytest.raises(RevisionMismatchError) as info:
        await store.update("/r/pods/a", b"three", expected_mod_revision=created.mod_revision)
    assert info.value.current == updated
    assert await store.get("/r/pods/a") == updated
    assert await store.current_revision() == updated.mod_revision


async def test_update_missing_key_is_not_found(store: Store) -> None:
    with pytest.raises(KeyNotFoundError):
        await store.update("/r/pods/none", b"x", expected_mod_revision=1)
    rev = await store.current_revision()
    with pytest.raises(KeyNotFoundError):
        await store.update("/r/pods/none", b"x", expected_mod_revision=0)
    assert await store.current_revision() == rev
    assert await store.get("/r/pods/none") is None


async def test_delete_returns_last_value_at_deletion_revision(store: Store) -> None:
    created = await store.create("/r/pods/a", b"one")
    updated = await store.update("/r/pods/a", b"two", expected_mod_revision=created.mod_revision)
    with pytest.raises(RevisionMismatchError) as info:
        await store.delete("/r/pods/a", expected_mod_revision=created.mod_revision)
    assert info.value.current == updated
    deleted = await store.delete("/r/pods/a", expected_mod_revision=updated.mod_revision)
    assert deleted == KeyValue("/r/pods/a", b"two", created.create_revision, updated.mod_revision + 1)
    assert await store.get("/r/pods/a") is None
    assert await store.current_revision() == deleted.mod_revision
    with pytest.raises(KeyNotFoundError):
        await store.delete("/r/pods/a")
    with pytest.raises(KeyNotFoundError):
        await store.update("/r/pods/a", b"x", expected_mod_revision=deleted.mod_revision)


async def test_unconditional_delete_and_recreate(store: Store) -> None:
    first = await store.create("/r/pods/a", b"one")
    deleted = await store.delete("/r/pods/a")
    assert deleted.value == b"one" and deleted.mod_revision == first.mod_revision + 1
    again = await store.create("/r/pods/a", b"again")
    assert again.create_revision == again.mod_revision == deleted.mod_revision + 1
    assert await store.get("/r/pods/a") == again


async def test_revisions_increase_by_exactly_one_per_write(store: Store) -> None:
    start = await store.current_revision()
    revs = [(await store.create(f"/r/n/{i}", b"v")).mod_revision for i in range(5)]
    kv = await store.update("/r/n/0", b"w", expected_mod_revision=revs[0])
    revs.append(kv.mod_revision)
    with pytest.raises(KeyExistsError):
        await store.create("/r/n/1", b"dup")
    revs.append((await store.delete("/r/n/1")).mod_revision)
    revs.append((await store.create("/r/n/1", b"back")).mod_revision)
    assert revs == list(range(start + 1, start + 9))
    assert await store.current_revision() == start + 8


async def test_concurrent_updates_exactly_one_wins(store: Store) -> None:
    kv = await store.create("/r/race", b"0")
    results = await asyncio.gather(
        *(store.update("/r/race", str(i).encode(), expected_mod_revision=kv.mod_revision) for i in range(8)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, KeyValue)]
    losers = [r for r in results if isinstance(r, RevisionMismatchError)]
    assert len(winners) == 1 and len(losers) == 7
    assert await store.get("/r/race") == winners[0]


# ---------------------------------------------------------------------- range


async def fill(store: Store, keys: list[str]) -> dict[str, KeyValue]:
    return {key: await store.create(key, key.encode()) for key in keys}


async def test_range_prefix_is_exact_and_sorted(store: Store) -> None:
    await fill(store, ["/r/pods/b", "/r/pods/a", "/r/podsx/z", "/r/pod", "/r/pods/c/d", "/r/pods/\u00e9"])
    result = await store.range("/r/pods/")
    assert [kv.key for kv in result.kvs] == ["/r/pods/a", "/r/pods/b", "/r/pods/c/d", "/r/pods/\u00e9"]
    assert result.count == 4 and result.more is False
    assert result.revision == await store.current_revision()
    everything = await store.range("")
    assert [kv.key for kv in everything.kvs] == sorted(kv.key for kv in everything.kvs)
    assert everything.count == 6
    assert (await store.range("/nothing/")).kvs == []


async def test_range_limit_count_more(store: Store) -> None:
    await fill(store, [f"/r/l/{i:02d}" for i in range(7)])
    page = await store.range("/r/l/", limit=3)
    assert [kv.key for kv in page.kvs] == ["/r/l/00", "/r/l/01", "/r/l/02"]
    assert page.more is True and page.count == 7
    exact = await store.range("/r/l/", limit=7)
    assert len(exact.kvs) == 7 and exact.more is False and exact.count == 7


async def test_range_start_after_paginates_everything(store: Store) -> None:
    keys = [f"/r/p/{i:02d}" for i in range(10)]
    await fill(store, keys)
    first = await store.range("/r/p/", limit=4)
    seen = [kv.key for kv in first.kvs]
    revision = first.revision
    start_after = seen[-1]
    while True:
        page = await store.range("/r/p/", limit=4, start_after=start_after, revision=revision)
        assert page.count == len(keys) - len(seen)  # counts what remains after start_after
        seen += [kv.key for kv in page.kvs]
        if not page.more:
            break
        start_after = page.kvs[-1].key
    assert seen == keys
    tail = await store.range("/r/p/", start_after="/r/p/07")
    assert [kv.key for kv in tail.kvs] == ["/r/p/08", "/r/p/09"] and tail.count == 2
    before_prefix = await store.range("/r/p/", start_after="/r/a")
    assert before_prefix.count == 10


async def test_range_ignores_deleted_keys(store: Store) -> None:
    kvs = await fill(store, ["/r/d/a", "/r/d/b", "/r/d/c"])
    await store.delete("/r/d/b", expected_mod_revision=kvs["/r/d/b"].mod_revision)
    result = await store.range("/r/d/", limit=1)
    assert [kv.key for kv in result.kvs] == ["/r/d/a"] and result.count == 2 and result.more


async def test_reading_at_an_old_revision_sees_old_state(store: Store) -> None:
    a = await store.create("/r/o/a", b"a1")
    b = await store.create("/r/o/b", b"b1")
    old = await store.current_revision()
    await store.update("/r/o/a", b"a2", expected_mod_revision=a.mod_revision)
    await store.delete("/r/o/b", expected_mod_revision=b.mod_revision)
    await store.create("/r/o/c", b"c1")
    then = await store.range("/r/o/", revision=old)
    assert then.kvs == [a, b] and then.revision == old and then.count == 2
    assert await store.get("/r/o/a", revision=old) == a
    assert await store.get("/r/o/c", revision=old) is None
    assert await store.get("/r/o/b", revision=old) == b
    now = await store.range("/r/o/")
    assert [(kv.key, kv.value) for kv in now.kvs] == [("/r/o/a", b"a2"), ("/r/o/c", b"c1")]
    assert (await store.range("/r/o/", revision=old, limit=1)).more is True


async def test_future_revision_raises(store: Store) -> None:
    await store.create("/r/f", b"x")
    future = await store.current_revision() + 100
    with pytest.raises(FutureRevisionError):
        await store.get("/r/f", revision=future)
    with pytest.raises(FutureRevisionError):
        await store.range("/r/", revision=future)


# ---------------------------------------------------------------------- watch


async def test_watch_replays_history_in_order(store: Store) -> None:
    start = await store.current_revision()
    a = await store.create("/w/a", b"a1")
    a2 = await store.update("/w/a", b"a2", expected_mod_revision=a.mod_revision)
    await store.create("/other/x", b"not watched")
    gone = await store.delete("/w/a")
    again = await store.create("/w/a", b"a3")
    b = await store.create("/w/b", b"b1")
    events = store.watch("/w/", after_revision=start)
    try:
        got = await take(events, 5)
        assert [(e.type, e.kv.key, e.kv.value) for e in got] == [
            ("PUT", "/w/a", b"a1"),
            ("PUT", "/w/a", b"a2"),
            ("DELETE", "/w/a", b"a2"),
            ("PUT", "/w/a", b"a3"),
            ("PUT", "/w/b", b"b1"),
        ]
        revisions = [a.mod_revision, a2.mod_revision, gone.mod_revision, again.mod_revision, b.mod_revision]
        assert [e.revision for e in got] == revisions
        assert got[0].kv == a and got[0].prev_kv is None
        assert got[1].kv == a2 and got[1].prev_kv == a
        assert got[2].kv == gone and got[2].prev_kv == a2  # DELETE carries the last value
        assert got[3].kv == again
        await no_more(events)
    finally:
        await close(events)


async def test_watch_from_a_middle_revision(store: Store) -> None:
    a = await store.create("/w/a", b"1")
    await store.update("/w/a", b"2", expected_mod_revision=a.mod_revision)
    events = store.watch("/w/", after_revision=a.mod_revision)
    try:
        (event,) = await take(events, 1)
        assert event.kv.value == b"2" and event.revision == a.mod_revision + 1
    finally:
        await close(events)


async def test_watch_delivers_live_events(store: Store) -> None:
    start = await store.current_revision()
    events = store.watch("/w/", after_revision=start)
    try:
        waiter = asyncio.ensure_future(take(events, 3))
        await asyncio.sleep(0.05)
        kv = await store.create("/w/live", b"1")
        await store.create("/x/ignored", b"1")
        kv2 = await store.update("/w/live", b"2", expected_mod_revision=kv.mod_revision)
        last = await store.delete("/w/live")
        got = await waiter
        assert [e.revision for e in got] == [kv.mod_revision, kv2.mod_revision, last.mod_revision]
        assert [e.type for e in got] == ["PUT", "PUT", "DELETE"]
        assert got[2].kv.value == b"2"
    finally:
        await close(events)


async def test_watch_started_during_concurrent_writes_sees_each_event_once(store: Store) -> None:
    start = await store.current_revision()
    written: list[KeyValue] = []
    some_written = asyncio.Event()

    async def writer(w: int) -> None:
        for i in range(50):
            kv = await store.create(f"/c/{w}/{i:03d}", f"{w}-{i}".encode())
            written.append(kv)
            if len(written) >= 30:
                some_written.set()
            if i % 10 == 0:
                await asyncio.sleep(0)

    writers = [asyncio.ensure_future(writer(w)) for w in range(4)]
    try:
        await asyncio.wait_for(some_written.wait(), TIMEOUT)
        events = store.watch("/c/", after_revision=start)  # starts while the writers still write
        try:
            got = await take(events, 200, within=30)
            await asyncio.wait_for(asyncio.gather(*writers), TIMEOUT)
            await no_more(events)
        finally:
            await close(events)
    finally:
        for task in writers:
            task.cancel()
    revisions = [e.revision for e in got]
    assert revisions == sorted(revisions) and len(set(revisions)) == 200
    assert revisions == list(range(start + 1, start + 201))
    assert {(e.kv.key, e.kv.value, e.revision) for e in got} == {
        (kv.key, kv.value, kv.mod_revision) for kv in written
    }


async def test_many_watchers_each_see_everything(store: Store) -> None:
    start = await store.current_revision()
    watches = [store.watch("/m/", after_revision=start) for _ in range(5)]
    try:
        pending = [asyncio.ensure_future(take(w, 20)) for w in watches]
        for i in range(20):
            await store.create(f"/m/{i:02d}", b"v")
        results = await asyncio.gather(*pending)
        for got in results:
            assert [e.revision for e in got] == list(range(start + 1, start + 21))
    finally:
        for w in watches:
            await close(w)


async def test_closed_watch_stops_iterating(store: Store) -> None:
    start = await store.current_revision()
    events = store.watch("/w/", after_revision=start)
    await store.create("/w/a", b"1")
    await take(events, 1)
    await close(events)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(events), TIMEOUT)


async def test_watch_survives_cancelled_waits(store: Store) -> None:
    start = await store.current_revision()
    events = store.watch("/w/", after_revision=start)
    try:
        for _ in range(3):  # poll with timeouts: cancelling __anext__ must not break the watch
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(anext(events), 0.05)
        kv = await store.create("/w/late", b"1")
        (event,) = await take(events, 1)
        assert event.kv == kv
    finally:
        await close(events)


async def test_closing_the_store_ends_its_watches(store: Store) -> None:
    start = await store.current_revision()
    events = store.watch("/w/", after_revision=start)
    await store.create("/w/a", b"1")
    await take(events, 1)
    waiting = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(store.close(), TIMEOUT)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, TIMEOUT)


# ---------------------------------------------------------------------- compaction


async def test_compaction_forgets_old_revisions_only(store: Store) -> None:
    start = await store.current_revision()
    a = await store.create("/k/a", b"a1")
    b = await store.create("/k/b", b"b1")
    await store.create("/k/c", b"c1")
    a2 = await store.update("/k/a", b"a2", expected_mod_revision=a.mod_revision)
    await store.delete("/k/c")
    old = await store.current_revision()
    snapshot = await store.range("/k/", revision=old)
    b2 = await store.update("/k/b", b"b2", expected_mod_revision=b.mod_revision)

    await store.compact(old)
    assert await store.compacted_revision() == old
    await store.compact(old - 1)  # older than the compacted revision: a no-op
    assert await store.compacted_revision() == old

    with pytest.raises(CompactedError) as info:
        await store.get("/k/a", revision=a.mod_revision)
    assert info.value.compacted == old
    with pytest.raises(CompactedError):
        await store.range("/k/", revision=old - 1)
    events = store.watch("/k/", after_revision=start)
    with pytest.raises(CompactedError):
        await asyncio.wait_for(anext(events), TIMEOUT)
    await close(events)

    # At and after the compacted revision everything still reads the same.
    assert await store.range("/k/", revision=old) == snapshot
    assert await store.get("/k/a", revision=old) == a2
    now = await store.range("/k/")
    assert now.kvs == [a2, b2]
    events = store.watch("/k/", after_revision=old)
    try:
        (event,) = await take(events, 1)
        assert event.kv == b2 and event.prev_kv is not None and event.prev_kv.value == b"b1"
    finally:
        await close(events)


async def test_compact_future_revision_raises(store: Store) -> None:
    await store.create("/k/x", b"1")
    with pytest.raises(FutureRevisionError):
        await store.compact(await store.current_revision() + 10)

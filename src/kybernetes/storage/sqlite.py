"""SQLite backend of the revisioned KV store: the embedded default (kine's log-structured design).

Owns one SQLite database file. Relies only on the stdlib (``sqlite3``, ``threading``) and the contract in
``kybernetes.storage.interface``; the etcd backend next door implements the same contract and both are
checked by ``tests/storage/test_conformance.py``.

Data model
    One append-only log table ``kv``: every successful write appends one row whose ``id`` (an
    ``AUTOINCREMENT`` primary key, so never reused even after compaction) *is* the revision. A row carries
    the key (``name``), ``created``/``deleted`` flags, the key's ``create_revision``, the ``prev_revision``
    it replaced (0 for a first create), the new ``value`` and the ``old_value`` it replaced. For a DELETE
    row ``value`` is the key's last value (``old_value`` stays NULL: it would be the same bytes). A UNIQUE
    index on ``(name, prev_revision)`` makes the database itself refuse two writers building on the same
    previous revision, i.e. compare-and-swap is enforced by SQLite, not only by the check in Python.
    The state at revision ``R`` is, per key, the newest row with ``id <= R`` unless that row is a delete.
    ``compact(R)`` records ``R`` in the ``meta`` table first, then removes (in chunks, interleaved with
    writes) every row ``<= R`` that is a delete or is superseded by a newer row ``<= R``.

Threads
    Nothing touches SQLite on the event loop. One *writer thread* owns the only write connection; writes
    are queued to it and it drains whatever is queued into one ``BEGIN IMMEDIATE … COMMIT`` transaction
    (group commit). Each write is still its own row/revision with its own success or failure; they merely
    share the commit, and no write is acknowledged before that commit returned. Results travel back with a
    single ``call_soon_threadsafe`` per batch. Reads run on a small pool of reader threads, each with its
    own connection (WAL lets them read while the writer writes).

Durability
    WAL mode with ``synchronous=NORMAL`` (the default here): a commit has been ``write()``-n to the WAL
    file before it returns, so an acknowledged write survives ``kill -9`` of this process (the data sits
    in the OS page cache). It is *not* guaranteed to survive power loss or a kernel crash; pass
    ``synchronous="FULL"`` to fsync the WAL on every commit (group commit amortises that fsync).

Watches
    One in-process broadcaster per store: after each committed batch the loop-side callback hands the new
    events, in revision order, to every subscriber whose prefix matches. A watch first subscribes, then
    replays the log table from ``after_revision`` in pages, then switches to the live events, skipping any
    revision it has already delivered; so a write racing with the watch start is delivered exactly once.
    A slow watcher never blocks writers: its buffer is bounded, and on overflow it is dropped and the
    watcher re-reads the missed part from the log table.

Limits
    A database file is owned by one process at a time: writes made by another process would be read, but
    not announced to this process's watchers, and would confuse its cached current revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal

from kybernetes.storage.interface import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    RevisionMismatchError,
    StorageError,
    WatchEvent,
)

__all__ = ["SQLiteStore"]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS kv (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value BLOB,
        old_value BLOB
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS kv_name_prev_revision ON kv (name, prev_revision)",
    "CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)

_SQL_SEQ: Final = "SELECT seq FROM sqlite_sequence WHERE name = 'kv'"
_SQL_COMPACTED: Final = "SELECT value FROM meta WHERE name = 'compact_revision'"
_SQL_SET_COMPACTED: Final = "INSERT OR REPLACE INTO meta (name, value) VALUES ('compact_revision', ?)"
_SQL_LATEST: Final = (
    "SELECT id, deleted, create_revision, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1"
)
_SQL_LATEST_AT: Final = (
    "SELECT id, deleted, create_revision, value FROM kv WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)
_SQL_INSERT: Final = (
    "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, old_value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQL_MIN_ID: Final = "SELECT MIN(id) FROM kv"
_SQL_COMPACT_CHUNK: Final = (
    "DELETE FROM kv WHERE id >= ? AND id <= ? AND (deleted = 1 OR id < "
    "(SELECT MAX(k2.id) FROM kv AS k2 WHERE k2.name = kv.name AND k2.id <= ?))"
)

# Range at a revision: per key the newest row <= revision, unless it is a delete. The correlated form walks
# the (name, id) index in key order, so LIMIT stops the scan early; only matching rows touch the table.
_RANGE_WHERE: Final = (
    " FROM kv AS k WHERE k.name >= ?{upper} AND k.id <= ? AND k.deleted = 0"
    " AND k.id = (SELECT MAX(k2.id) FROM kv AS k2 WHERE k2.name = k.name AND k2.id <= ?)"
)
_SQL_RANGE: Final = {
    bounded: "SELECT k.name, k.value, k.create_revision, k.id"
    + _RANGE_WHERE.format(upper=" AND k.name < ?" if bounded else "")
    + " ORDER BY k.name LIMIT ?"
    for bounded in (False, True)
}
_SQL_COUNT: Final = {
    bounded: "SELECT COUNT(*)" + _RANGE_WHERE.format(upper=" AND k.name < ?" if bounded else "")
    for bounded in (False, True)
}
_SQL_LOG: Final = {
    bounded: "SELECT id, name, created, deleted, create_revision, prev_revision, value, old_value FROM kv"
    " WHERE id > ? AND name >= ?" + (" AND name < ?" if bounded else "") + " ORDER BY id LIMIT ?"
    for bounded in (False, True)
}

_MAX_BATCH: Final = 256  # writes per group commit
_COMPACT_CHUNK: Final = 2000  # log ids examined per compaction step
_WATCH_PAGE: Final = 500  # log rows read per catch-up page
_WATCH_BUFFER: Final = 10_000  # live events buffered per watcher before it falls back to the log

# A write operation runs on the writer thread inside the batch transaction and returns the value for the
# caller plus the event to broadcast (None for non-key writes).
_WriteFn = Callable[..., tuple[Any, WatchEvent | None]]
_Op = tuple[_WriteFn, tuple[Any, ...], "asyncio.Future[Any]"]
_Result = tuple["asyncio.Future[Any]", Any, BaseException | None, WatchEvent | None]
_Row = tuple[Any, ...]


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no upper bound)."""
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be UTF-8 encoded; skip past them
                nxt = 0xE000
            chars[-1] = chr(nxt)
            return "".join(chars)
        chars.pop()
    return None


def _row_event(row: _Row) -> WatchEvent:
    """Turn one log row (id, name, created, deleted, create_revision, prev_revision, value, old_value)."""
    rev, name, created, deleted, create_rev, prev_rev, value, old_value = row
    value = value if value is not None else b""
    kv = KeyValue(name, value, create_rev, rev)
    if deleted:
        return WatchEvent("DELETE", kv, KeyValue(name, value, create_rev, prev_rev))
    if created:
        return WatchEvent("PUT", kv, None)
    old = old_value if old_value is not None else b""
    return WatchEvent("PUT", kv, KeyValue(name, old, create_rev, prev_rev))


class _Subscriber:
    """One live watcher's mailbox; filled on the loop by the broadcaster, drained by its iterator."""

    __slots__ = ("buf", "closed", "overflow", "prefix", "waiter")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.buf: deque[WatchEvent] = deque()
        self.overflow = True  # "read the log before trusting buf": also how a new watch starts
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class SQLiteStore:
    """The ``Store`` contract over one SQLite file. See the module docstring for the design.

    ``path``: the database file (created if missing). ``synchronous``: SQLite's ``synchronous`` pragma,
    ``"NORMAL"`` (durable against process crashes) or ``"FULL"`` (also against power loss).
    ``readers``: number of reader threads/connections.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        readers: int = 2,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = os.fspath(path)
        self._synchronous = synchronous
        self._reader_count = max(1, readers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._reader_local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._wcur: sqlite3.Cursor | None = None  # writer thread only
        self._wrev = 0  # writer thread only: revision of the last row inserted
        self._rev = 0  # loop side: newest acknowledged revision
        self._compacted = 0  # loop side: compacted revision
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the database, create the schema and start the writer and reader threads."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._readers = ThreadPoolExecutor(self._reader_count, thread_name_prefix="kyb-sqlite-read")
        self._writer = threading.Thread(target=self._writer_main, name="kyb-sqlite-write", daemon=True)
        ready: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put((self._op_init, (), ready))
        self._writer.start()
        try:
            self._rev, self._compacted = await ready
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Finish queued writes, stop the threads, close the connections and end every watch."""
        if self._loop is None or self._closed:
            return
        self._closed = True
        self._queue.put(None)
        writer, readers = self._writer, self._readers
        if writer is not None:
            await asyncio.to_thread(writer.join)
        await asyncio.sleep(0)  # let the last batch's completion callback run
        if readers is not None:
            await asyncio.to_thread(readers.shutdown, True)
        with self._reader_lock:
            conns, self._reader_conns = self._reader_conns, []
        for conn in conns:
            conn.close()
        for sub in self._subscribers:
            sub.closed = True
            sub.wake()
        self._subscribers.clear()

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, cached_statements=64)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA cache_size = -32768")  # 32 MiB
        conn.execute("PRAGMA temp_store = MEMORY")
        return conn

    def _reader(self) -> sqlite3.Cursor:
        cur: sqlite3.Cursor | None = getattr(self._reader_local, "cur", None)
        if cur is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = 1")
            with self._reader_lock:
                self._reader_conns.append(conn)
            cur = self._reader_local.cur = conn.cursor()
        return cur

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._loop is None or self._readers is None or self._closed:
            raise StorageError("SQLiteStore is not started" if not self._closed else "SQLiteStore is closed")
        return await self._loop.run_in_executor(self._readers, fn, *args)

    # ------------------------------------------------------------------ writer thread

    def _writer_main(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            self._wcur = conn.cursor()
            for stmt in _SCHEMA:
                self._wcur.execute(stmt)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            self._fail_all(StorageError(f"cannot open {self.path}: {exc}"))
            return
        get, get_nowait = self._queue.get, self._queue.get_nowait
        stopping = False
        while not stopping:
            op = get()
            if op is None:
                break
            batch = [op]
            while len(batch) < _MAX_BATCH:
                try:
                    nxt = get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            self._deliver(self._run_batch(batch))
        conn.close()

    def _fail_all(self, exc: StorageError) -> None:
        while True:
            op = self._queue.get()
            if op is None:
                return
            self._deliver([(op[2], None, exc, None)])

    def _run_batch(self, batch: Sequence[_Op]) -> list[_Result]:
        cur = self._wcur
        assert cur is not None
        try:
            cur.execute("BEGIN IMMEDIATE")
            row = cur.execute(_SQL_SEQ).fetchone()
            self._wrev = row[0] if row else 0
        except sqlite3.Error as exc:
            err = StorageError(f"sqlite: cannot begin write transaction: {exc}")
            return [(fut, None, err, None) for _, _, fut in batch]
        results: list[_Result] = []
        for fn, args, fut in batch:
            try:
                value, event = fn(cur, *args)
            except StorageError as exc:
                results.append((fut, None, exc, None))
                continue
            except sqlite3.IntegrityError as exc:  # only the failed statement is rolled back
                results.append((fut, None, StorageError(f"sqlite: {exc}"), None))
                continue
            except Exception as exc:  # sqlite3.Error: the transaction may be gone; fail the whole batch
                self._rollback(cur)
                err = StorageError(f"sqlite: {exc!r}")
                return [(f, None, err, None) for _, _, f in batch]
            results.append((fut, value, None, event))
        try:
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(cur)
            err = StorageError(f"sqlite: commit failed: {exc}")
            return [(f, None, err, None) for _, _, f in batch]
        return results

    @staticmethod
    def _rollback(cur: sqlite3.Cursor) -> None:
        with contextlib.suppress(sqlite3.Error):
            cur.execute("ROLLBACK")

    def _deliver(self, results: list[_Result]) -> None:
        loop = self._loop
        assert loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
            loop.call_soon_threadsafe(self._complete, results)

    # Write operations: run on the writer thread inside the batch transaction (cursor first).

    def _op_init(self, cur: sqlite3.Cursor) -> tuple[tuple[int, int], None]:
        row = cur.execute(_SQL_COMPACTED).fetchone()
        return (self._wrev, row[0] if row else 0), None

    def _insert(
        self,
        cur: sqlite3.Cursor,
        key: str,
        created: int,
        deleted: int,
        create_rev: int,
        prev_rev: int,
        value: bytes,
        old_value: bytes | None,
    ) -> int:
        rev = self._wrev + 1
        cur.execute(_SQL_INSERT, (rev, key, created, deleted, create_rev, prev_rev, value, old_value))
        self._wrev = rev
        return rev

    def _op_create(self, cur: sqlite3.Cursor, key: str, value: bytes) -> tuple[KeyValue, WatchEvent]:
        row = cur.execute(_SQL_LATEST, (key,)).fetchone()
        if row is not None and not row[1]:
            raise KeyExistsError(key)
        try:
            rev = self._insert(cur, key, 1, 0, self._wrev + 1, row[0] if row else 0, value, None)
        except sqlite3.IntegrityError:
            raise KeyExistsError(key) from None
        kv = KeyValue(key, value, rev, rev)
        return kv, WatchEvent("PUT", kv, None)

    def _op_update(
        self, cur: sqlite3.Cursor, key: str, value: bytes, expected: int
    ) -> tuple[KeyValue, WatchEvent]:
        row = cur.execute(_SQL_LATEST, (key,)).fetchone()
        if row is None or row[1]:
            raise KeyNotFoundError(key)
        prev_rev, _, create_rev, old_value = row
        old = KeyValue(key, old_value, create_rev, prev_rev)
        if prev_rev != expected:
            raise RevisionMismatchError(key, old)
        try:
            rev = self._insert(cur, key, 0, 0, create_rev, prev_rev, value, old_value)
        except sqlite3.IntegrityError:
            raise RevisionMismatchError(key, None) from None
        kv = KeyValue(key, value, create_rev, rev)
        return kv, WatchEvent("PUT", kv, old)

    def _op_delete(self, cur: sqlite3.Cursor, key: str, expected: int | None) -> tuple[KeyValue, WatchEvent]:
        row = cur.execute(_SQL_LATEST, (key,)).fetchone()
        if row is None or row[1]:
            raise KeyNotFoundError(key)
        prev_rev, _, create_rev, value = row
        old = KeyValue(key, value, create_rev, prev_rev)
        if expected is not None and prev_rev != expected:
            raise RevisionMismatchError(key, old)
        try:
            rev = self._insert(cur, key, 0, 1, create_rev, prev_rev, value, None)
        except sqlite3.IntegrityError:
            raise RevisionMismatchError(key, None) from None
        kv = KeyValue(key, value, create_rev, rev)
        return kv, WatchEvent("DELETE", kv, old)

    def _op_mark_compacted(self, cur: sqlite3.Cursor, revision: int) -> tuple[int, None]:
        cur.execute(_SQL_SET_COMPACTED, (revision,))
        row = cur.execute(_SQL_MIN_ID).fetchone()
        return (row[0] or 0) if row else 0, None

    def _op_compact_chunk(self, cur: sqlite3.Cursor, lo: int, hi: int, revision: int) -> tuple[int, None]:
        cur.execute(_SQL_COMPACT_CHUNK, (lo, hi, revision))
        return cur.rowcount, None

    # ------------------------------------------------------------------ loop side of writes

    def _complete(self, results: list[_Result]) -> None:
        for fut, value, exc, event in results:
            if event is not None:
                self._rev = event.kv.mod_revision
                self._broadcast(event)
            if fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(value)

    async def _write(self, fn: _WriteFn, *args: Any) -> Any:
        if self._loop is None or self._closed:
            raise StorageError("SQLiteStore is not started" if not self._closed else "SQLiteStore is closed")
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put((fn, args, fut))
        return await fut

    async def create(self, key: str, value: bytes) -> KeyValue:
        result: KeyValue = await self._write(self._op_create, key, bytes(value))
        return result

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int) -> KeyValue:
        result: KeyValue = await self._write(self._op_update, key, bytes(value), expected_mod_revision)
        return result

    async def delete(self, key: str, *, expected_mod_revision: int | None = None) -> KeyValue:
        result: KeyValue = await self._write(self._op_delete, key, expected_mod_revision)
        return result

    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision``; reading or watching before it raises CompactedError.

        Compacting at or below the current compacted revision is a no-op; above the current revision it
        raises FutureRevisionError. The row removal runs in chunks interleaved with other writes.
        """
        if revision <= self._compacted:
            return
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        low: int = await self._write(self._op_mark_compacted, revision)
        self._compacted = max(self._compacted, revision)
        for lo in range(low, revision + 1, _COMPACT_CHUNK):
            await self._write(self._op_compact_chunk, lo, min(lo + _COMPACT_CHUNK - 1, revision), revision)

    # ------------------------------------------------------------------ reads

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compacted

    def _check_revision(self, revision: int) -> None:
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)

    def _after_read(self, revision: int) -> None:
        # Compaction records its revision on the loop before it deletes any row: if it is still <= the
        # revision we read at, no row that read needed can have been removed while it ran.
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)

    def _read_get(self, key: str, revision: int) -> KeyValue | None:
        cur = self._reader()
        if revision:
            row = cur.execute(_SQL_LATEST_AT, (key, revision)).fetchone()
        else:
            row = cur.execute(_SQL_LATEST, (key,)).fetchone()
        if row is None or row[1]:
            return None
        return KeyValue(key, row[3], row[2], row[0])

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        if revision:
            self._check_revision(revision)
        kv: KeyValue | None = await self._read(self._read_get, key, revision)
        if revision:
            self._after_read(revision)
        return kv

    def _read_range(
        self, lower: str, upper: str | None, revision: int, limit: int
    ) -> tuple[list[KeyValue], int]:
        cur = self._reader()
        bounded = upper is not None
        bounds: tuple[Any, ...] = (lower, upper) if bounded else (lower,)
        fetch = limit + 1 if limit > 0 else -1
        rows = cur.execute(_SQL_RANGE[bounded], (*bounds, revision, revision, fetch)).fetchall()
        kvs = [KeyValue(name, value, crev, rev) for name, value, crev, rev in rows]
        if limit <= 0 or len(kvs) <= limit:
            return kvs, len(kvs)
        (count,) = cur.execute(_SQL_COUNT[bounded], (*bounds, revision, revision)).fetchone()
        return kvs[:limit], count

    async def range(
        self, prefix: str, *, start_after: str | None = None, limit: int = 0, revision: int = 0
    ) -> RangeResult:
        if revision:
            self._check_revision(revision)
        at = revision or self._rev
        lower = prefix
        if start_after is not None and start_after + "\x00" > lower:
            lower = start_after + "\x00"
        kvs, count = await self._read(self._read_range, lower, prefix_end(prefix), at, limit)
        self._after_read(at)
        return RangeResult(kvs=kvs, revision=at, more=count > len(kvs), count=count)

    def _read_log(self, prefix: str, upper: str | None, after: int, limit: int) -> list[WatchEvent]:
        cur = self._reader()
        if upper is None:
            rows = cur.execute(_SQL_LOG[False], (after, prefix, limit)).fetchall()
        else:
            rows = cur.execute(_SQL_LOG[True], (after, prefix, upper, limit)).fetchall()
        return [_row_event(row) for row in rows]

    # ------------------------------------------------------------------ watch

    def _broadcast(self, event: WatchEvent) -> None:
        key = event.kv.key
        for sub in self._subscribers:
            if not key.startswith(sub.prefix):
                continue
            if len(sub.buf) >= _WATCH_BUFFER:
                sub.buf.clear()
                sub.overflow = True
            else:
                sub.buf.append(event)
            sub.wake()

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[WatchEvent]:
        return _SQLiteWatch(self, prefix, after_revision)


class _SQLiteWatch:
    """Iterator of one watch: log replay in pages, then live events; dedupes by revision."""

    def __init__(self, store: SQLiteStore, prefix: str, after_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._upper = prefix_end(prefix)
        self._last = after_revision  # newest revision handed to _pending or returned
        self._pending: deque[WatchEvent] = deque()
        self._sub: _Subscriber | None = None
        self._catching_up = False
        self._done = False

    def __aiter__(self) -> _SQLiteWatch:
        return self

    async def __anext__(self) -> WatchEvent:
        store = self._store
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._done:
                raise StopAsyncIteration
            sub = self._sub
            if sub is None:
                if store._closed or store._loop is None:
                    self._done = True
                    raise StopAsyncIteration
                sub = self._sub = _Subscriber(self._prefix)
                store._subscribers.add(sub)
            if sub.overflow:
                # Subscribed first, log read second: everything committed before this point is in the
                # log, everything after it lands in sub.buf.
                sub.overflow = False
                sub.buf.clear()
                self._catching_up = True
            if self._catching_up:
                if sub.closed:
                    await self.aclose()
                    raise StopAsyncIteration
                await self._catch_up_page()
                continue
            if sub.buf:
                event = sub.buf.popleft()
                if event.kv.mod_revision <= self._last:
                    continue
                self._last = event.kv.mod_revision
                return event
            if sub.closed:
                await self.aclose()
                raise StopAsyncIteration
            sub.waiter = asyncio.get_running_loop().create_future()
            try:
                await sub.waiter
            finally:
                sub.waiter = None

    async def _catch_up_page(self) -> None:
        store = self._store
        after = self._last
        try:
            if after < store._compacted:
                raise CompactedError(after, store._compacted)
            page: list[WatchEvent] = await store._read(
                store._read_log, self._prefix, self._upper, after, _WATCH_PAGE
            )
            store._after_read(after)
        except StorageError:  # compacted, or the store closed; a cancellation leaves the watch usable
            await self.aclose()
            raise
        if len(page) < _WATCH_PAGE:
            self._catching_up = False
        if page:
            self._pending.extend(page)
            self._last = page[-1].kv.mod_revision

    async def aclose(self) -> None:
        self._done = True
        self._pending.clear()
        sub, self._sub = self._sub, None
        if sub is not None:
            self._store._subscribers.discard(sub)
            sub.closed = True
            sub.wake()

"""etcd v3 backend of the revisioned KV store.

Owns one gRPC channel to an etcd cluster. Relies on the generated etcd v3 protocol stubs shipped in the
``aetcd`` package (``aetcd.rpc``: ``KVStub``, ``WatchStub`` and the request/response messages) over
``grpc.aio``. The high-level ``aetcd.Client`` is not used: its range helpers lack ``limit``/``revision``,
its error mapping drops the gRPC status the contract needs (compacted vs. future revision), and its
shared watcher serialises watch creation. The SQLite backend next door implements the same contract;
``tests/storage/test_conformance.py`` checks both.

Mapping (keys are ``key_prefix + key`` in etcd, UTF-8 encoded; the prefix is stripped on the way out)
    create  Txn(if create_revision(k) == 0: put k)                  else KeyExistsError
    update  Txn(if mod_revision(k) == expected and exists: put k (prev_kv) else: range k)
            -> RevisionMismatchError(current) / KeyNotFoundError from the failure branch
    delete  Txn(if [mod_revision(k) == expected and] exists: delete k (prev_kv) else: range k); the
            returned KeyValue carries the last value and the deletion revision (the txn header revision)
    range   Range([start, prefix end), limit, revision); start is ``prefix`` or ``start_after + "\\0"``;
            etcd's own ``count``/``more`` match the contract
    watch   one bidirectional Watch stream per watch, ``start_revision = after_revision + 1``,
            ``prev_kv``; a DELETE event is completed from its prev_kv (last value, create revision)
    compact Compaction(revision); at/below the compacted revision it is a no-op, as in SQLiteStore
Errors: gRPC OUT_OF_RANGE "compacted" -> CompactedError, "future revision" -> FutureRevisionError, any
other gRPC failure -> StorageError with the status details.

Endpoints: several IP-literal endpoints become one ``ipv4:``/``ipv6:`` gRPC target (gRPC picks one and
fails over); with host names only the first endpoint is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import grpc
from aetcd import rpc

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

__all__ = ["EtcdStore", "parse_endpoints"]

_CHANNEL_OPTIONS: Final = [
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


def parse_endpoints(endpoints: Sequence[str]) -> list[tuple[str, int]]:
    """``["127.0.0.1:2379", "http://etcd:2379"]`` -> ``[("127.0.0.1", 2379), ("etcd", 2379)]``."""
    parsed: list[tuple[str, int]] = []
    for raw in endpoints:
        text = raw.strip()
        for scheme in ("http://", "https://"):
            if text.startswith(scheme):
                text = text[len(scheme) :]
        text = text.rstrip("/")
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"etcd endpoint must be host:port, got {raw!r}")
        parsed.append((host.strip("[]"), int(port)))
    if not parsed:
        raise ValueError("at least one etcd endpoint is required")
    return parsed


def _grpc_target(endpoints: list[tuple[str, int]]) -> str:
    versions: set[int] = set()
    for host, _ in endpoints:
        try:
            versions.add(ipaddress.ip_address(host).version)
        except ValueError:
            versions.add(0)
    if len(endpoints) > 1 and versions == {4}:
        return "ipv4:" + ",".join(f"{h}:{p}" for h, p in endpoints)
    if len(endpoints) > 1 and versions == {6}:
        return "ipv6:" + ",".join(f"[{h}]:{p}" for h, p in endpoints)
    host, port = endpoints[0]
    return f"[{host}]:{port}" if 6 in versions and ":" in host else f"{host}:{port}"


def _prefix_end(prefix: bytes) -> bytes:
    """etcd's range end for a prefix; ``b"\\0"`` (= to the end of the keyspace) when there is none."""
    buf = bytearray(prefix)
    while buf:
        if buf[-1] < 0xFF:
            buf[-1] += 1
            return bytes(buf)
        buf.pop()
    return b"\0"


class EtcdStore:
    """The ``Store`` contract over etcd v3.

    ``endpoints``: ``host:port`` strings (``http://`` accepted). ``key_prefix``: prepended to every key in
    etcd and stripped from results (namespacing, like ``--etcd-prefix``). ``timeout``: seconds per unary
    call.
    """

    def __init__(self, endpoints: Sequence[str], *, key_prefix: str = "", timeout: float = 30.0) -> None:
        self._target = _grpc_target(parse_endpoints(endpoints))
        self._prefix = key_prefix
        self._bprefix = key_prefix.encode()
        self._timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._kv: Any = None
        self._watch_stub: Any = None
        self._watches: set[_EtcdWatch] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the channel and wait until etcd answers."""
        if self._channel is not None:
            return
        self._channel = grpc.aio.insecure_channel(self._target, options=_CHANNEL_OPTIONS)
        self._kv = rpc.KVStub(self._channel)
        self._watch_stub = rpc.WatchStub(self._channel)
        try:
            await self._call(self._kv.Range, rpc.RangeRequest(key=b"\0", count_only=True), wait=True)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Cancel every open watch and close the channel."""
        for watch in list(self._watches):
            await watch.aclose()
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close(None)

    # ------------------------------------------------------------------ plumbing

    def _key(self, key: str) -> bytes:
        return self._bprefix + key.encode()

    def _name(self, key: bytes) -> str:
        return key[len(self._bprefix) :].decode()

    def _kv_of(self, kv: Any) -> KeyValue:
        return KeyValue(self._name(kv.key), kv.value, kv.create_revision, kv.mod_revision)

    async def _call(self, method: Any, request: Any, *, revision: int = 0, wait: bool = False) -> Any:
        if self._channel is None:
            raise StorageError("EtcdStore is not started")
        try:
            return await method(request, timeout=self._timeout, wait_for_ready=wait)
        except grpc.aio.AioRpcError as exc:
            raise await self._translate(exc, revision) from exc

    async def _translate(self, exc: grpc.aio.AioRpcError, revision: int) -> StorageError:
        details = exc.details() or ""
        if exc.code() == grpc.StatusCode.OUT_OF_RANGE:
            if "compacted" in details:
                return CompactedError(revision, await self.compacted_revision())
            if "future revision" in details:
                return FutureRevisionError(revision, await self.current_revision())
        return StorageError(f"etcd: {exc.code().name}: {details}")

    # ------------------------------------------------------------------ reads

    async def current_revision(self) -> int:
        resp = await self._call(self._kv.Range, rpc.RangeRequest(key=b"\0", count_only=True))
        return int(resp.header.revision)

    async def _readable(self, revision: int) -> bool:
        if self._channel is None:
            raise StorageError("EtcdStore is not started")
        request = rpc.RangeRequest(key=b"\0", count_only=True, revision=revision)
        try:
            await self._kv.Range(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in (exc.details() or ""):
                return False
            raise StorageError(f"etcd: {exc.code().name}: {exc.details()}") from exc
        return True

    async def compacted_revision(self) -> int:
        """etcd does not report it directly: binary-search the oldest readable revision (log2 reads)."""
        if await self._readable(1):
            return 0
        lo, hi = 1, await self.current_revision()  # lo unreadable, hi readable
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if await self._readable(mid):
                hi = mid
            else:
                lo = mid
        return hi

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        resp = await self._call(
            self._kv.Range, rpc.RangeRequest(key=self._key(key), revision=revision), revision=revision
        )
        return self._kv_of(resp.kvs[0]) if resp.kvs else None

    async def range(
        self, prefix: str, *, start_after: str | None = None, limit: int = 0, revision: int = 0
    ) -> RangeResult:
        bprefix = self._key(prefix)
        start = bprefix
        if start_after is not None:
            after = self._key(start_after) + b"\0"
            start = max(start, after)
        if not start:
            start = b"\0"
        request = rpc.RangeRequest(
            key=start, range_end=_prefix_end(bprefix), limit=max(limit, 0), revision=revision
        )
        resp = await self._call(self._kv.Range, request, revision=revision)
        kvs = [self._kv_of(kv) for kv in resp.kvs]
        return RangeResult(
            kvs=kvs, revision=revision or int(resp.header.revision), more=resp.more, count=resp.count
        )

    # ------------------------------------------------------------------ writes

    @staticmethod
    def _exists(key: bytes) -> Any:
        return rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER, create_revision=0)

    @staticmethod
    def _mod_is(key: bytes, revision: int) -> Any:
        return rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=revision)

    async def create(self, key: str, value: bytes) -> KeyValue:
        bkey = self._key(key)
        absent = rpc.Compare(key=bkey, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0)
        request = rpc.TxnRequest(
            compare=[absent], success=[rpc.RequestOp(request_put=rpc.PutRequest(key=bkey, value=value))]
        )
        resp = await self._call(self._kv.Txn, request)
        if not resp.succeeded:
            raise KeyExistsError(key)
        rev = int(resp.header.revision)
        return KeyValue(key, bytes(value), rev, rev)

    def _failed(self, key: str, resp: Any) -> StorageError:
        kvs = resp.responses[0].response_range.kvs if resp.responses else []
        if not kvs:
            return KeyNotFoundError(key)
        return RevisionMismatchError(key, self._kv_of(kvs[0]))

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int) -> KeyValue:
        bkey = self._key(key)
        request = rpc.TxnRequest(
            compare=[self._mod_is(bkey, expected_mod_revision), self._exists(bkey)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=bkey, value=value, prev_kv=True))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=bkey))],
        )
        resp = await self._call(self._kv.Txn, request)
        if not resp.succeeded:
            raise self._failed(key, resp)
        prev = resp.responses[0].response_put.prev_kv
        return KeyValue(key, bytes(value), int(prev.create_revision), int(resp.header.revision))

    async def delete(self, key: str, *, expected_mod_revision: int | None = None) -> KeyValue:
        bkey = self._key(key)
        compare = [self._exists(bkey)]
        if expected_mod_revision is not None:
            compare.insert(0, self._mod_is(bkey, expected_mod_revision))
        request = rpc.TxnRequest(
            compare=compare,
            success=[rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=bkey, prev_kv=True))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=bkey))],
        )
        resp = await self._call(self._kv.Txn, request)
        if not resp.succeeded:
            raise self._failed(key, resp)
        prev_kvs = resp.responses[0].response_delete_range.prev_kvs
        if not prev_kvs:  # cannot happen after the exists compare; be explicit anyway
            raise KeyNotFoundError(key)
        prev = prev_kvs[0]
        return KeyValue(key, prev.value, int(prev.create_revision), int(resp.header.revision))

    async def compact(self, revision: int) -> None:
        """Compact etcd's history at ``revision``; at/below the compacted revision this is a no-op."""
        try:
            await self._call(self._kv.Compact, rpc.CompactionRequest(revision=revision), revision=revision)
        except CompactedError:
            return

    # ------------------------------------------------------------------ watch

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[WatchEvent]:
        return _EtcdWatch(self, prefix, after_revision)

    def _event_of(self, event: Any) -> WatchEvent:
        prev = event.prev_kv
        prev_kv = self._kv_of(prev) if prev.mod_revision else None
        if event.type == rpc.Event.DELETE:
            name = self._name(event.kv.key)
            if prev_kv is None:  # prev_kv already compacted away: the value is unknown
                kv = KeyValue(name, b"", 0, int(event.kv.mod_revision))
            else:
                kv = KeyValue(name, prev_kv.value, prev_kv.create_revision, int(event.kv.mod_revision))
            return WatchEvent("DELETE", kv, prev_kv)
        return WatchEvent("PUT", self._kv_of(event.kv), prev_kv)


class _EtcdWatch:
    """One etcd Watch stream, opened at the first ``__anext__``.

    A reader task owns the stream and feeds a bounded queue (a slow consumer back-pressures the stream
    through gRPC flow control instead of buffering without limit); ``__anext__`` only waits on that
    queue, so cancelling it (``wait_for`` timeouts) never tears the stream down.
    """

    _QUEUE: Final = 256  # watch responses (each with one or more events) buffered per watch

    def __init__(self, store: EtcdStore, prefix: str, after_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._after = after_revision
        self._call: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[list[WatchEvent] | BaseException | None] = asyncio.Queue(self._QUEUE)
        self._pending: deque[WatchEvent] = deque()
        self._done = False

    def __aiter__(self) -> _EtcdWatch:
        return self

    def _open(self) -> None:
        store = self._store
        if store._watch_stub is None:
            raise StorageError("EtcdStore is not started")
        bprefix = store._key(self._prefix)
        create = rpc.WatchCreateRequest(
            key=bprefix or b"\0",
            range_end=_prefix_end(bprefix),
            start_revision=self._after + 1,
            prev_kv=True,
        )
        self._call = store._watch_stub.Watch()
        store._watches.add(self)
        self._reader = asyncio.get_running_loop().create_task(self._read_stream(create))

    async def _read_stream(self, create: Any) -> None:
        call, store, queue = self._call, self._store, self._queue
        item: list[WatchEvent] | BaseException | None = None
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:  # type: ignore[attr-defined]  # grpc-stubs 1.53 does not declare EOF
                    break
                if resp.compact_revision:
                    item = CompactedError(self._after, int(resp.compact_revision))
                    break
                if resp.canceled:
                    item = StorageError(f"etcd: watch canceled: {resp.cancel_reason or 'no reason given'}")
                    break
                if resp.events:
                    await queue.put([store._event_of(ev) for ev in resp.events])
        except asyncio.CancelledError:
            raise
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                item = await store._translate(exc, self._after)
        except Exception as exc:
            item = StorageError(f"etcd: watch failed: {exc!r}")
        await queue.put(item)

    async def __anext__(self) -> WatchEvent:
        while True:
            if self._pending:
                event = self._pending.popleft()
                self._after = event.revision
                return event
            if self._done:
                raise StopAsyncIteration
            if self._call is None:
                self._open()
            item = await self._queue.get()
            if isinstance(item, list):
                self._pending.extend(item)
                continue
            await self.aclose()
            if item is None:
                raise StopAsyncIteration
            raise item

    async def aclose(self) -> None:
        self._done = True
        self._pending.clear()
        self._store._watches.discard(self)
        reader, self._reader = self._reader, None
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        while not self._queue.empty():  # wake a consumer blocked in __anext__: it sees the end
            self._queue.get_nowait()
        self._queue.put_nowait(None)

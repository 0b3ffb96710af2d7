"""The ceilings: raw store writes from this same client process, at the same concurrency as the API run.

* ``etcd_aetcd_puts``   — plain ``Put`` through the aetcd gRPC client (etcd's own write path, nothing else).
* ``etcd_gateway_puts`` — ``POST /v3/kv/put`` on etcd's JSON gateway over pooled HTTP/1.1 (aiohttp).
* ``etcd_store_creates``  — ``kybernetes.storage.etcd.EtcdStore.create`` (the create-if-absent Txn the API
  server issues), i.e. our storage layer without HTTP, auth, validation or encoding.
* ``sqlite_store_creates`` — ``kybernetes.storage.sqlite.SQLiteStore.create`` on a fresh database file.

Values are the bytes of a Pod as the API returned it (so sizes match what the server stores). Keys live
under a per-run prefix so repeated runs never collide. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path

import aetcd
import aiohttp
import orjson

from _load import LoadResult, drive
from kybernetes.storage.etcd import EtcdStore
from kybernetes.storage.sqlite import SQLiteStore


def _host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    if host != "127.0.0.1":
        raise ValueError(f"benchmarks only talk to 127.0.0.1, not {host!r}")
    return host, int(port)


async def etcd_aetcd_puts(
    endpoint: str, *, prefix: str, value: bytes, n: int, concurrency: int, deadline_s: float
) -> LoadResult:
    host, port = _host_port(endpoint)
    options = {"grpc.enable_http_proxy": 0}
    async with aetcd.Client(host=host, port=port, timeout=30, options=options) as client:
        await client.put(f"{prefix}warmup".encode(), value)

        async def op(i: int) -> None:
            await client.put(f"{prefix}{i}".encode(), value)

        return await drive(n, concurrency, op, deadline_s=deadline_s)


async def etcd_gateway_puts(
    endpoint: str, *, prefix: str, value: bytes, n: int, concurrency: int, deadline_s: float
) -> LoadResult:
    host, port = _host_port(endpoint)
    url = f"http://{host}:{port}/v3/kv/put"
    b64_value = base64.b64encode(value).decode()
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def op(i: int) -> None:
            key = base64.b64encode(f"{prefix}{i}".encode()).decode()
            body = orjson.dumps({"key": key, "value": b64_value})
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                data = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"gateway put -> {resp.status}: {data[:300]!r}")

        return await drive(n, concurrency, op, deadline_s=deadline_s)


async def etcd_store_creates(
    endpoint: str, *, prefix: str, value: bytes, n: int, concurrency: int, deadline_s: float
) -> LoadResult:
    _host_port(endpoint)
    store = EtcdStore([endpoint], key_prefix=prefix.rstrip("/"))
    await store.start()
    try:

        async def op(i: int) -> None:
            await store.create(f"/k{i}", value)

        return await drive(n, concurrency, op, deadline_s=deadline_s)
    finally:
        await store.close()


async def sqlite_store_creates(*, value: bytes, n: int, concurrency: int, deadline_s: float) -> LoadResult:
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-sqlite-raw-"))
    store = SQLiteStore(tmp / "state.db")
    await store.start()
    try:

        async def op(i: int) -> None:
            await store.create(f"/registry/pods/bench/p-{i}", value)

        return await drive(n, concurrency, op, deadline_s=deadline_s)
    finally:
        await store.close()
        shutil.rmtree(tmp, ignore_errors=True)

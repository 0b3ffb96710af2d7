"""The watch fan-out: concurrent first watchers share one store watch and see each event once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kybernetes.apiserver.watch import WatchHub
from kybernetes.storage import Store
from kybernetes.storage.sqlite import SQLiteStore


class SlowRevisionStore:
    """Wraps a store so ``current_revision`` yields to the loop, opening any start-up race."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.watches = 0

    async def current_revision(self) -> int:
        await asyncio.sleep(0.01)
        return await self.inner.current_revision()

    def watch(self, prefix: str, *, after_revision: int):  # type: ignore[no-untyped-def]
        self.watches += 1
        return self.inner.watch(prefix, after_revision=after_revision)


async def test_concurrent_first_watchers_share_one_store_watch(tmp_path: Path) -> None:
    inner = SQLiteStore(tmp_path / "s.db")
    await inner.start()
    store = SlowRevisionStore(inner)
    hub = WatchHub(store, "/registry/pods/")  # type: ignore[arg-type]
    start = await inner.current_revision()

    async def collect(n: int) -> list[int]:
        seen: list[int] = []
        async for event in hub.events(start):
            seen.append(event.revision)
            if len(seen) == n:
                break
        return seen

    watchers = [asyncio.create_task(collect(5)) for _ in range(10)]
    await asyncio.sleep(0.1)
    revisions = [(await inner.create(f"/registry/pods/default/p{i}", b"{}")).mod_revision for i in range(5)]
    results = await asyncio.wait_for(asyncio.gather(*watchers), timeout=10)
    assert all(r == revisions for r in results)
    assert store.watches == 1
    await hub.close()
    await inner.close()

"""HTTP/1.1 connection upgrades other than websocket on aiohttp's server: the raw bytes after a 101.

kubectl (and client-go) still speak the classic streaming transport, SPDY/3.1 straight over the upgraded
TCP connection (``Connection: Upgrade``, ``Upgrade: SPDY/3.1``), whenever a websocket attempt fails or
websockets are turned off. aiohttp only upgrades to websocket by itself; ``accept_upgrade`` answers the 101
and hands back an ``UpgradedConnection`` that reads and writes the connection's bytes, the same way
aiohttp's own websocket response takes the connection over (a payload parser that receives every later
byte, writes straight to the transport with the protocol's flow control).

Used by the kubelet's streaming server and the API server's node proxy; nothing here knows SPDY.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

__all__ = ["UpgradedConnection", "accept_upgrade", "is_upgrade_to"]

_HIGH_WATER = 1 << 20  # pause reading the socket past this many unread bytes


def is_upgrade_to(request: web.Request, protocol: str) -> bool:
    """Whether ``request`` asks to upgrade its connection to ``protocol`` (case-insensitive)."""
    upgrade = request.headers.get("Upgrade", "").strip().lower()
    connection = request.headers.get("Connection", "").lower()
    return upgrade == protocol.lower() and "upgrade" in connection


class _RawParser:
    """Takes the place of aiohttp's payload parser once the connection is upgraded."""

    def __init__(self, conn: UpgradedConnection) -> None:
        self._conn = conn

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._conn._received(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._conn._received(None)


class UpgradedConnection:
    """The bytes of an upgraded connection: ``read()`` (b"" at end), ``write()``, ``close()``."""

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._buffered = 0
        self._paused = False
        self._eof = False

    def _received(self, data: bytes | None) -> None:
        if data is None:
            self._eof = True
            self._chunks.put_nowait(None)
            return
        if not data:
            return
        self._chunks.put_nowait(data)
        self._buffered += len(data)
        transport = self._request.transport
        if self._buffered > _HIGH_WATER and not self._paused and transport is not None:
            self._paused = True
            with contextlib.suppress(Exception):
                transport.pause_reading()

    async def read(self) -> bytes:
        if self._eof and self._chunks.empty():
            return b""
        data = await self._chunks.get()
        if data is None:
            self._chunks.put_nowait(None)
            return b""
        self._buffered -= len(data)
        transport = self._request.transport
        if self._paused and self._buffered < _HIGH_WATER // 2 and transport is not None:
            self._paused = False
            with contextlib.suppress(Exception):
                transport.resume_reading()
        return data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while data := await self.read():
            yield data

    async def write(self, data: bytes) -> None:
        transport = self._request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the upgraded connection is closed")
        transport.write(data)
        # the same back-pressure aiohttp's websocket writer applies
        await self._request.protocol._drain_helper()

    def close(self) -> None:
        transport = self._request.transport
        if transport is not None:
            transport.close()
        self._received(None)


async def accept_upgrade(
    request: web.Request, protocol: str, headers: Mapping[str, str] | None = None
) -> tuple[web.StreamResponse, UpgradedConnection]:
    """Answer ``101 Switching Protocols`` to ``protocol`` and take the connection over.

    The handler must return the response once it is done with the connection (and close it)."""
    response = web.StreamResponse(
        status=101,
        reason="Switching Protocols",
        headers={"Connection": "Upgrade", "Upgrade": protocol, **(headers or {})},
    )
    await response.prepare(request)
    conn = UpgradedConnection(request)
    # aiohttp types set_parser for its HTTP parsers only; the raw-bytes parser has the same feed_data duck type
    request.protocol.set_parser(_RawParser(conn))  # type: ignore[arg-type]
    return response, conn

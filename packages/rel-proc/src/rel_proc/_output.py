"""Captured output that keeps its head and tail within a byte budget."""

from __future__ import annotations

import asyncio


class BoundedOutput:
    """Accumulates a stream; beyond ``limit`` bytes keeps the first and last halves.

    With ``limit=None`` everything is kept. Memory stays within about ``limit``
    plus one read chunk whatever the stream's length.
    """

    __slots__ = ("_chunks", "_head", "_head_size", "_size", "_tail", "_tail_size", "limit", "omitted")

    def __init__(self, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"max_output must be an int >= 0 or None, got {limit!r}")
        self.limit = limit
        self.omitted = 0
        self._chunks: list[bytes] = []
        self._size = 0
        self._head = bytearray()
        self._head_size = 0 if limit is None else limit // 2
        self._tail = bytearray()
        self._tail_size = 0 if limit is None else limit - limit // 2

    def feed(self, data: bytes) -> None:
        """Add a chunk of the stream."""
        if self.limit is None:
            self._chunks.append(data)
            self._size += len(data)
            return
        room = self._head_size - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        excess = len(self._tail) - self._tail_size
        if excess > 0:
            del self._tail[:excess]
            self.omitted += excess

    def getvalue(self) -> bytes:
        """The kept bytes: everything, or the head followed by the tail."""
        if self.limit is None:
            return b"".join(self._chunks)
        return bytes(self._head + self._tail)

    async def drain(self, stream: asyncio.StreamReader | None, chunk: int = 1 << 16) -> None:
        """Read ``stream`` to its end into this buffer."""
        if stream is None:
            return
        while data := await stream.read(chunk):
            self.feed(data)

"""A response body read within bounds: a wall-clock deadline for the whole answer and a cap on its size after
gzip / deflate are undone.

A socket timeout bounds each read, not the call: an endpoint that drips a byte a second holds it for hours. And
a 200 KB gzip answer can unpack to gigabytes. The arXiv client and the OpenAI-compatible client feed each chunk
they receive to a `Body`, which raises as soon as either bound is passed (the feeds have their own, in
`bounded_get`, as httpx streams them).
"""

from __future__ import annotations

import time
import zlib


class TooLarge(OSError):
    """An answer past its size cap (an OSError, so callers treat it as any failed request)."""


class Body:
    """The bytes of one answer, decoded as they arrive; raises `TooLarge` or `TimeoutError` past a bound."""

    def __init__(self, what: str, max_bytes: int, timeout_seconds: float, encoding: str = "") -> None:
        self.what = what
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.deadline = time.monotonic() + timeout_seconds
        encoding = encoding.strip().lower()
        # 32 + 15: zlib reads the gzip or zlib header itself; "deflate" is zlib-wrapped in practice.
        self._inflate = zlib.decompressobj(32 + 15) if encoding in ("gzip", "x-gzip", "deflate") else None
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Take one received chunk (decoding it when the answer is compressed)."""
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"{self.what} took longer than {self.timeout_seconds:g} s")
        if self._inflate is not None:
            try:
                # At most one byte past the room left: enough to know the cap is passed, never a bomb's worth.
                chunk = self._inflate.decompress(chunk, self.max_bytes - self._size + 1)
            except zlib.error:
                raise OSError(f"{self.what}: a compressed answer that does not decompress") from None
        self._size += len(chunk)
        if self._size > self.max_bytes:
            raise TooLarge(f"{self.what} answered more than {self.max_bytes} bytes")
        self._chunks.append(chunk)

    def content(self) -> bytes:
        """Everything received, decoded."""
        return b"".join(self._chunks)

"""COMPRESS=DEFLATE (RFC 4978): raw DEFLATE streams in both directions after the OK.

Implementation notes:
- Output: ``Deflater.compress`` ends every write with Z_SYNC_FLUSH (RFC 4978 §4), so what
  the session flushes (a tagged answer, an IDLE push) can be decoded as soon as it arrives.
  The session writes only in ``Session.flush()`` (and the shutdown BYE), both through here.
- Input: ``Inflater`` runs a task that inflates what the connection's reader delivers and
  feeds a new ``StreamReader``, which the session reads instead of the old one.
- Decompression bombs: a few KB on the wire can inflate to gigabytes. The pump inflates at
  most ``PIECE`` bytes per step (``max_length``) and stops while the new reader holds more
  than twice its limit: the reader's own flow control calls ``pause_reading`` on what it
  believes is its transport (``_Valve``) and ``resume_reading`` once the session has read
  the buffer down. A literal the session asked for (already checked against the limits)
  is the only thing allowed to fill the buffer beyond that, as without compression.
- A corrupt stream ends the session: the reader raises ``CorruptStream`` (a
  ``ConnectionError``), which the session logs and answers with BYE.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib

PIECE = 64 * 1024  # bytes inflated per step


class CorruptStream(ConnectionError):
    """The client's DEFLATE stream cannot be inflated."""


class Deflater:
    """The server-to-client direction."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw DEFLATE: no zlib header

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)


class _Valve:
    """Stands in for the transport of the inflated reader: its flow control opens and
    closes the valve, and the pump waits on it before inflating more."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    def pause_reading(self) -> None:
        self.open.clear()

    def resume_reading(self) -> None:
        self.open.set()


class Inflater:
    """The client-to-server direction: ``reader`` yields the inflated bytes of ``source``."""

    def __init__(self, source: asyncio.StreamReader, limit: int) -> None:
        self.reader = asyncio.StreamReader(limit=limit)
        self._valve = _Valve()
        self.reader.set_transport(self._valve)  # type: ignore[arg-type]
        self._task = asyncio.ensure_future(self._pump(source))

    async def _pump(self, source: asyncio.StreamReader) -> None:
        z = zlib.decompressobj(-15)
        try:
            while not z.eof:
                pending = await source.read(PIECE)
                if not pending:
                    break
                while True:
                    await self._valve.open.wait()
                    out = z.decompress(pending, PIECE)
                    pending = z.unconsumed_tail
                    if out:
                        self.reader.feed_data(out)
                    if z.eof or (not pending and len(out) < PIECE):
                        break
        except zlib.error as exc:
            self.reader.set_exception(CorruptStream(f"corrupt DEFLATE data: {exc}"))
            return
        except (ConnectionError, ssl.SSLError) as exc:
            self.reader.set_exception(exc)
            return
        # The connection closed, or the client ended its DEFLATE stream: both end input.
        self.reader.feed_eof()

    def close(self) -> None:
        self._task.cancel()

"""A small COMPRESS=DEFLATE (RFC 4978) client on imaplib, which has no COMPRESS of its own:
after ``OK``, everything it sends is raw DEFLATE with a sync flush, and what it reads is
inflated from the socket. The rest is plain imaplib (LOGIN, SELECT, FETCH, APPEND…)."""

from __future__ import annotations

import imaplib
import io
import zlib

# imaplib refuses commands it does not know; COMPRESS is valid once authenticated.
imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))


class _Inflating(io.RawIOBase):
    """Inflates a raw DEFLATE byte stream read from ``source`` (a buffered socket file)."""

    def __init__(self, source: io.BufferedReader) -> None:
        super().__init__()
        self.source = source
        self.z = zlib.decompressobj(-15)
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            chunk = self.source.read1(65536)
            if not chunk:
                return 0
            self.pending = self.z.decompress(chunk)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


class _Compressing:
    deflater: zlib._Compress | None = None
    sent_wire = 0  # octets on the wire after COMPRESS, to show that compression happened
    sent_plain = 0

    def compress(self) -> tuple[str, list[bytes]]:
        typ, data = self._simple_command("COMPRESS", "DEFLATE")  # type: ignore[attr-defined]
        if typ == "OK":
            self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
            self.file = io.BufferedReader(_Inflating(self.file))  # type: ignore[has-type]
        return typ, data

    def send(self, data: bytes) -> None:
        if self.deflater is not None:
            self.sent_plain += len(data)
            data = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
            self.sent_wire += len(data)
        super().send(data)  # type: ignore[misc]

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket, past the compressor (to send corrupt data)."""
        super().send(data)  # type: ignore[misc]


class DeflateIMAP4(_Compressing, imaplib.IMAP4):
    pass


class DeflateIMAP4_SSL(_Compressing, imaplib.IMAP4_SSL):
    pass

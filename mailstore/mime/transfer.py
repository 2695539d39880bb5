"""Content-Transfer-Encoding (RFC 2045 §6) undone, tolerantly.

Base64 is cleaned before decoding: every byte outside the alphabet (line breaks, spaces,
garbage, and ``=`` padding wherever it appears) is dropped and the tail is re-padded. This
makes decoding total (binascii never sees bad padding) and lets ``decoded_size`` compute the
exact size that ``decode`` would return without decoding megabytes of attachment.
"""

from __future__ import annotations

import binascii

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_JUNK = bytes(b for b in range(256) if b not in _B64_ALPHABET)
_PAD = (b"", b"", b"==", b"=")


def _clean_base64(data: bytes) -> bytes:
    clean = data.translate(None, _B64_JUNK)
    rest = len(clean) % 4
    if rest == 1:  # a lone sextet carries no whole byte
        clean = clean[:-1]
        rest = 0
    return clean + _PAD[rest]


def decode_base64(data: bytes) -> bytes:
    """RFC 2045 §6.8: decode, ignoring characters outside the base64 alphabet."""
    try:
        return binascii.a2b_base64(_clean_base64(data))
    except (binascii.Error, ValueError):
        return b""


def decode_qp(data: bytes) -> bytes:
    """RFC 2045 §6.7 quoted-printable; binascii leaves malformed ``=XY`` escapes as is."""
    try:
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data


def decode(data: bytes, cte: str) -> bytes:
    """Undo a transfer encoding; identity for 7bit/8bit/binary and unknown encodings."""
    if cte == "base64":
        return decode_base64(data)
    if cte == "quoted-printable":
        return decode_qp(data)
    return data


def decoded_size(data: bytes, cte: str) -> int:
    """Size in bytes of ``decode(data, cte)``, computed without decoding base64."""
    if cte == "base64":
        n = len(data.translate(None, _B64_JUNK))
        if n % 4 == 1:
            n -= 1
        return n // 4 * 3 + (0, 0, 1, 2)[n % 4]
    if cte == "quoted-printable":
        return len(decode_qp(data))
    return len(data)

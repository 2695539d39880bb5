"""Charset names from mail headers mapped to Python codecs, and decoding that never fails.

Why a module of its own: charset labels in real mail are unreliable. They are misspelled
(``x-UTF_8J``, ``unicode-2-0-utf-8``), bogus (``8bit``, ``DEFAULT_CHARSET``), or a subset of
what the sender really used (``gb2312`` for GBK text, ``us-ascii`` or ``iso-8859-1`` for
UTF-8 or Windows-1252 text). Every decode here therefore falls back, in order, to the
declared codec with replacement, to UTF-8, and to Windows-1252/Latin-1; it never raises.
"""

from __future__ import annotations

import codecs

# Labels whose text is, in practice, written with a superset of the declared charset.
# (WHATWG Encoding Standard makes the same substitutions for the web.)
_SUPERSETS = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb2312_charset": "gb18030",
    "chinesebig5": "big5hkscs",
    "big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}

# Declared labels that mean "this is ASCII" or "nobody knows": try UTF-8 first, since
# mislabelled UTF-8 is the commonest case in the corpus.
_GUESS_UTF8_FIRST = frozenset({"cp1252"})

# Every 7-bit byte, then the shift sequences of the 7-bit stateful encodings (ISO-2022-JP
# "ESC $ B", HZ "~{", UTF-7 "+A"): a codec is ASCII-compatible only if all decode as ASCII.
_PROBE = bytes(range(0x01, 0x80)) + b"\x1b$B!!\x1b(B ~{!!~} +AGE-"
_cache: dict[str, tuple[str | None, bool]] = {}
_CACHE_LIMIT = 2048


def lookup(charset: str | None) -> tuple[str | None, bool]:
    """Return (python codec name or None if unknown, whether the codec is ASCII-compatible).

    Only text codecs qualify: ``codecs.lookup`` also knows bytes-to-bytes codecs such as
    ``base64`` or ``zlib`` that a hostile charset label must never select.
    """
    key = (charset or "").strip().strip('"').lower()
    hit = _cache.get(key)
    if hit is not None:
        return hit
    name = _SUPERSETS.get(key, key)
    result: tuple[str | None, bool] = (None, True)
    if name and len(name) < 64:
        try:
            info = codecs.lookup(name)
        except (LookupError, ValueError, TypeError):
            info = None
        if (
            info is not None
            and getattr(info, "_is_text_encoding", True)
            and info.name not in ("undefined", "unicode-escape", "raw-unicode-escape")
        ):
            try:
                ascii_ok = _PROBE.decode(info.name) == _PROBE.decode("ascii")
            except Exception:
                ascii_ok = False
            result = (info.name, ascii_ok)
    if len(_cache) < _CACHE_LIMIT:
        _cache[key] = result
    return result


def decode_text(data: bytes, charset: str | None) -> str:
    """Decode body bytes declared as ``charset``; unknown labels fall back to UTF-8 then
    Latin-1, known ones decode with U+FFFD replacement."""
    codec, ascii_ok = lookup(charset)
    if ascii_ok and data.isascii():
        return data.decode("ascii")
    if codec is None or codec in _GUESS_UTF8_FIRST:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode(codec or "latin-1", "replace")
    try:
        return data.decode(codec, "replace")
    except Exception:  # a codec that raises even with errors="replace" (e.g. punycode)
        return data.decode("utf-8", "replace")


def fallback_codec(charsets: list[str]) -> str:
    """Codec for raw 8-bit header bytes that are not UTF-8: the first non-Latin charset the
    message declares for its text (spam in GB2312 often has GB2312 subjects), else cp1252."""
    for cs in charsets:
        codec, ascii_compatible = lookup(cs)
        # header bytes are mostly ASCII, so only an ASCII-compatible codec can decode them
        if codec and ascii_compatible and codec not in ("utf-8", "cp1252", "ascii"):
            return codec
    return "cp1252"


def fix_8bit(s: str, fallback: str) -> str:
    """Turn a header string decoded with surrogateescape into clean text: keep it if the raw
    bytes were UTF-8, else decode the raw bytes with ``fallback`` (replacement on errors)."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        pass
    raw = s.encode("utf-8", "surrogateescape")
    try:
        return raw.decode(fallback, "replace")
    except Exception:
        return raw.decode("latin-1")

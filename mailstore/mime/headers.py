"""Header blocks: splitting into fields, unfolding, parameters, and RFC 2047/2231 decoding.

Why hand-written rather than ``email.headerregistry``: the header factory costs tens of
microseconds per field and raises on real-world input (see addresses.py); parsing once at
delivery must run at thousands of messages per second. Values are kept RAW (folded, still
encoded) in the field map, because IMAP ENVELOPE and BODYSTRUCTURE want the raw text;
decoding happens only for the fields that are displayed or searched.

Header bytes are decoded with ``surrogateescape`` so nothing is lost; ``charsets.fix_8bit``
turns a value into clean text when it must be shown or stored.
"""

from __future__ import annotations

import binascii
import re
from urllib.parse import unquote_to_bytes

from .charsets import decode_text
from .transfer import decode_base64

# RFC 5322 §2.2: field-name = 1*ftext (printable US-ASCII except ":"); obsolete syntax
# (§4.5) allows whitespace before the colon. A field runs on over folded lines (§2.2.3).
_FIELD = re.compile(r"^([!-9;-~]+)[ \t]*:(.*(?:\n[ \t].*)*)", re.M)


def header_str(block: bytes) -> str:
    """Header bytes as str, losslessly (8-bit bytes that are not UTF-8 become surrogates)."""
    return block.decode("utf-8", "surrogateescape")


def field_chunks(text: str) -> list[str]:
    """``[junk, name, value, junk, name, value, ..., junk]``: every field's name and raw
    folded value, and the text between fields (line breaks, or lines that are no field)."""
    return _FIELD.split(text)


def unfold(value: str) -> str:
    """RFC 5322 §2.2.3: unfolding removes the CRLF before folding whitespace; the value is
    then stripped of the whitespace that follows the colon and of trailing whitespace."""
    if "\n" in value:
        value = value.replace("\r\n", "").replace("\n", "")
    return value.strip()


def field(fields: dict[str, str], name: str) -> str | None:
    """Unfolded raw value of a field, or None when the header is absent."""
    value = fields.get(name)
    return None if value is None else unfold(value)


# RFC 2047 §2: encoded-word = "=?" charset ["*" language (RFC 2231 §5)] "?" encoding "?"
# encoded-text "?="
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded-words anywhere in ``text``.

    RFC 2047 §6.2: whitespace between adjacent encoded-words is not displayed. Adjacent words
    of one charset are joined as bytes before decoding, because senders split multibyte
    characters across words. Unknown charsets fall back like body text (charsets.py).
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = b""
    pending_cs = ""
    pos = 0
    for m in _ENCODED_WORD.finditer(text):
        gap = text[pos : m.start()]
        if not (pending_cs and (not gap or gap.isspace())):
            if pending_cs:
                out.append(decode_text(pending, pending_cs))
                pending, pending_cs = b"", ""
            out.append(gap)
        charset = m.group(1).split("*", 1)[0].lower()
        payload = m.group(3).encode("utf-8", "surrogateescape")
        if m.group(2) in "bB":
            data = decode_base64(payload)
        else:
            try:
                data = binascii.a2b_qp(payload, header=True)
            except (binascii.Error, ValueError):
                data = payload
        if pending_cs and charset != pending_cs:
            out.append(decode_text(pending, pending_cs))
            pending = b""
        pending += data
        pending_cs = charset
        pos = m.end()
    if pending_cs:
        out.append(decode_text(pending, pending_cs))
    out.append(text[pos:])
    return "".join(out)


# RFC 2045 §5.1: content := type "/" subtype *(";" parameter); parameter := attribute "="
# value; value := token / quoted-string. Tolerant: unquoted values may hold anything but ";".
_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*(?:"|$)|[^;]*)', re.S)
_BACKSLASH = re.compile(r"\\(.)", re.S)


def parse_params(text: str) -> list[tuple[str, str]]:
    """Parameters after the first ``;`` as (lowercase attribute, unquoted raw value)."""
    params: list[tuple[str, str]] = []
    if ";" not in text:
        return params
    for name, value in _PARAM.findall(text):
        if value.startswith('"'):
            value = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
            if "\\" in value:
                value = _BACKSLASH.sub(r"\1", value)
        else:
            value = value.strip()
        params.append((name.lower(), value))
    return params


def param_value(params: list[tuple[str, str]], name: str, words: bool = True) -> str | None:
    """Decoded value of one parameter, honouring RFC 2231 continuations and charsets and,
    when ``words``, the common (non-standard) encoded-words inside quoted values."""
    plain: str | None = None
    star = name + "*"
    pieces: dict[int, tuple[str, bool]] = {}
    single: str | None = None
    for key, value in params:
        if key == name:
            if plain is None:
                plain = value
        elif key.startswith(star):
            rest = key[len(star) :]
            if rest == "":
                single = value  # RFC 2231 §4: name*=charset'lang'%XX
            else:
                encoded = rest.endswith("*")
                index = rest[:-1] if encoded else rest
                if index.isdigit() and int(index) not in pieces and len(pieces) < 1000:
                    pieces[int(index)] = (value, encoded)
    if single is not None:
        return _rfc2231_decode([(single, True)])
    if pieces:
        return _rfc2231_decode([pieces[i] for i in sorted(pieces)])
    if plain is None or not words:
        return plain
    return decode_words(plain)


def _rfc2231_decode(pieces: list[tuple[str, bool]]) -> str:
    """RFC 2231 §3-4: join continuations; the first encoded piece carries charset'lang'."""
    charset = ""
    first_value, first_encoded = pieces[0]
    if first_encoded and first_value.count("'") >= 2:
        charset, _lang, rest = first_value.split("'", 2)
        pieces = [(rest, True), *pieces[1:]]
    data = b"".join(
        unquote_to_bytes(b) if enc else b
        for b, enc in ((v.encode("utf-8", "surrogateescape"), enc) for v, enc in pieces)
    )
    return decode_text(data, charset or "utf-8")

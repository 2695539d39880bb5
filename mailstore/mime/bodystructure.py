"""IMAP BODYSTRUCTURE and BODY (RFC 9051 §7.5.2, grammar in §9) from the MIME tree.

Invariants: sizes are octets of the stored bytes, body = [bs, be) of each entity; line
counts are the number of lines in that range (an unterminated last line counts). Types,
subtypes, parameter names, disposition types and encodings are sent uppercase, as in the
RFC examples; parameter values and other header text are sent raw (RFC 2231/2047 encodings
intact), as IMAP requires.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote

from .envelope import build_envelope
from .headers import field, parse_params
from .imapstring import nstring, string
from .structure import Entity


def line_count(raw: bytes, start: int, end: int) -> int:
    """Lines in raw[start:end]: LF count, plus one for an unterminated last line."""
    if end <= start:
        return 0
    return raw.count(b"\n", start, end) + (raw[end - 1] != 10)


_CONTINUATION = re.compile(r"(.+?)\*(\d{1,3})(\*?)")


def merge_continuations(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """RFC 2231 §3 continuations (name*0, name*1*...) joined into one parameter, as
    RFC 9051 §7.5.2 asks servers to do; an encoded value keeps its charset'lang' prefix
    and the "name*" form (RFC 2231 §4), so clients decode it as they would in a header."""
    if not any("*" in key for key, _ in params):
        return params
    out: list[tuple[str, str]] = []
    pieces: dict[str, list[tuple[int, str, bool]]] = {}
    for key, value in params:
        m = _CONTINUATION.fullmatch(key)
        if m is None:
            out.append((key, value))
            continue
        base = m.group(1)
        if base not in pieces:
            pieces[base] = []
            out.append((base, ""))  # placeholder, keeps the parameter's position
        pieces[base].append((int(m.group(2)), value, m.group(3) == "*"))
    merged: list[tuple[str, str]] = []
    for key, value in out:
        if key not in pieces:
            merged.append((key, value))
            continue
        parts = sorted(pieces.pop(key))
        if parts[0][2]:  # extended value: keep percent-encoding, encode the plain pieces
            joined = "".join(
                v if enc else quote(v.encode("utf-8", "surrogateescape"), safe="")
                for _, v, enc in parts
            )
            merged.append((key + "*", joined))
        else:
            joined = "".join(unquote(v) if enc else v for _, v, enc in parts)
            merged.append((key, joined))
    return merged


def _param_list(params: list[tuple[str, str]], clean: Callable[[str], str]) -> str:
    # RFC 9051 §9: body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
    if not params:
        return "NIL"
    params = merge_continuations(params)
    return "(" + " ".join(f"{string(clean(k).upper())} {string(clean(v))}" for k, v in params) + ")"


def _disposition(fields: dict[str, str], clean: Callable[[str], str]) -> str:
    # RFC 9051 §9: body-fld-dsp = "(" string SP body-fld-param ")" / nil
    value = field(fields, "content-disposition")
    if not value:
        return "NIL"
    kind = value.split(";", 1)[0].strip()
    if not kind:
        return "NIL"
    return f"({string(clean(kind).upper())} {_param_list(parse_params(value), clean)})"


def _language(fields: dict[str, str], clean: Callable[[str], str]) -> str:
    # RFC 9051 §9: body-fld-lang = nstring / "(" string *(SP string) ")"
    value = field(fields, "content-language")
    if not value:
        return "NIL"
    tags = [t.strip() for t in clean(value).split(",") if t.strip()]
    if not tags:
        return "NIL"
    if len(tags) == 1:
        return string(tags[0])
    return "(" + " ".join(string(t) for t in tags) + ")"


def _extension(ent: Entity, clean: Callable[[str], str]) -> str:
    """body-fld-dsp SP body-fld-lang SP body-fld-loc, shared by both body kinds."""
    location = field(ent.fields, "content-location")
    if location is not None:
        location = clean(location.replace(" ", "").replace("\t", ""))  # RFC 2557 §4.1
    loc = nstring(location) if location else "NIL"
    return f"{_disposition(ent.fields, clean)} {_language(ent.fields, clean)} {loc}"


def build(ent: Entity, raw: bytes, clean: Callable[[str], str]) -> tuple[str, str]:
    """Return (BODYSTRUCTURE, BODY) of ``ent`` (the message root or any part)."""
    if ent.is_multipart:
        inner = [build(child, raw, clean) for child in ent.children]
        subtype = string(ent.ctype.partition("/")[2].upper())
        # RFC 9051 §9: body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
        ext = f"{_param_list(ent.params, clean)} {_extension(ent, clean)}"
        return (
            "(" + "".join(s for s, _ in inner) + f" {subtype} {ext})",
            "(" + "".join(b for _, b in inner) + f" {subtype})",
        )

    major, _, minor = ent.ctype.partition("/")
    if ent.ct_missing and major == "text":
        params = '("CHARSET" "US-ASCII")'  # RFC 2045 §5.2 default
    else:
        params = _param_list(ent.params, clean)
    fields = ent.fields
    content_id = field(fields, "content-id")
    description = field(fields, "content-description")
    encoding = field(fields, "content-transfer-encoding") or "7BIT"
    # RFC 9051 §9: body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
    # body-fld-enc SP body-fld-octets
    content_id = nstring(clean(content_id) if content_id is not None else None)
    description = nstring(clean(description) if description is not None else None)
    basic = (
        f"({string(major.upper())} {string(minor.upper())} {params} {content_id}"
        f" {description} {string(clean(encoding).upper())} {ent.be - ent.bs}"
    )
    if major == "text":
        # RFC 9051 §9: body-type-text = media-text SP body-fields SP body-fld-lines
        basic += f" {line_count(raw, ent.bs, ent.be)}"
        body_s = body_b = basic
    elif ent.is_message:
        # RFC 9051 §9: body-type-msg = media-message SP body-fields SP envelope SP body SP
        # body-fld-lines
        encapsulated = ent.children[0]
        envelope = build_envelope(encapsulated.fields, clean)
        inner_s, inner_b = build(encapsulated, raw, clean)
        lines = line_count(raw, ent.bs, ent.be)
        body_s = f"{basic} {envelope} {inner_s} {lines}"
        body_b = f"{basic} {envelope} {inner_b} {lines}"
    else:
        body_s = body_b = basic
    md5 = field(fields, "content-md5")
    # RFC 9051 §9: body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
    # [SP body-fld-loc ...]]]
    ext = f"{nstring(clean(md5) if md5 else None)} {_extension(ent, clean)}"
    return f"{body_s} {ext})", body_b + ")"

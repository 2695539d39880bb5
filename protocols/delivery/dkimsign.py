"""DKIM signing (RFC 6376, Ed25519 per RFC 8463) of outgoing mail, the last step before sending.

Implementation notes:
- Sign last: after every change the server makes to the message (footers, list headers),
  or the signature breaks.
- relaxed/relaxed canonicalization: it survives the whitespace refolding that relays do.
- Signed fields: the ones a reader sees or that shape the content (``SIGNED_FIELDS``), each
  as often as it occurs; From is listed once more than it occurs ("oversigned"), so a
  second From added on the way breaks the signature instead of being shown to the reader.
- dkimpy parses and canonicalizes the header fields and selects the signed ones. Two steps
  are ours, for speed (``bench/signing.py``): the signature is made with ``cryptography`` from
  the already parsed key (dkimpy's RSA is pure Python: about 140 signatures/s for 2048-bit
  keys), and the relaxed body canonicalization (``relaxed_body``, checked against dkimpy's by
  a property test) does not rewrite every single space.
- A message that cannot be signed (no From, a header dkimpy cannot parse) is sent unsigned
  rather than not at all: one warning in the log, never an exception.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time

import dkim as dkimpy
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, utils
from dkim.canonicalization import CanonicalizationPolicy

from mailstore.dkimkeys import SigningKey

__all__ = ["SIGNED_FIELDS", "sign"]

log = logging.getLogger(__name__)

SIGNED_FIELDS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"mime-version",
                 b"content-type", b"in-reply-to", b"references", b"reply-to")
OVERSIGNED = (b"from",)
_CANON = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_WSP_RUNS = re.compile(rb"\t[ \t]*| [ \t]+")  # a lone space stays as it is
_ALGORITHM = {"rsa": b"rsa-sha256", "ed25519": b"ed25519-sha256"}


class _Unsignable(Exception):
    pass


def sign(raw: bytes, key: SigningKey, *, now: int | None = None) -> bytes:
    """``raw`` with a DKIM-Signature field prepended; ``raw`` unchanged if it cannot be
    signed."""
    try:
        return _signature(raw, key, int(time.time()) if now is None else now) + raw
    except Exception as exc:  # a malformed message must still leave, unsigned
        log.warning("DKIM: message not signed for %s: %s", key.domain, exc)
        return raw


def _signature(raw: bytes, key: SigningKey, now: int) -> bytes:
    headers, body = _split(raw)
    names = [name.lower() for name, _ in headers]
    if b"from" not in names:
        raise _Unsignable("the message has no From field")
    signed = [name for field in SIGNED_FIELDS for name in names if name == field]
    signed += list(OVERSIGNED)

    body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
    tags = [b"v=1", b"a=" + _ALGORITHM[key.algorithm], b"c=relaxed/relaxed",
            b"d=" + key.domain.encode("ascii"), b"s=" + key.selector.encode("ascii"),
            b"t=%d" % now, b"h=" + b":".join(signed), b"bh=" + body_hash]
    # RFC 6376 §3.5: the field is hashed with an empty b=; fold only at "; " so that the
    # relaxed form of what is hashed and of what is sent is the same.
    value = b" " + _fold(tags) + b";\r\n\tb="
    hasher = hashlib.sha256()
    dkimpy.hash_headers(hasher, _CANON, _CANON.canonicalize_headers(headers), signed,
                        (b"DKIM-Signature", value), {})
    digest = hasher.digest()
    if isinstance(key.private, ed25519.Ed25519PrivateKey):
        signature = key.private.sign(digest)  # RFC 8463 §3: Ed25519 over the SHA-256 hash
    else:
        signature = key.private.sign(digest, padding.PKCS1v15(),
                                     utils.Prehashed(hashes.SHA256()))
    encoded = base64.b64encode(signature)
    folded = b"\r\n\t ".join(encoded[i:i + 70] for i in range(0, len(encoded), 70))
    return b"DKIM-Signature:" + value + folded + b"\r\n"


def _split(raw: bytes) -> tuple[list[list[bytes]], bytes]:
    """dkimpy's parsed header fields, and the body with CRLF line ends. Only the header is
    given to dkimpy: it would split the whole body into lines too."""
    if raw.startswith((b"\n", b"\r\n")):
        return [], _LINE_END.sub(b"\r\n", raw[raw.index(b"\n") + 1:])
    end = _HEADER_END.search(raw)
    head, body = (raw, b"") if end is None else (raw[: end.start()], raw[end.end():])
    headers, _ = dkimpy.rfc822_parse(head + b"\r\n\r\n")
    return headers, _LINE_END.sub(b"\r\n", body)


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4 on a CRLF body (dkimpy's version is 3 times slower: it rewrites every
    single space)."""
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    body = _WSP_RUNS.sub(b" ", body).replace(b" \r\n", b"\r\n")
    end = len(body)
    while body.endswith(b"\r\n\r\n", 0, end):  # ignore empty lines at the end
        end -= 2
    body = body[:end]
    return b"" if body == b"\r\n" else body


def _fold(tags: list[bytes], width: int = 76) -> bytes:
    """Tags joined with "; ", a line break after the ";" where a line would pass ``width``."""
    lines: list[bytes] = []
    for tag in tags:
        used = len(lines[-1]) + (len(b"DKIM-Signature: ") if len(lines) == 1 else 0) \
            if lines else 0
        if lines and used + 2 + len(tag) <= width:
            lines[-1] += b"; " + tag
        else:
            lines.append(tag)
    return b";\r\n\t".join(lines)

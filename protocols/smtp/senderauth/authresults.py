"""Authentication-Results (RFC 8601): write ours, remove forged ones claiming our name.

Implementation notes:
- Everything we put in the header comes from the message or DNS (d= and s= of a signature,
  the MAIL FROM address), so each property value is written as a token or an address when it
  is one, and as a quoted-string otherwise: a crafted d= can never add a result of its own.
- The stripper works on bytes and only ever deletes whole header fields (with their folded
  continuation lines) whose authserv-id equals our hostname, case-insensitively
  (RFC 8601 §5). Every other byte, including line ends (CRLF or LF) and the body, is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .dkim import DkimResult, DkimStatus
from .dmarc import DmarcResult, DmarcStatus
from .spf import SpfResult

__all__ = ["authentication_results", "header_field", "remove_forged_results"]

HEADER_NAME = "Authentication-Results"

_TOKEN_RE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+")  # RFC 2045 token, no tspecials
_DOT_ATOM_RE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")


def _quoted(text: str) -> str:
    text = re.sub(r"[\x00-\x1f\x7f]", "", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pvalue(text: str) -> str:
    """RFC 8601 §2.2 pvalue: a token, [local-part "@"] domain, or else a quoted-string."""
    local, at, domain = text.rpartition("@")
    if at and _TOKEN_RE.fullmatch(domain) and (not local or _DOT_ATOM_RE.fullmatch(local)):
        return text
    if not at and _TOKEN_RE.fullmatch(text):
        return text
    return _quoted(text)


def authentication_results(
    hostname: str,
    spf: SpfResult | None = None,
    dkim: Sequence[DkimResult] = (),
    dmarc: DmarcResult | None = None,
) -> str:
    """The header value, unfolded: "host; spf=pass smtp.mailfrom=a@b; dkim=...; dmarc=..."."""
    parts: list[str] = []
    if spf is not None:
        # RFC 8601 §2.7.2: smtp.mailfrom (or smtp.helo for the null sender) is the identity
        if spf.scope == "helo":
            prop = f"smtp.helo={_pvalue(spf.domain)}"
        else:
            prop = f"smtp.mailfrom={_pvalue(spf.sender or spf.domain)}"
        parts.append(f"spf={spf.result.value} {prop}")
    for sig in dkim:
        if sig.result is DkimStatus.NONE:
            parts.append("dkim=none")
            continue
        # RFC 8601 §2.7.1: header.d and header.s name the signature
        text = f"dkim={sig.result.value}"
        if sig.domain:
            text += f" header.d={_pvalue(sig.domain)}"
        if sig.selector:
            text += f" header.s={_pvalue(sig.selector)}"
        parts.append(text)
    if dmarc is not None:
        text = f"dmarc={dmarc.result.value}"
        if dmarc.result in (DmarcStatus.PASS, DmarcStatus.FAIL):
            # RFC 7489 §11.2 leaves comments free; this is the common "(p=... dis=...)" form
            text += f" (p={dmarc.policy.value} dis={dmarc.disposition.value})"
        if dmarc.from_domain:
            text += f" header.from={_pvalue(dmarc.from_domain)}"
        parts.append(text)
    if not parts:
        parts.append("none")  # RFC 8601 §2.2: no-result
    return "; ".join([hostname, *parts])


def header_field(value: str, linesep: bytes = b"\r\n") -> bytes:
    """`Authentication-Results: value` folded after each ";", ready to prepend."""
    folded = (";" + linesep.decode() + "\t").join(p.strip() for p in value.split(";"))
    return f"{HEADER_NAME}: {folded}".encode() + linesep


def _skip_cfws(text: str) -> str:
    """Drop leading whitespace and (possibly nested) comments."""
    text = text.lstrip(" \t")
    while text.startswith("("):
        depth, i = 0, 0
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        text = text[i + 1 :].lstrip(" \t")
    return text


def _authserv_id(value: bytes) -> str:
    """RFC 8601 §2.2: the authserv-id is the first value of the field (token or quoted)."""
    text = _skip_cfws(re.sub(rb"\r?\n", b"", value).decode("utf-8", "replace"))
    if text.startswith('"'):
        m = re.match(r'"((?:\\.|[^"\\])*)"', text)
        return re.sub(r"\\(.)", r"\1", m.group(1)) if m else ""
    m = re.match(r"[^\s;()]*", text)
    return m.group(0) if m else ""


def remove_forged_results(raw: bytes, hostname: str) -> bytes:
    """Remove Authentication-Results fields whose authserv-id is `hostname` (RFC 8601 §5).

    Anything else, header or body, stays byte for byte.
    """
    ours = hostname.lower().rstrip(".")
    out: list[bytes] = []
    pos = 0
    drop = False
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        line = raw[pos:end]
        if line in (b"\r\n", b"\n"):  # the empty line: the body follows unchanged
            out.append(raw[pos:])
            break
        if line[:1] in (b" ", b"\t"):
            if not drop:
                out.append(line)  # continuation of the current field
        else:
            drop = False
            name, colon, value = line.partition(b":")
            if colon and name.rstrip(b" \t").lower() == b"authentication-results":
                # the whole field, continuations included, decides
                field_end = end
                while field_end < len(raw) and raw[field_end : field_end + 1] in (b" ", b"\t"):
                    nxt = raw.find(b"\n", field_end)
                    field_end = len(raw) if nxt < 0 else nxt + 1
                full_value = value + raw[end:field_end]
                drop = _authserv_id(full_value).lower().rstrip(".") == ours
            if not drop:
                out.append(line)
        pos = end
    return b"".join(out)

"""The Sender Rewriting Scheme: forwarded mail leaves with an envelope sender in our domain.

A message from ``user@example.org`` that we forward to another server would fail SPF there
(we are not example.org's server). So the envelope sender is rewritten to an address in our
domain that encodes the original, and a bounce to that address is routed back to it.

Implementation notes:
- The format is the one of Shevek's SRS paper, as libsrs2, postsrsd and Exim write it:
  ``SRS0=HHHH=TT=example.org=user@ourdomain``: HHHH a hash (base64 of HMAC-SHA1 with our
  secret, 4 characters), TT the day it was made (days since 1970 modulo 1024, in two base32
  characters), then the original domain and local part.
- A sender that is already SRS0 (we are the second forwarder) becomes SRS1, which names the
  first forwarder and keeps its SRS0 part opaque: ``SRS1=GGGG=fwd1.example==HHHH=TT=…``.
  Reversing SRS1 yields the SRS0 address at the first forwarder, which reverses it again.
  Forwarding an SRS1 address only swaps its hash and domain, so the chain never grows.
- The hash covers the lowercased fields (joined with "=") and is compared
  case-insensitively: some MTAs (and our own router) lowercase local parts. Comparison is
  constant-time.
- A timestamp older than ``max_age_days`` (or from the future) is refused, so a captured
  address cannot be used as an open relay for ever.
- No global state: the secret, the domain and the clock are given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

__all__ = ["Srs", "SrsError", "is_srs"]

SEPARATORS = "=+-"
HASH_LENGTH = 4
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_DAY = 86400
_TIME_SLOTS = 1024  # two base32 characters


class SrsError(ValueError):
    """An SRS address that cannot be reversed; the message says why."""


def is_srs(local_part: str) -> bool:
    """True for a local part in SRS0 or SRS1 form (``SRS0=…``, case-insensitive)."""
    return (len(local_part) > 5 and local_part[:4].upper() in ("SRS0", "SRS1")
            and local_part[4] in SEPARATORS)


def _encode_day(day: int) -> str:
    day %= _TIME_SLOTS
    return _BASE32[day >> 5] + _BASE32[day & 31]


def _decode_day(text: str) -> int | None:
    if len(text) != 2:
        return None
    high, low = _BASE32.find(text[0].upper()), _BASE32.find(text[1].upper())
    if high < 0 or low < 0:
        return None
    return high << 5 | low


class Srs:
    """Rewrites envelope senders for forwarding (``forward``) and back (``reverse``)."""

    is_srs = staticmethod(is_srs)

    def __init__(self, secret: bytes, domain: str, *, max_age_days: int = 21,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("SRS needs a non-empty secret")
        if not domain or "@" in domain:
            raise ValueError(f"SRS domain {domain!r} is not a domain name")
        self._secret = secret
        self.domain = domain.lower().rstrip(".")
        self.max_age_days = max_age_days
        self._clock = clock

    # Building -----------------------------------------------------------------------------
    def forward(self, sender: str) -> str:
        """The envelope sender to use when forwarding mail from ``sender``.

        The null sender, an address in our domain and a string that is not an address
        (no ``@``) come back unchanged.
        """
        local, at, domain = sender.rpartition("@")
        if not at or not local or not domain or domain.lower().rstrip(".") == self.domain:
            return sender
        if is_srs(local):
            if local[:4].upper() == "SRS0":
                # We are the second forwarder: name the first one, keep its part opaque.
                opaque = local[4:]
                first = domain
            else:
                parsed = self._split_srs1(local)
                if parsed is None:  # not really SRS1: treat it as any other local part
                    return self._srs0(local, domain)
                _, first, opaque = parsed
            return f"SRS1={self._hash(first, opaque)}={first}={opaque}@{self.domain}"
        return self._srs0(local, domain)

    def _srs0(self, local: str, domain: str) -> str:
        stamp = _encode_day(int(self._clock()) // _DAY)
        return f"SRS0={self._hash(stamp, domain, local)}={stamp}={domain}={local}@{self.domain}"

    # Reversing ----------------------------------------------------------------------------
    def reverse(self, address: str) -> str:
        """The address an SRS address stands for; SrsError when it is not one we made."""
        local, at, _ = address.rpartition("@")
        if not at or not is_srs(local):
            raise SrsError(f"<{address}> is not an SRS address")
        if local[:4].upper() == "SRS1":
            parsed = self._split_srs1(local)
            if parsed is None:
                raise SrsError(f"<{address}> is a malformed SRS1 address")
            given, first, opaque = parsed
            self._check_hash(address, given, first, opaque)
            return f"SRS0{opaque}@{first}"
        fields = local[5:].split("=", 3)
        if len(fields) != 4 or not all(fields):
            raise SrsError(f"<{address}> is a malformed SRS0 address")
        given, stamp, domain, user = fields
        self._check_hash(address, given, stamp, domain, user)
        self._check_stamp(address, stamp)
        return f"{user}@{domain}"

    @staticmethod
    def _split_srs1(local: str) -> tuple[str, str, str] | None:
        """``SRS1=HHHH=first.example==rest`` → (HHHH, first.example, "=rest")."""
        fields = local[5:].split("=", 2)
        if len(fields) != 3 or not fields[0] or not fields[1] or len(fields[2]) < 2 \
                or fields[2][0] not in SEPARATORS:
            return None
        return fields[0], fields[1], fields[2]

    def _check_hash(self, address: str, given: str, *fields: str) -> None:
        expected = self._hash(*fields)
        if len(given) != HASH_LENGTH or not hmac.compare_digest(
                given.lower().encode(), expected.lower().encode()):
            raise SrsError(f"<{address}>: the SRS hash does not match (not an address we made)")

    def _check_stamp(self, address: str, stamp: str) -> None:
        then = _decode_day(stamp)
        if then is None:
            raise SrsError(f"<{address}>: the SRS timestamp {stamp!r} is malformed")
        age = (int(self._clock()) // _DAY - then) % _TIME_SLOTS
        if age > self.max_age_days:
            raise SrsError(f"<{address}>: the SRS address has expired "
                           f"(made {age} days ago, valid for {self.max_age_days})")

    def _hash(self, *fields: str) -> str:
        # Joined with "=", which only the last field may contain: "example.org", "user" and
        # "example.or", "guser" must not hash alike.
        data = "=".join(fields).lower().encode("utf-8", "surrogateescape")
        mac = hmac.new(self._secret, data, hashlib.sha1)
        return base64.b64encode(mac.digest()).decode("ascii")[:HASH_LENGTH]

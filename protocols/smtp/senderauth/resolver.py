"""DNS for sender authentication: one resolver configuration and one answer type.

Implementation notes:
- SPF, DKIM, DMARC and DNSBL all need to tell "the name has no such records" (a definite
  answer, e.g. SPF `none` or a void lookup) from "we could not find out" (SPF/DKIM/DMARC
  `temperror`, which makes a server answer 4xx instead of judging the mail). Every lookup
  therefore returns a `DnsAnswer` with a `DnsStatus`; nothing here raises on DNS failures.
- Names are always queried as absolute names (no search list): a mail domain is never
  relative to our own.
- Tests point the resolver at a DNS server on loopback with `make_resolver(["127.0.0.1"],
  port=...)`; production uses the system configuration (`make_resolver()`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

__all__ = ["DnsAnswer", "DnsStatus", "lookup", "make_resolver"]


def make_resolver(
    nameservers: Sequence[str] | None = None,
    port: int = 53,
    timeout: float = 2.0,
    lifetime: float = 5.0,
    cache_size: int = 0,
) -> dns.asyncresolver.Resolver:
    """Build the resolver every sender-authentication check uses.

    With no `nameservers` the system configuration (/etc/resolv.conf) is read; otherwise only
    the given servers are asked, on `port` (tests run their own server on loopback).
    `timeout` bounds one try against one server, `lifetime` a whole lookup with retries.
    `cache_size` > 0 keeps that many answers (for their TTL): a server receiving many messages
    from one domain asks DNS once; 0 (no cache) suits tests that change their zone.
    """
    if nameservers is None:
        try:
            resolver = dns.asyncresolver.Resolver(configure=True)
        except dns.resolver.NoResolverConfiguration:
            raise RuntimeError(
                "tidings: the system has no DNS resolver configured (no nameserver in "
                "/etc/resolv.conf); configure one or pass nameservers explicitly"
            ) from None
    else:
        if not nameservers:
            raise ValueError("tidings: make_resolver needs at least one nameserver, or None")
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = list(nameservers)
        resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = lifetime
    if cache_size > 0:
        resolver.cache = dns.resolver.LRUCache(cache_size)
    # EDNS0 with a 1232-byte payload keeps DKIM keys in one UDP packet where the server
    # allows it; dnspython still retries over TCP when an answer comes back truncated.
    resolver.use_edns(0, 0, 1232)
    return resolver


class DnsStatus(enum.Enum):
    """What a lookup found out."""

    OK = "ok"  # one or more records
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists but has no record of that type
    TEMPERROR = "temperror"  # timeout, SERVFAIL, no server answered: try again later


@dataclass(frozen=True)
class DnsAnswer:
    """Records of one type at one name, as text, or why there are none."""

    status: DnsStatus
    records: tuple[str, ...] = ()
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is DnsStatus.OK

    @property
    def void(self) -> bool:
        """RFC 7208 §4.6.4: a "void lookup" is an answer of NXDOMAIN or no records."""
        return self.status in (DnsStatus.NXDOMAIN, DnsStatus.NODATA)

    @property
    def temporary(self) -> bool:
        return self.status is DnsStatus.TEMPERROR


def _text(rdata: object, rdtype: str) -> str:
    """One record as text: TXT strings joined without spaces, MX as "pref host", names bare."""
    if rdtype == "TXT":
        # RFC 7208 §3.3 and RFC 6376 §3.6.2.2: the character-strings of one TXT record are
        # concatenated with nothing in between.
        raw = b"".join(rdata.strings)  # type: ignore[attr-defined]
        return raw.decode("utf-8", errors="replace")
    if rdtype == "MX":
        exchange = rdata.exchange.to_text(omit_final_dot=True)  # type: ignore[attr-defined]
        return f"{rdata.preference} {exchange}"  # type: ignore[attr-defined]
    if rdtype in ("PTR", "CNAME"):
        return rdata.target.to_text(omit_final_dot=True)  # type: ignore[attr-defined]
    return rdata.to_text()  # type: ignore[attr-defined]


async def lookup(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> DnsAnswer:
    """Query `name` for `rdtype` ("TXT", "A", "AAAA", "MX", "PTR") and never raise."""
    try:
        qname = dns.name.from_text(name.rstrip(".") + ".")
    except (dns.exception.DNSException, UnicodeError, ValueError) as e:
        # A name that cannot be written in DNS (empty or over-long label) cannot exist.
        return DnsAnswer(DnsStatus.NXDOMAIN, reason=f"invalid name {name!r}: {e}")
    try:
        answer = await resolver.resolve(qname, rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        return DnsAnswer(DnsStatus.NXDOMAIN, reason=f"{name} does not exist")
    except dns.resolver.NoAnswer:
        return DnsAnswer(DnsStatus.NODATA, reason=f"no {rdtype} records at {name}")
    except dns.resolver.YXDOMAIN:
        return DnsAnswer(DnsStatus.NXDOMAIN, reason=f"{name} is too long after DNAME")
    except dns.resolver.NoNameservers as e:
        return DnsAnswer(DnsStatus.TEMPERROR, reason=f"no nameserver answered for {name}: {e}")
    except dns.exception.Timeout:
        return DnsAnswer(DnsStatus.TEMPERROR, reason=f"timeout looking up {rdtype} {name}")
    except dns.exception.DNSException as e:
        return DnsAnswer(DnsStatus.TEMPERROR, reason=f"DNS error on {rdtype} {name}: {e}")
    records = tuple(_text(r, rdtype) for r in answer)
    if not records:
        return DnsAnswer(DnsStatus.NODATA, reason=f"no {rdtype} records at {name}")
    return DnsAnswer(DnsStatus.OK, records)

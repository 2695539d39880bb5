"""Where mail for a domain goes: its MX hosts in preference order (RFC 5321 §5.1).

No MX record: the domain's own address records (the implicit MX). A single MX of "." is
the null MX of RFC 7505: the domain accepts no mail, so the message bounces at once.
A domain that does not exist bounces; a DNS failure is temporary and is retried.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

import dns.asyncresolver

from protocols.smtp.senderauth.resolver import DnsStatus, lookup


@dataclass(frozen=True, slots=True)
class Hop:
    """One host to try: its name (for EHLO/TLS/logs) and its addresses."""

    name: str
    addresses: tuple[str, ...]


class DestinationError(Exception):
    """No host can be tried; ``reply`` is the SMTP-style answer recorded for recipients."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply

    @property
    def permanent(self) -> bool:
        return self.reply.startswith("5")


def order_mx(records: list[str], shuffle: random.Random | None = None) -> list[str] | None:
    """MX records as "pref host" text → hosts by preference (equal ones shuffled, RFC 5321
    §5.1); None for a null MX (RFC 7505)."""
    parsed = []
    for record in records:
        pref, _, host = record.partition(" ")
        try:
            parsed.append((int(pref), host.strip().rstrip(".").lower()))
        except ValueError:
            continue
    if len(parsed) == 1 and parsed[0][1] in ("", "."):
        return None
    rng = shuffle or random
    parsed = [p for p in parsed if p[1] not in ("", ".")]
    keyed = [(pref, rng.random(), host) for pref, host in parsed]
    return [host for *_, host in sorted(keyed)]


def domain_literal(domain: str) -> str | None:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` → the address (RFC 5321 §4.1.3)."""
    if not (domain.startswith("[") and domain.endswith("]")):
        return None
    text = domain[1:-1]
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


async def resolve_hops(domain: str, resolver: dns.asyncresolver.Resolver) -> list[Hop]:
    """The hosts to try for ``domain``, best first, or a DestinationError."""
    literal = domain_literal(domain)
    if literal is not None:
        return [Hop(literal, (literal,))]
    mx = await lookup(resolver, domain, "MX")
    if mx.status is DnsStatus.TEMPERROR:
        raise DestinationError(f"451 4.4.3 DNS lookup of MX for {domain} failed: {mx.reason}")
    if mx.status is DnsStatus.NXDOMAIN:
        raise DestinationError(f"550 5.1.2 domain {domain} does not exist (DNS)")
    hosts = order_mx(list(mx.records)) if mx.ok else [domain]
    if hosts is None:
        raise DestinationError(f"556 5.1.10 domain {domain} accepts no mail (null MX)")
    hops, temporary = [], ""
    for host in hosts:
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            answer = await lookup(resolver, host, rdtype)
            addresses.extend(answer.records)
            if answer.temporary:
                temporary = answer.reason
        if addresses:
            hops.append(Hop(host, tuple(addresses)))
    if hops:
        return hops
    if temporary:
        raise DestinationError(f"451 4.4.3 DNS lookup for the mail hosts of {domain} failed: "
                               f"{temporary}")
    if mx.ok:
        raise DestinationError(f"451 4.4.4 the mail hosts of {domain} "
                               f"({', '.join(hosts)}) have no addresses")
    raise DestinationError(f"550 5.1.2 domain {domain} has no mail host (no MX, A or AAAA)")

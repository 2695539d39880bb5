"""DNS blocklists (RFC 5782): is the connecting IP listed in the configured zones?

Implementation notes:
- One `Listing` per zone, in the order given, so the SMTP layer can log what every list
  said. A lookup that fails (timeout, SERVFAIL) counts as "not listed" and says so in
  `error`: a blocklist that is down must never stop mail.
- Answers outside 127.0.0.0/8 are not listings (RFC 5782 §2.1); 127.255.255.0/24 is not
  either: big list operators answer with it to report a query error (for example queries
  through a public resolver), not a listing.
- The TXT record (the reason text, often a URL) is only asked for once the A query says
  listed.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver

from .resolver import lookup

__all__ = ["Listing", "dnsbl_listings", "query_name"]

_LISTING_NET = ipaddress.ip_network("127.0.0.0/8")
_ERROR_NET = ipaddress.ip_network("127.255.255.0/24")


@dataclass(frozen=True)
class Listing:
    """What one blocklist zone says about one IP address."""

    zone: str
    listed: bool
    codes: tuple[str, ...] = ()  # the 127.x.y.z answers, e.g. ("127.0.0.2",)
    reason: str = ""  # the TXT text, if the list publishes one
    error: str = ""  # set when the list could not be asked (then listed is False)


def query_name(ip: str, zone: str) -> str:
    """RFC 5782 §2.1, §2.4: octets (IPv4) or nibbles (IPv6) reversed, then the zone."""
    addr = ipaddress.ip_address(ip.strip().strip("[]"))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.version == 4:
        labels = str(addr).split(".")
    else:
        labels = list(addr.exploded.replace(":", ""))
    return ".".join(reversed(labels)) + "." + zone.strip(".")


async def _check_zone(ip: str, zone: str, resolver: dns.asyncresolver.Resolver) -> Listing:
    name = query_name(ip, zone)
    answer = await lookup(resolver, name, "A")
    if answer.temporary:
        return Listing(zone, False, error=answer.reason)
    codes = []
    for record in answer.records:
        try:
            addr = ipaddress.ip_address(record)
        except ValueError:
            continue
        if addr in _LISTING_NET and addr not in _ERROR_NET:
            codes.append(record)
    if not codes:
        if answer.ok:
            return Listing(zone, False, error=f"unexpected answer {', '.join(answer.records)}")
        return Listing(zone, False)
    txt = await lookup(resolver, name, "TXT")
    return Listing(zone, True, tuple(codes), " ".join(txt.records))


async def dnsbl_listings(
    ip: str, zones: Sequence[str], resolver: dns.asyncresolver.Resolver
) -> list[Listing]:
    """Ask every zone about `ip`, concurrently; one Listing per zone, listed or not."""
    return list(await asyncio.gather(*(_check_zone(ip, z, resolver) for z in zones)))

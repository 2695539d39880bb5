"""Networks and per-IP connection counts for the SMTP listeners.

In-process state of one server; with several nodes each enforces its own share, which is
what connection limits need (they protect this process). Rates and failed logins are
counted by ``mailstore.throttle``, shared by every front door.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings (``192.168.1.0/24``, ``::1``) → networks; ValueError names a bad one."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP network (for example 192.168.1.0/24)") \
                from exc
    return tuple(networks)


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address, an IPv4-mapped IPv6 one (``::ffff:1.2.3.4``) as IPv4."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def in_networks(ip: str, networks: Iterable[Network]) -> bool:
    address = _address(ip)
    return address is not None and any(
        address.version == n.version and address in n for n in networks)


def is_loopback(ip: str) -> bool:
    address = _address(ip)
    return address is not None and address.is_loopback


class ConnectionCounter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = defaultdict(int)

    def open(self, ip: str) -> bool:
        """Counts a new connection; False (and not counted) when ``ip`` is at the limit."""
        if self.limit and self._open[ip] >= self.limit:
            return False
        self._open[ip] += 1
        return True

    def close(self, ip: str) -> None:
        self._open[ip] -= 1
        if self._open[ip] <= 0:
            del self._open[ip]

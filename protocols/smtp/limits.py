"""Per-IP and per-user counters: connections, message rates, failed logins.

In-process state of one server; with several nodes each enforces its own share, which is
what connection and rate limits need (they protect this process).
"""

from __future__ import annotations

import ipaddress
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable

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


def in_networks(ip: str, networks: Iterable[Network]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in networks)


def is_loopback(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


class SlidingWindow:
    """Events per key within the last ``seconds``."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def count(self, key: str) -> int:
        events = self._events[key]
        now = self.clock()
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if not events:
            del self._events[key]
        return len(events)

    def add(self, key: str) -> None:
        self._events[key].append(self.clock())

    def clear(self, key: str) -> None:
        self._events.pop(key, None)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (0 = no limit)."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.events = SlidingWindow(window, clock)

    def allow(self, key: str) -> bool:
        """Counts one event for ``key`` if it is within the limit; False if not."""
        if not self.limit:
            return True
        if self.events.count(key) >= self.limit:
            return False
        self.events.add(key)
        return True


class FailureLimiter:
    """After ``limit`` failures within ``lockout`` seconds, a key is locked for ``lockout``."""

    def __init__(self, limit: int, lockout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.failures = SlidingWindow(lockout, clock)

    def locked(self, key: str) -> bool:
        return bool(self.limit) and self.failures.count(key) >= self.limit

    def fail(self, key: str) -> None:
        self.failures.add(key)

    def succeed(self, key: str) -> None:
        self.failures.clear(key)


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

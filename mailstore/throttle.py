"""Counting in time windows: message rates, and failed logins shared by every front door.

Implementation notes:
- In-process state (an attribute of the ``Store``, like the change notifier): with several
  nodes each counts what it sees, which is what throttling needs to slow a guesser down.
- ``Store.logins`` counts failed logins per client address across SMTP AUTH, IMAP, POP3
  and webmail: failures on one protocol lock the address out of all of them, so a guesser
  cannot switch doors to get more tries.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable


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

"""The collector inside ``tidings serve``: runs every enabled account on its interval.

Implementation notes:
- Every ``tick`` seconds the scheduler asks the store which accounts are due (enabled,
  ``next_run_at`` passed, no live lease) and starts a run for each one it is not already
  running. The run's claim (a conditional UPDATE of the lease) is what keeps one run per
  account across several ``tidings serve`` nodes on one PostgreSQL; the local set only
  avoids asking twice.
- A run longer than the interval is not restarted: the next run time is set when a run
  finishes (VPOP3 behaved the same way).
- At most ``parallel`` runs at once, so a hundred mailboxes do not open a hundred sockets.
- The scheduler never dies of a run's error: runs record their own errors; a failure of the
  scheduler's own query is logged and retried at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mailstore.store import Store
from protocols.collector.runner import Collector

log = logging.getLogger("tidings.collector")


class CollectorScheduler:
    def __init__(self, store: Store, hostname: str, tick: float = 5.0,
                 parallel: int = 4) -> None:
        self.collector = Collector(store, hostname)
        self.store = store
        self.tick = tick
        self.parallel = asyncio.Semaphore(parallel)
        self.running: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop())

    def wake(self) -> None:
        """Look for due accounts now rather than at the next tick ("run now" in the admin)."""
        self._woken.set()

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self.running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                for collector_id in await self.store.collectors.due(int(time.time())):
                    if collector_id not in self.running:
                        self.running[collector_id] = asyncio.create_task(
                            self._run(collector_id))
            except Exception:
                log.exception("collector scheduler: cannot read the collector accounts")
            try:
                await asyncio.wait_for(self._woken.wait(), self.tick)
            except TimeoutError:
                pass
            self._woken.clear()

    async def _run(self, collector_id: int) -> None:
        try:
            async with self.parallel:
                outcome = await self.collector.run(collector_id)
            if not outcome.busy:
                log.info("collector %s: %s", outcome.account,
                         outcome.error or outcome.report.summary())
        except Exception:
            log.exception("collector run #%s failed", collector_id)
        finally:
            self.running.pop(collector_id, None)

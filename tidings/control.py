"""The running server as the web admin sees it (``webapp.admin.control.ServerControl``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mailstore.collectors import CollectorSettings
from tidings.config import RUNNING_SERVICES
from tidings.live import LiveConfig
from webapp.admin.control import ConnectionStage, ServiceStatus

if TYPE_CHECKING:
    from protocols.collector.scheduler import CollectorScheduler


class Control:
    """Built by ``tidings serve``; services report themselves with ``listening``."""

    def __init__(self, live: LiveConfig) -> None:
        self.live = live
        self.listening: dict[str, tuple[str, int]] = {}  # service -> bound (host, port)
        self.problems: dict[str, str] = {}  # service -> why it could not start
        self.collector: CollectorScheduler | None = None  # set by serve once it runs

    def setting(self, name: str) -> object:
        return self.live.value(name)

    def file_setting(self, name: str) -> object:
        return self.live.file_value(name)

    def check_settings(self, changes: Mapping[str, object]) -> dict[str, str]:
        return self.live.check(changes)

    def services(self) -> list[ServiceStatus]:
        cfg = self.live.config
        result = []
        for name in RUNNING_SERVICES:
            host, port = self.listening.get(name, (cfg.bind, cfg.ports[name]))
            result.append(ServiceStatus(
                name, host, port, cfg.enabled.get(name, False), name in self.listening,
                self.problems.get(name, "")))
        return result

    async def test_collector(self, settings: CollectorSettings) -> list[ConnectionStage]:
        from protocols.collector.probe import probe

        result = await probe(settings)
        return [ConnectionStage(s.name, s.label, s.state, s.detail) for s in result.stages]

    def wake_collectors(self) -> None:
        if self.collector is not None:
            self.collector.wake()

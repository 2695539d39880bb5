"""The running server as the web admin sees it (``webapp.admin.control.ServerControl``)."""

from __future__ import annotations

from collections.abc import Mapping

from protocols.delivery.dkimdns import OK, check_published
from protocols.delivery.probe import probe
from protocols.smtp.checks import resolver_for
from tidings.config import RUNNING_SERVICES, password_box
from tidings.live import LiveConfig
from webapp.admin.control import CheckResult, ServiceStatus


class Control:
    """Built by ``tidings serve``; services report themselves with ``listening``."""

    def __init__(self, live: LiveConfig) -> None:
        self.live = live
        self.listening: dict[str, tuple[str, int]] = {}  # service -> bound (host, port)
        self.problems: dict[str, str] = {}  # service -> why it could not start

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

    async def test_smarthost(self, name: str) -> CheckResult:
        delivery = self.live.config.delivery
        host = delivery.smarthosts.get(name) if delivery is not None else None
        if host is None:
            return CheckResult(False, "name", f"there is no smart host named {name}")
        result = await probe(host, self.live.config.hostname)
        return CheckResult(result.ok, result.stage, result.message)

    async def check_dkim_record(self, name: str, algorithm: str,
                                public_key: str) -> CheckResult:
        delivery = self.live.config.delivery
        smtp = self.live.config.smtp
        servers = delivery.dns_servers if delivery is not None else \
            smtp.dns_servers if smtp is not None else ()
        try:
            resolver = resolver_for(servers)
        except RuntimeError as exc:
            return CheckResult(False, "error", str(exc).removeprefix("tidings: "))
        resolver.cache = None  # a record published a minute ago must be seen now
        found = await check_published(resolver, name, algorithm, public_key)
        return CheckResult(found.status == OK, found.status, found.message)

    def seal_secret(self, secret: str) -> str:
        return password_box(self.live.data_dir).encrypt(secret)

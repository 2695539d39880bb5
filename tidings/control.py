"""The running server as the web admin sees it (``webapp.admin.control.ServerControl``)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mailstore.collectors import CollectorSettings
from protocols.delivery.dkimdns import OK, check_published
from protocols.delivery.probe import probe
from protocols.smtp.checks import resolver_for
from tidings import certificates
from tidings.config import RUNNING_SERVICES, Config, ConfigError, password_box
from tidings.live import LiveConfig
from tidings.sockets import bind_problem
from webapp.admin.control import (
    CertificateCheck,
    CertificateInfo,
    CheckResult,
    ConnectionStage,
    ServiceStatus,
)

# The web listener serves the admin's own page: moving or stopping it from that page would
# cut the admin off mid-change, so only tidings.toml (and a restart) changes it.
WEB_ONLY_IN_FILE = ("ports.web", "services.web")
WEB_REFUSAL = ("the web port can only be changed in tidings.toml, followed by a restart: "
               "changing it here would cut off this page")
if TYPE_CHECKING:
    from protocols.collector.scheduler import CollectorScheduler


class Control:
    """Built by ``tidings serve``; services report themselves with ``listening``."""

    def __init__(self, live: LiveConfig, tls: ssl.SSLContext | None = None) -> None:
        self.live = live
        self.tls = tls  # the context every TLS listener shares (None: nothing listening)
        self.listening: dict[str, tuple[str, int]] = {}  # service -> bound (host, port)
        self.problems: dict[str, str] = {}  # service -> why it could not start
        self._cert_stamp = certificates.stamp(live.config.tls_dir)
        self.collector: CollectorScheduler | None = None  # set by serve once it runs

    def setting(self, name: str) -> object:
        return self.live.value(name)

    def file_setting(self, name: str) -> object:
        return self.live.file_value(name)

    def overridden(self) -> frozenset[str]:
        return frozenset(self.live.overrides)

    def check_reset(self, names: tuple[str, ...]) -> str:
        kept = {k: v for k, v in self.live.overrides.items() if k not in names}
        try:
            self.live.parse(kept)
        except ConfigError as exc:
            return str(exc).removeprefix(f"{self.live.source}: ")
        return ""

    def check_settings(self, changes: Mapping[str, object]) -> dict[str, str]:
        problems = {name: WEB_REFUSAL for name in changes if name in WEB_ONLY_IN_FILE}
        problems.update(self.live.check(
            {k: v for k, v in changes.items() if k not in problems}))
        if problems or not changes:
            return problems
        try:
            new = self.live.parse({**self.live.overrides, **changes})
        except ConfigError:  # reported above
            return problems
        return self._address_problems(self.live.config, new, changes)

    def _address_problems(self, old: Config, new: Config,
                          changes: Mapping[str, object]) -> dict[str, str]:
        """A mail service that would move to an address this machine cannot listen on
        (taken by another program, or not one of its addresses): the change is refused
        before anything is saved, so nothing changes."""
        ours = set(self.listening.values())
        problems: dict[str, str] = {}
        for name in RUNNING_SERVICES:
            if name == "web" or not new.enabled.get(name) or not new.ports[name]:
                continue
            keys = [k for k in (f"ports.{name}", "server.bind", f"services.{name}")
                    if k in changes]
            address = (new.bind, new.ports[name])
            if not keys or address in ours:  # untouched, or one of ours (released first)
                continue
            if old.enabled.get(name) and (old.bind, old.ports[name]) == address \
                    and name not in self.problems:
                continue
            problem = bind_problem(*address)
            if problem:
                problems.setdefault(keys[0], problem if keys[0] == f"ports.{name}"
                                    else f"{name}: {problem}")
        return problems

    def services(self) -> list[ServiceStatus]:
        cfg = self.live.config
        result = []
        for name in RUNNING_SERVICES:
            host, port = self.listening.get(name, (cfg.bind, cfg.ports[name]))
            result.append(ServiceStatus(
                name, host, port, cfg.enabled.get(name, False), name in self.listening,
                self.problems.get(name, "")))
        return result

    def certificate(self) -> CertificateInfo | None:
        return certificates.read(self.live.config.tls_dir)

    def check_certificate(self, cert_pem: bytes, key_pem: bytes) -> CertificateCheck:
        return certificates.check(cert_pem, key_pem, self.live.config.hostname)

    def install_certificate(self, cert_pem: bytes, key_pem: bytes) -> CertificateCheck:
        verdict = self.check_certificate(cert_pem, key_pem)
        if not verdict.problems:
            certificates.install(self.live.config.tls_dir, cert_pem, key_pem, self.tls)
            self._cert_stamp = certificates.stamp(self.live.config.tls_dir)
        return verdict

    def reload_certificate_if_changed(self) -> str:
        """Serve ``cert.pem``/``key.pem`` anew when they were replaced on disk (a renewal
        by certbot, a copy by hand): "" when nothing changed or the reload worked, else why
        the files cannot be used (the old certificate stays in use)."""
        tls_dir = self.live.config.tls_dir
        now = certificates.stamp(tls_dir)
        if now == self._cert_stamp or self.tls is None:
            return ""
        problem = certificates.reload(tls_dir, self.tls)
        if not problem:
            self._cert_stamp = now
        return problem

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

    async def test_collector(self, settings: CollectorSettings) -> list[ConnectionStage]:
        from protocols.collector.probe import probe

        result = await probe(settings)
        return [ConnectionStage(s.name, s.label, s.state, s.detail) for s in result.stages]

    def wake_collectors(self) -> None:
        if self.collector is not None:
            self.collector.wake()

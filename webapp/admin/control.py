"""What the web admin asks of the running server, beyond the store.

The admin is part of the web app, which may not import the protocol servers; the
composition root (``tidings serve``) hands it an object with this interface instead
(``tidings.control.Control``). Apps made without one (most web tests) show the admin's
server pages as unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mailstore.collectors import CollectorSettings


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One front door: whether it is switched on, and whether it is listening now."""

    name: str
    address: str
    port: int
    enabled: bool
    running: bool
    problem: str = ""  # why it is not running although enabled


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer of a check the server ran (a smart host test, a DNS record check)."""

    ok: bool
    stage: str  # what failed ("dns", "connect", "tls", "ehlo", "starttls", "auth"; for a
    #             DKIM record "missing", "different", "error"), or what passed when ok
    message: str  # one line for the administrator


@dataclass(frozen=True, slots=True)
class ConnectionStage:
    """One step of a collector's "test connection": dns, tcp, tls, login or mailbox.
    ``state`` is ok, failed, skipped (not used by these settings) or untried."""

    name: str
    label: str
    state: str
    detail: str = ""


class ServerControl(Protocol):
    def setting(self, name: str) -> object:
        """The value the server uses for a dotted name, e.g. ``smtp.max_message_size``
        (None where the built-in default applies)."""

    def file_setting(self, name: str) -> object:
        """The value ``tidings.toml`` gives (None when it gives none)."""

    def check_settings(self, changes: Mapping[str, object]) -> dict[str, str]:
        """The problem with each change, by name; empty when they can all be saved.
        Save with ``store.server_settings.change``: the server applies it at once."""

    def overridden(self) -> frozenset[str]:
        """The names whose value was changed in the admin (over tidings.toml)."""

    def check_reset(self, names: tuple[str, ...]) -> str:
        """Why going back to tidings.toml's values for ``names`` cannot be done ("" if it
        can): the file's values must still make a valid configuration with the rest."""

    def services(self) -> list[ServiceStatus]:
        """Every front door in the configuration's order."""

    def certificate(self) -> CertificateInfo | None:
        """The certificate every TLS listener serves (None if it cannot be read)."""

    def check_certificate(self, cert_pem: bytes, key_pem: bytes) -> CertificateCheck:
        """Whether a certificate and key can be used; nothing is changed."""

    def install_certificate(self, cert_pem: bytes, key_pem: bytes) -> CertificateCheck:
        """Check, then (when there are no problems) save them and serve them on every new
        TLS connection, without a restart."""

    async def test_smarthost(self, name: str) -> CheckResult:
        """Connect to the configured smart host ``name`` as the queue would (EHLO, TLS,
        AUTH) without sending anything; says which stage failed."""

    async def check_dkim_record(self, name: str, algorithm: str,
                                public_key: str) -> CheckResult:
        """Whether DNS (the configured servers) publishes this key at ``name``."""

    def seal_secret(self, secret: str) -> str:
        """``secret`` encrypted for the ``password_sealed`` key of a smart host setting, so
        the settings table never holds the password in clear."""

    async def test_collector(self, settings: CollectorSettings) -> list[ConnectionStage]:
        """Try to reach and log in to an ISP mailbox (validated settings, password given),
        stage by stage; the first failed stage says why, the later ones are untried."""

    def wake_collectors(self) -> None:
        """Ask this node's collector scheduler to look for due accounts now (after
        ``store.collectors.run_now``; other nodes notice within their tick)."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What the admin needs to know about a TLS certificate."""

    subject: str
    names: tuple[str, ...]  # the host names it is valid for
    issuer: str
    not_before: datetime
    not_after: datetime
    days_left: int  # negative once expired
    self_signed: bool


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """The verdict on an uploaded certificate and key, before anything is changed."""

    problems: dict[str, str]  # "certificate" / "key" -> why it cannot be used
    warnings: tuple[str, ...] = ()  # usable, but the admin should know (wrong name)
    info: CertificateInfo | None = None

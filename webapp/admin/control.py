"""What the web admin asks of the running server, beyond the store.

The admin is part of the web app, which may not import the protocol servers; the
composition root (``tidings serve``) hands it an object with this interface instead
(``tidings.control.Control``). Apps made without one (most web tests) show the admin's
server pages as unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


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


class ServerControl(Protocol):
    def setting(self, name: str) -> object:
        """The value the server uses for a dotted name, e.g. ``smtp.max_message_size``
        (None where the built-in default applies)."""

    def file_setting(self, name: str) -> object:
        """The value ``tidings.toml`` gives (None when it gives none)."""

    def check_settings(self, changes: Mapping[str, object]) -> dict[str, str]:
        """The problem with each change, by name; empty when they can all be saved.
        Save with ``store.server_settings.change``: the server applies it at once."""

    def services(self) -> list[ServiceStatus]:
        """Every front door in the configuration's order."""

    async def test_smarthost(self, name: str) -> CheckResult:
        """Connect to the configured smart host ``name`` as the queue would (EHLO, TLS,
        AUTH) without sending anything; says which stage failed."""

    async def check_dkim_record(self, name: str, algorithm: str,
                                public_key: str) -> CheckResult:
        """Whether DNS (the configured servers) publishes this key at ``name``."""

    def seal_secret(self, secret: str) -> str:
        """``secret`` encrypted for the ``password_sealed`` key of a smart host setting, so
        the settings table never holds the password in clear."""

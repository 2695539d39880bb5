"""What went wrong in a collector run, each kind with its own one-line text for the admin."""

from __future__ import annotations


class CollectError(Exception):
    """A run failed; ``str(exc)`` is the one line shown by ``tidings collector list``."""

    kind = "error"


class DnsError(CollectError):
    kind = "dns"


class ConnectError(CollectError):
    kind = "connect"


class TlsError(CollectError):
    kind = "tls"


class LoginRefused(CollectError):
    kind = "login"


class Timeout(CollectError):
    kind = "timeout"


class ProtocolError(CollectError):
    kind = "protocol"


class ConnectionDropped(CollectError):
    kind = "dropped"

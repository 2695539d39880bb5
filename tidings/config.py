"""``tidings.toml``: the server's configuration, validated into typed values.

Every problem is reported as one ``ConfigError`` line that names the key and says what is
wrong, so that ``tidings serve`` can refuse to start with a message an admin can act on.
"""

from __future__ import annotations

import os
import secrets
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_NAME = "tidings.toml"

DEV_PORTS: dict[str, int] = {
    "web": 8080,
    "smtp": 2525,
    "submission": 2587,
    "submissions": 2465,
    "imap": 1143,
    "imaps": 1993,
    "pop3": 1110,
    "pop3s": 1995,
}
# Services that `tidings serve` runs today; the others are configured but not yet built.
RUNNING_SERVICES = ("web", "imap", "imaps")


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line naming the problem."""


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path
    hostname: str
    bind: str
    ports: dict[str, int]
    enabled: dict[str, bool]
    database_url: str
    secret_key: str
    messages_per_page: int = 50
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"


def resolve_data_dir(option: str | None) -> Path:
    """``--data``, else ``$TIDINGS_DATA``, else ``./data``."""
    return Path(option or os.environ.get("TIDINGS_DATA") or "data").resolve()


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'tidings.db'}"


def config_template(hostname: str | None = None) -> str:
    """The commented ``tidings.toml`` that ``tidings init`` writes."""
    host = hostname or socket.getfqdn() or "localhost"
    ports = "\n".join(f"{name} = {port}" for name, port in DEV_PORTS.items())
    return f"""# Tidings configuration. Restart `tidings serve` after editing.

[server]
# The name this server uses in greetings and Received headers.
hostname = "{host}"
# The address every service listens on. Development default: this machine only.
# Use "0.0.0.0" to accept connections from other machines.
bind = "127.0.0.1"

[ports]
# Development defaults. Production: web 443/80, smtp 25, submission 587,
# submissions 465, imap 143, imaps 993, pop3 110, pop3s 995.
{ports}

[services]
# Set a service to false to switch it off.
web = true
imap = true
imaps = true

[database]
# Empty: SQLite in the data folder. PostgreSQL: "postgresql+asyncpg://user@host/db".
# The environment variable TIDINGS_DATABASE_URL overrides this.
url = ""

[web]
# Signs login sessions. Keep it secret; changing it logs everyone out.
secret_key = "{secrets.token_urlsafe(32)}"
messages_per_page = 50
"""


def load(data_dir: Path) -> Config:
    """Read and validate ``tidings.toml`` in ``data_dir``."""
    if not data_dir.is_dir():
        raise ConfigError(
            f"data folder {data_dir} does not exist; create it with "
            f"`tidings init --data {data_dir}`"
        )
    path = data_dir / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path} is missing; run `tidings init --data {data_dir}` to create it"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse(raw, data_dir, str(path))


def parse(raw: dict, data_dir: Path, source: str = CONFIG_NAME) -> Config:
    server = _table(raw, "server", source)
    hostname = _string(server, "hostname", "server", source, socket.getfqdn() or "localhost")
    bind = _string(server, "bind", "server", source, "127.0.0.1")
    ports = dict(DEV_PORTS)
    for name, value in _table(raw, "ports", source).items():
        if name not in DEV_PORTS:
            raise ConfigError(
                f"{source}: [ports] {name} is not a service; known: {', '.join(DEV_PORTS)}")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
            raise ConfigError(f"{source}: [ports] {name} = {value!r} is not a port number "
                              "(0 to 65535)")
        ports[name] = value
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port and port in seen:
            raise ConfigError(
                f"{source}: [ports] {name} and {seen[port]} both use port {port}")
        seen[port] = name
    enabled = {name: name in RUNNING_SERVICES for name in DEV_PORTS}
    for name, value in _table(raw, "services", source).items():
        if name not in DEV_PORTS:
            raise ConfigError(f"{source}: [services] {name} is not a service")
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: [services] {name} must be true or false")
        enabled[name] = value
    database = _table(raw, "database", source)
    url = os.environ.get("TIDINGS_DATABASE_URL") or _string(
        database, "url", "database", source, "")
    web = _table(raw, "web", source)
    secret = _string(web, "secret_key", "web", source, "")
    if len(secret) < 16:
        raise ConfigError(f"{source}: [web] secret_key must be at least 16 characters")
    per_page = web.get("messages_per_page", 50)
    if not isinstance(per_page, int) or not 5 <= per_page <= 500:
        raise ConfigError(f"{source}: [web] messages_per_page must be a number from 5 to 500")
    return Config(
        data_dir=data_dir, hostname=hostname, bind=bind, ports=ports, enabled=enabled,
        database_url=url or default_database_url(data_dir), secret_key=secret,
        messages_per_page=per_page,
    )


def _table(raw: dict, name: str, source: str) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return value


def _string(table: dict, key: str, section: str, source: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{source}: [{section}] {key} must be a string")
    return value

"""``tidings.toml``: the server's configuration, validated into typed values.

Every problem is reported as one ``ConfigError`` line that names the key and says what is
wrong, so that ``tidings serve`` can refuse to start with a message an admin can act on.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mailstore.collectors import KEY_FILE, CollectorKeyError, PasswordBox
from protocols.delivery.settings import DeliverySettings, parse_delivery
from protocols.smtp.limits import parse_networks
from protocols.smtp.settings import ListenerSettings, SmtpSettings

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
# Services that `tidings serve` runs (every one that has a port, by now).
RUNNING_SERVICES = ("web", "smtp", "submission", "submissions", "imap", "imaps", "pop3",
                    "pop3s")


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
    smtp: SmtpSettings | None = None
    delivery: DeliverySettings | None = None
    login_max_failures: int = 5
    login_lockout_seconds: int = 900
    trace_keep_days: int = 90  # 0: keep the message trace for ever
    # IMAP/POP3 service -> (allow, deny) networks ([access.allow], [access.deny])
    access: dict[str, tuple[tuple, tuple]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"


def parse_size(text: str | int) -> int:
    """``2G``, ``500M``, ``1024K``, ``12345`` → bytes; ValueError says what is wrong."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a size (for example 500M or 2G)")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * 1024 ** " KMGT".index(unit or " "))


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
# Most settings can also be changed in the web admin (/admin), without a restart; a value
# changed there is kept in the database and wins over this file until reset there.

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
smtp = true
submission = true
submissions = true
imap = true
imaps = true
pop3 = true
pop3s = true

[smtp]
# Largest message accepted, e.g. "25M". Base64 makes attachments about a third bigger.
max_message_size = "25M"
max_recipients = 100
# Networks that may send to other domains without logging in, e.g. ["192.168.1.0/24"].
# Empty by default, loopback included: anything on this machine that forwards connections
# (a proxy, a web app) would otherwise turn the server into an open relay.
relay_networks = []
max_connections_per_ip = 20
# Messages per minute; 0 means no limit.
messages_per_minute_per_ip = 0
messages_per_minute_per_user = 0
# 452 (try later) or 552 (give up) when a recipient's mailbox is full.
mailbox_full_code = 452
# SPF, DKIM and DMARC checks of mail arriving on the smtp port.
check_sender_auth = true
# When a sender's domain asks for rejection (DMARC p=reject): "reject" refuses the message,
# "junk" delivers it to the recipient's Junk folder. p=quarantine always means Junk.
dmarc_reject = "reject"
# DNS blocklists checked when a server connects, e.g. ["zen.spamhaus.org"].
dnsbl_zones = []
# DNS servers ("host" or "host:port"); empty: this machine's resolver.
dns_servers = []
# A message whose Message-ID already reached a mailbox this many hours ago or less is not
# stored there again (mail that arrives twice through two routes).
duplicate_window_hours = 168

[smtp.allow]
# Per service, the only networks that may connect (empty: everyone), e.g.
# submission = ["192.168.1.0/24"]

[smtp.deny]
# Per service, networks that may not connect, e.g. smtp = ["203.0.113.0/24"]

[access.allow]
# The same for the mail-reading services imap, imaps, pop3 and pop3s, e.g.
# pop3 = ["192.168.1.0/24"]

[access.deny]
# imaps = ["203.0.113.0/24"]

[delivery]
# How mail leaves: "direct" to each recipient domain's mail servers (MX), or a list of
# smart host names from [[delivery.smarthost]] below, tried in order. Many ISPs block
# direct delivery from home and office lines; then use your ISP's server as a smart host.
via = "direct"
# Retries after a temporary failure: these waits, then the last one again and again.
retry = ["5m", "15m", "30m", "1h", "2h", "4h"]
# The sender is told after this long that the message is still waiting ...
delay_notice_after = "4h"
# ... and gets it back (a bounce) after this long.
expire_after = "5d"
connections_per_destination = 4
max_connections = 50
# The port of the recipients' mail servers (25 on the internet).
mx_port = 25
# DNS servers for MX lookups; empty: the same as [smtp] dns_servers.
dns_servers = []
#
# A smart host (repeat the block for a fallback):
# [[delivery.smarthost]]
# name = "isp"
# host = "smtp.isp.example"
# port = 587
# tls = "starttls"            # starttls (required), implicit (port 465) or none
# username = "office@isp.example"
# password = "secret"
#
# Send one domain (or one address) another way than `via`:
# [[delivery.route]]
# senders = ["example.org", "boss@example.com"]
# via = ["isp"]               # or "direct"

[logins]
# After this many failed logins from one address (SMTP AUTH, IMAP, POP3, webmail together),
# that address must wait lockout_seconds before it may try again.
max_failures = 5
lockout_seconds = 900

[trace]
# The message trace (every SMTP transaction, accepted or refused) is kept this many days;
# 0 keeps it for ever, and the database grows with it.
keep_days = 90

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
    return parse(read_raw(data_dir), data_dir, str(data_dir / CONFIG_NAME))


def read_raw(data_dir: Path) -> dict:
    """``tidings.toml`` as TOML tables, not yet validated."""
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
    return raw


def with_overrides(raw: dict, overrides: dict[str, object]) -> dict:
    """``raw`` with each dotted name (``smtp.max_message_size``) set to its value: the
    settings changed in the web admin, laid over the file."""
    merged = copy.deepcopy(raw)
    for name, value in overrides.items():
        *tables, key = name.split(".")
        table = merged
        for part in tables:
            inner = table.get(part)
            if not isinstance(inner, dict):
                inner = table[part] = {}
            table = inner
        table[key] = copy.deepcopy(value)
    return merged


def lookup(raw: dict, name: str) -> object:
    """The value at a dotted name, or None when the file does not set it."""
    value: object = raw
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


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
        messages_per_page=per_page, smtp=(smtp := parse_smtp(raw, hostname, source)),
        delivery=_delivery(raw, hostname, smtp.dns_servers, source, data_dir),
        access=parse_access(raw, source), **parse_logins(raw, source),
        trace_keep_days=parse_trace_keep_days(raw, source),
    )


ACCESS_SERVICES = ("imap", "imaps", "pop3", "pop3s")


def parse_access(raw: dict, source: str) -> dict[str, tuple[tuple, tuple]]:
    """``[access.allow]`` and ``[access.deny]``: who may connect to IMAP and POP3."""
    table = _table(raw, "access", source)
    allow = _subtable(table, "allow", source, "access")
    deny = _subtable(table, "deny", source, "access")
    for key in (*allow, *deny):
        if key not in ACCESS_SERVICES:
            raise ConfigError(f"{source}: [access.allow]/[access.deny] {key} is not a "
                              f"mail-reading service; known: {', '.join(ACCESS_SERVICES)}")
    return {name: (_networks(allow.get(name, []), f"[access.allow] {name}", source),
                   _networks(deny.get(name, []), f"[access.deny] {name}", source))
            for name in ACCESS_SERVICES}


def _delivery(raw: dict, hostname: str, dns_servers: tuple[str, ...],
              source: str, data_dir: Path) -> DeliverySettings:
    table = _table(raw, "delivery", source)
    hosts = table.get("smarthost")
    if isinstance(hosts, list) and any(isinstance(h, dict) and "password_sealed" in h
                                       for h in hosts):
        table = {**table, "smarthost": [unseal_smarthost(h, data_dir, source)
                                        if isinstance(h, dict) else h for h in hosts]}
    try:
        return parse_delivery(table, hostname, dns_servers)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def password_box(data_dir: Path) -> PasswordBox:
    """The data folder's key for stored passwords (the collector's key file: one file to
    copy to every node). Smart host passwords saved in the web admin are sealed with it, so
    the database's settings table never holds them in clear."""
    return PasswordBox(data_dir / KEY_FILE)


def unseal_smarthost(host: dict, data_dir: Path, source: str = CONFIG_NAME) -> dict:
    """A ``[[delivery.smarthost]]`` table with its ``password_sealed`` (as the web admin
    saves it) decrypted into ``password``."""
    sealed = host.get("password_sealed")
    table = {k: v for k, v in host.items() if k != "password_sealed"}
    if sealed is None:
        return table
    if not isinstance(sealed, str):
        raise ConfigError(f"{source}: [[delivery.smarthost]] password_sealed must be a string")
    try:
        table["password"] = password_box(data_dir).decrypt(sealed) if sealed else ""
    except CollectorKeyError as exc:
        raise ConfigError(
            f"{source}: the password of smart host {host.get('name')!r} cannot be decrypted "
            f"with {data_dir / KEY_FILE} (missing or replaced?); enter it again in the web "
            "admin") from exc
    return table


def parse_logins(raw: dict, source: str) -> dict[str, int]:
    table = _table(raw, "logins", source)
    values = {}
    for key, field_name in (("max_failures", "login_max_failures"),
                            ("lockout_seconds", "login_lockout_seconds")):
        value = table.get(key, 5 if key == "max_failures" else 900)
        if not _whole(value):
            raise ConfigError(f"{source}: [logins] {key} must be a whole number, 0 or more")
        values[field_name] = value
    return values


def parse_trace_keep_days(raw: dict, source: str) -> int:
    value = _table(raw, "trace", source).get("keep_days", 90)
    if not _whole(value):
        raise ConfigError(f"{source}: [trace] keep_days must be a whole number of days, "
                          "0 or more (0 keeps the trace for ever)")
    return value


SMTP_NUMBERS = ("max_recipients", "max_connections_per_ip", "messages_per_minute_per_ip",
                "messages_per_minute_per_user", "duplicate_window_hours")


def parse_smtp(raw: dict, hostname: str, source: str) -> SmtpSettings:
    """The ``[smtp]`` table; every bad value is one line naming the key."""
    table = _table(raw, "smtp", source)
    values: dict[str, object] = {"hostname": hostname}
    try:
        if "max_message_size" in table:
            values["max_message_size"] = parse_size(table["max_message_size"])
    except ValueError as exc:
        raise ConfigError(f"{source}: [smtp] max_message_size: {exc}") from exc
    for key in SMTP_NUMBERS:
        if key in table:
            value = table[key]
            if not _whole(value):
                raise ConfigError(f"{source}: [smtp] {key} must be a whole number, 0 or more")
            values[key] = value
    code = table.get("mailbox_full_code", 452)
    if code not in (452, 552):
        raise ConfigError(f"{source}: [smtp] mailbox_full_code must be 452 or 552")
    values["mailbox_full_code"] = code
    check = table.get("check_sender_auth", True)
    if not isinstance(check, bool):
        raise ConfigError(f"{source}: [smtp] check_sender_auth must be true or false")
    values["check_sender_auth"] = check
    dmarc_reject = table.get("dmarc_reject", "reject")
    if dmarc_reject not in ("reject", "junk"):
        raise ConfigError(f'{source}: [smtp] dmarc_reject must be "reject" or "junk"')
    values["dmarc_reject"] = dmarc_reject
    values["relay_networks"] = _networks(table.get("relay_networks", []),
                                         "[smtp] relay_networks", source)
    for key in ("dnsbl_zones", "dns_servers"):
        items = table.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{source}: [smtp] {key} must be a list of strings")
        values[key] = tuple(items)
    defaults = SmtpSettings(hostname)
    allow = _subtable(table, "allow", source)
    deny = _subtable(table, "deny", source)
    listeners = {}
    for name, listener in defaults.listeners.items():
        listeners[name] = ListenerSettings(
            name, listener.implicit_tls, listener.auth_required,
            _networks(allow.get(name, []), f"[smtp.allow] {name}", source),
            _networks(deny.get(name, []), f"[smtp.deny] {name}", source))
    for key in (*allow, *deny):
        if key not in listeners:
            raise ConfigError(f"{source}: [smtp.allow]/[smtp.deny] {key} is not an SMTP "
                              f"service; known: {', '.join(listeners)}")
    return SmtpSettings(listeners=listeners, **values)


def _subtable(table: dict, name: str, source: str, parent: str = "smtp") -> dict:
    value = table.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{parent}.{name}] must be a table")
    return value


def _networks(items: object, key: str, source: str) -> tuple:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{source}: {key} must be a list of networks such as "
                          '["192.168.1.0/24"]')
    try:
        return parse_networks(items)
    except ValueError as exc:
        raise ConfigError(f"{source}: {key}: {exc}") from exc


def _whole(value: object) -> bool:
    """A whole number, 0 or more (TOML's true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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

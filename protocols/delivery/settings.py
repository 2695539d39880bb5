"""How mail leaves the server: ``[delivery]`` of tidings.toml, as typed values.

Two ways out, chosen by the sender's address or domain: ``direct`` (to each recipient
domain's MX) or a list of smart hosts tried in order (a small office often has to send one
domain through its ISP and another directly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DIRECT = "direct"
TLS_MODES = ("starttls", "implicit", "none")

# RFC 5321 §4.5.3.2 minimum timeouts (seconds).
RFC5321_TIMEOUTS = {"connect": 300.0, "command": 300.0, "data_start": 120.0,
                    "data_end": 600.0}


@dataclass(frozen=True, slots=True)
class SmartHost:
    name: str
    host: str
    port: int = 587
    tls: str = "starttls"  # starttls (required), implicit, or none
    username: str = ""
    password: str = ""
    verify_certificate: bool = True

    @property
    def destination(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Route:
    """Senders (``example.org``, ``*.example.org``, ``ann@example.com``) and their way out."""

    senders: tuple[str, ...]
    via: tuple[str, ...]  # ("direct",) or smart host names in fallback order

    def matches(self, sender: str) -> bool:
        sender = sender.lower()
        domain = sender.rpartition("@")[2]
        for pattern in self.senders:
            pattern = pattern.lower()
            if "@" in pattern:
                if pattern == sender:
                    return True
            elif pattern == domain or (pattern.startswith("*.") and
                                       domain.endswith(pattern[1:])):
                return True
        return False


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    hostname: str = "localhost"  # our EHLO name and the DSN Reporting-MTA
    default_via: tuple[str, ...] = (DIRECT,)
    smarthosts: dict[str, SmartHost] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    mx_port: int = 25  # tests point this at their loopback "internet"
    dns_servers: tuple[str, ...] = ()
    retry_intervals: tuple[int, ...] = (300, 900, 1800, 3600, 7200, 14400)
    expire_after: int = 5 * 86400
    delay_notice_after: int = 4 * 3600
    connections_per_destination: int = 4
    max_connections: int = 50
    messages_per_connection: int = 100
    timeouts: dict[str, float] = field(default_factory=lambda: dict(RFC5321_TIMEOUTS))
    lease: int = 3600  # how long a claim holds before another node may take the entry
    in_flight: int = 1000  # entries a runner holds at once

    def via(self, sender: str) -> tuple[str, ...]:
        """The way out for mail from ``sender``: ("direct",) or smart host names."""
        for route in self.routes:
            if route.matches(sender):
                return route.via
        return self.default_via

    def retry_delay(self, attempts: int) -> int:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based)."""
        schedule = self.retry_intervals or (3600,)
        return schedule[min(attempts, len(schedule)) - 1]


DURATION = re.compile(r"\s*(\d+)\s*([smhd]?)\s*", re.IGNORECASE)
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> int:
    """``90``, ``"90s"``, ``"5m"``, ``"4h"``, ``"5d"`` → seconds; ValueError says why."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = DURATION.fullmatch(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a duration (for example 90s, 5m, 4h or 5d)")
    return int(match.group(1)) * UNITS[match.group(2).lower()]


def parse_delivery(table: dict, hostname: str, fallback_dns: tuple[str, ...] = ()
                   ) -> DeliverySettings:
    """The ``[delivery]`` table; a ValueError names the key and what is wrong with it."""
    values: dict[str, object] = {"hostname": hostname, "dns_servers": fallback_dns}
    hosts: dict[str, SmartHost] = {}
    for i, raw in enumerate(_list(table, "smarthost")):
        hosts_key = f"[[delivery.smarthost]] #{i + 1}"
        host = _smarthost(raw, hosts_key)
        if host.name in hosts or host.name == DIRECT:
            raise ValueError(f"{hosts_key}: the name {host.name!r} is used twice")
        hosts[host.name] = host
    values["smarthosts"] = hosts

    def via(value: object, key: str) -> tuple[str, ...]:
        names = (value,) if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not names or \
                not all(isinstance(n, str) for n in names):
            raise ValueError(f"{key} must be \"direct\" or a list of smart host names")
        for name in names:
            if name != DIRECT and name not in hosts:
                raise ValueError(f"{key}: no [[delivery.smarthost]] is named {name!r}")
        if DIRECT in names and len(names) > 1:
            raise ValueError(f"{key}: \"direct\" cannot be mixed with smart hosts")
        return tuple(names)

    values["default_via"] = via(table.get("via", DIRECT), "[delivery] via")
    routes = []
    for i, raw in enumerate(_list(table, "route")):
        key = f"[[delivery.route]] #{i + 1}"
        senders = raw.get("senders")
        if not isinstance(senders, list) or not senders or \
                not all(isinstance(s, str) and s for s in senders):
            raise ValueError(f"{key} senders must be a list such as "
                             '["example.org", "ann@example.com"]')
        routes.append(Route(tuple(senders), via(raw.get("via"), f"{key} via")))
    values["routes"] = tuple(routes)
    for key in ("mx_port", "connections_per_destination", "max_connections",
                "messages_per_connection"):
        if key in table:
            value = table[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"[delivery] {key} must be a whole number, 1 or more")
            values[key] = value
    for key in ("expire_after", "delay_notice_after"):
        if key in table:
            values[key] = _duration(table[key], f"[delivery] {key}")
    if "retry" in table:
        items = table["retry"]
        if not isinstance(items, list) or not items:
            raise ValueError('[delivery] retry must be a list such as ["5m", "15m", "1h"]')
        values["retry_intervals"] = tuple(_duration(v, "[delivery] retry") for v in items)
    if "dns_servers" in table:
        items = table["dns_servers"]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError("[delivery] dns_servers must be a list of strings")
        if items:  # empty: the same as [smtp] dns_servers, as tidings.toml says
            values["dns_servers"] = tuple(items)
    timeouts = dict(RFC5321_TIMEOUTS)
    for key, value in _table(table, "timeouts").items():
        if key not in timeouts:
            raise ValueError(f"[delivery.timeouts] {key} is unknown; known: "
                             f"{', '.join(timeouts)}")
        timeouts[key] = float(_duration(value, f"[delivery.timeouts] {key}"))
    values["timeouts"] = timeouts
    return DeliverySettings(**values)  # type: ignore[arg-type]


def _smarthost(raw: object, key: str) -> SmartHost:
    if not isinstance(raw, dict):
        raise ValueError(f"{key} must be a table")
    unknown = set(raw) - set(SmartHost.__slots__)
    if unknown:
        raise ValueError(f"{key}: unknown key {sorted(unknown)[0]!r}")
    for name in ("name", "host"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise ValueError(f"{key} needs a {name}")
    tls = raw.get("tls", "starttls")
    if tls not in TLS_MODES:
        raise ValueError(f"{key} tls must be one of {', '.join(TLS_MODES)}")
    port = raw.get("port", 465 if tls == "implicit" else 587)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"{key} port must be a port number")
    for name in ("username", "password"):
        if not isinstance(raw.get(name, ""), str):
            raise ValueError(f"{key} {name} must be a string")
    verify = raw.get("verify_certificate", True)
    if not isinstance(verify, bool):
        raise ValueError(f"{key} verify_certificate must be true or false")
    return SmartHost(raw["name"], raw["host"], port, tls, raw.get("username", ""),
                     raw.get("password", ""), verify)


def _duration(value: object, key: str) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from exc


def _list(table: dict, name: str) -> list:
    value = table.get(name, [])
    if not isinstance(value, list):
        raise ValueError(f"[[delivery.{name}]] must be an array of tables")
    return value


def _table(table: dict, name: str) -> dict:
    value = table.get(name, {})
    if not isinstance(value, dict):
        raise ValueError(f"[delivery.{name}] must be a table")
    return value

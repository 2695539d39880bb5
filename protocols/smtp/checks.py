"""The DNS-based checks of the MX listener, built from the settings: DNSBL at connect,
SPF/DKIM/DMARC after DATA (see ``senderauth``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import dns.asyncresolver

from protocols.smtp.senderauth import authenticate_message, dnsbl_listings, make_resolver
from protocols.smtp.server import ConnectCheck, SenderCheck, SenderVerdict
from protocols.smtp.settings import SmtpSettings

log = logging.getLogger("tidings.smtp")


def resolver_for(servers: Sequence[str]) -> dns.asyncresolver.Resolver:
    """``[]``: the system's resolver; else ``host``, ``host:port`` or ``[v6]:port`` entries
    (one port for all of them, as dnspython takes it). Answers are cached for their TTL."""
    if not servers:
        return make_resolver(None, cache_size=10_000)
    hosts, port = [], 53
    for server in servers:
        host, given = _host_port(server)
        hosts.append(host)
        port = given or port
    return make_resolver(hosts, port=port, cache_size=10_000)


def _host_port(entry: str) -> tuple[str, int | None]:
    """``192.0.2.1``, ``192.0.2.1:5353``, ``::1``, ``[::1]:5353``."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else None
    host, sep, port = entry.partition(":")
    if sep and port.isdigit() and ":" not in port:
        return host, int(port)
    return entry, None


def sender_check(settings: SmtpSettings,
                 resolver: dns.asyncresolver.Resolver) -> SenderCheck:
    async def check(raw: bytes, ip: str, helo: str, mail_from: str) -> SenderVerdict:
        verdict = await authenticate_message(raw, ip, helo, mail_from, settings.hostname,
                                             resolver)
        return SenderVerdict(action=str(verdict.action), message=verdict.message,
                             rejection=verdict.rejection or "",
                             summary=verdict.header_value)
    return check


def connect_check(settings: SmtpSettings,
                  resolver: dns.asyncresolver.Resolver) -> ConnectCheck:
    async def check(ip: str) -> str | None:
        for listing in await dnsbl_listings(ip, settings.dnsbl_zones, resolver):
            if listing.listed:
                reason = f": {listing.reason}" if listing.reason else ""
                return f"554 5.7.1 {ip} is listed by {listing.zone}{reason}"
            if listing.error:
                log.warning("DNS blocklist %s: %s", listing.zone, listing.error)
        return None
    return check


def build_checks(settings: SmtpSettings) -> tuple[SenderCheck | None, ConnectCheck | None]:
    """The configured checks; without a usable resolver, none (and a warning), never a crash."""
    if not settings.check_sender_auth and not settings.dnsbl_zones:
        return None, None
    try:
        resolver = resolver_for(settings.dns_servers)
    except (RuntimeError, ValueError) as exc:
        log.warning("sender checks are off: %s", exc)
        return None, None
    return (sender_check(settings, resolver) if settings.check_sender_auth else None,
            connect_check(settings, resolver) if settings.dnsbl_zones else None)

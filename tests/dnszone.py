"""A real DNS server on loopback (dnslib, UDP and TCP) serving a zone each test fills in.

UDP answers over 512 bytes are truncated, so long records (DKIM keys) also exercise the
resolver's retry over TCP. Names listed in `Zone.drop` get no answer at all (a timeout), names
in `Zone.servfail` get SERVFAIL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.asyncresolver
import pytest
from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, TXT, A, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from protocols.smtp.senderauth.resolver import make_resolver


class _Drop(DNSError):
    """Raised by the zone so that dnslib sends nothing back."""


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


@dataclass
class Zone:
    """Records by (name, type); add with the helpers, read by the server thread."""

    records: dict[tuple[str, str], list[object]] = field(default_factory=dict)
    drop: set[str] = field(default_factory=set)
    servfail: set[str] = field(default_factory=set)
    queries: list[tuple[str, str]] = field(default_factory=list)
    tcp_queries: list[tuple[str, str]] = field(default_factory=list)

    def _add(self, name: str, rtype: str, rdata: object) -> None:
        self.records.setdefault((_norm(name), rtype), []).append(rdata)

    def txt(self, name: str, text: str) -> None:
        data = text.encode()
        # A TXT character-string holds at most 255 bytes; longer text is split.
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        self._add(name, "TXT", TXT(chunks))

    def a(self, name: str, *addresses: str) -> None:
        for address in addresses:
            self._add(name, "A", A(address))

    def aaaa(self, name: str, *addresses: str) -> None:
        for address in addresses:
            self._add(name, "AAAA", AAAA(address))

    def mx(self, name: str, host: str, preference: int = 10) -> None:
        self._add(name, "MX", MX(host, preference))

    def ptr(self, name: str, target: str) -> None:
        self._add(name, "PTR", PTR(target))

    def exists(self, name: str) -> bool:
        return any(key[0] == name for key in self.records)


class _ZoneResolver(BaseResolver):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        name = _norm(str(request.q.qname))
        qtype = QTYPE[request.q.qtype]
        self.zone.queries.append((name, qtype))
        if handler.protocol == "tcp":
            self.zone.tcp_queries.append((name, qtype))
        if name in self.zone.drop:
            raise _Drop(f"dropping {name}")
        reply = request.reply()
        if name in self.zone.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        for rdata in self.zone.records.get((name, qtype), []):
            reply.add_answer(RR(request.q.qname, QTYPE.reverse[qtype], rdata=rdata, ttl=60))
        if not reply.rr and not self.zone.exists(name):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class _TruncatingHandler(DNSHandler):
    """Classic 512-byte UDP limit: larger answers go out empty with TC, the client retries
    on TCP. (dnslib's own truncate() drops the question, which dnspython rejects.)"""

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        packed = reply.pack()
        if self.protocol == "udp" and len(packed) > 512:
            truncated = request.reply()
            truncated.header.tc = 1
            packed = truncated.pack()
        return packed


class _QuietLogger(DNSLogger):
    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-error,-recv,-send,-data")


def _start_servers(resolver: _ZoneResolver) -> tuple[int, list[DNSServer]]:
    for _ in range(20):
        udp = DNSServer(
            resolver, address="127.0.0.1", port=0, handler=_TruncatingHandler,
            logger=_QuietLogger(),
        )
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(
                resolver, address="127.0.0.1", port=port, tcp=True,
                handler=_TruncatingHandler, logger=_QuietLogger(),
            )
        except OSError:
            udp.server.server_close()
            continue
        udp.start_thread()
        tcp.start_thread()
        return port, [udp, tcp]
    raise RuntimeError("no free port for UDP and TCP on 127.0.0.1")


@pytest.fixture(scope="session")
def dns_server() -> Iterator[tuple[Zone, int]]:
    """One server for the session; each test gets an emptied zone through `zone`."""
    zone = Zone()
    port, servers = _start_servers(_ZoneResolver(zone))
    yield zone, port
    for server in servers:
        server.stop()
        server.server.server_close()


@pytest.fixture
def zone(dns_server: tuple[Zone, int]) -> Zone:
    zone, _ = dns_server
    zone.records.clear()
    zone.drop.clear()
    zone.servfail.clear()
    zone.queries.clear()
    zone.tcp_queries.clear()
    return zone


@pytest.fixture
def resolver(dns_server: tuple[Zone, int], zone: Zone) -> dns.asyncresolver.Resolver:
    """Our resolver, pointed only at the loopback server; short timeouts for the drop cases."""
    _, port = dns_server
    return make_resolver(["127.0.0.1"], port=port, timeout=0.3, lifetime=0.8)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""A running ``tidings serve`` applies the admin's server settings without a restart: a
service moved to a new port listens there and no longer on the old one, a service switched
off stops accepting, allow/deny lists turn clients away at the next connection, and a new
TLS certificate is served on new connections."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.admin.certs import make_pair
from tests.admin.test_live_settings import store_for
from tests.admin.test_settings import error_of, post
from tests.cli import free_port, start_serve, use_free_ports
from tests.web.conftest import PASSWORD, csrf_token, login

BOSS = "boss@example.com"


@pytest.fixture
async def running(data: Path, db_env: dict[str, str], database_url: str
                  ) -> AsyncIterator[tuple[dict[str, int], httpx.AsyncClient]]:
    """``tidings serve`` on free ports, and a web client signed in as an administrator."""
    ports = use_free_ports(data)
    store = store_for(data, database_url)
    try:
        await store.accounts.create(BOSS, PASSWORD, is_admin=True)
    finally:
        await store.close()
    proc, _ = start_serve(data, db_env, until="pop3s listening")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['web']}",
                                     timeout=30) as client:
            assert (await login(client, BOSS)).status_code == 303
            yield ports, client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def greeting(port: int, tls: bool = False) -> bytes:
    """The first line a service sends a new client (b"" when it hangs up at once)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        if not tls:
            return raw.makefile("rb").readline()
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(raw) as wrapped:
            return wrapped.makefile("rb").readline()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def served_certificate(port: int) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw) as wrapped:
        return x509.load_der_x509_certificate(wrapped.getpeercert(binary_form=True))


async def test_ports_and_switches_are_applied_at_once(
        running: tuple[dict[str, int], httpx.AsyncClient]) -> None:
    ports, admin = running
    assert greeting(ports["imap"]).startswith(b"* OK")
    assert greeting(ports["pop3"]).startswith(b"+OK")
    new = free_port()
    response = await post(admin, "/admin/server", {"ports.imap": str(new),
                                                   "services.pop3": None})
    assert response.status_code == 303, response.text
    assert greeting(new).startswith(b"* OK")  # applied before the page answered
    assert refused(ports["imap"])
    assert refused(ports["pop3"])
    assert greeting(ports["pop3s"], tls=True).startswith(b"+OK")  # the others keep going
    dashboard = (await admin.get("/admin")).text
    rows = dict(re.findall(r"<td>(\w+)</td>\s*<td><code>([^<]+)</code></td>", dashboard))
    assert rows["imap"] == f"127.0.0.1:{new}"
    assert "<td>pop3</td>" in dashboard and "switched off" in dashboard
    # Switched back on, POP3 listens again where it was.
    response = await post(admin, "/admin/server", {"services.pop3": "on"})
    assert response.status_code == 303
    assert greeting(ports["pop3"]).startswith(b"+OK")


async def test_a_port_taken_by_another_program_changes_nothing(
        running: tuple[dict[str, int], httpx.AsyncClient]) -> None:
    ports, admin = running
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        response = await post(admin, "/admin/server", {"ports.smtp": str(port)})
        assert response.status_code == 400
        assert "already in use" in error_of(response.text, "ports.smtp")
    assert greeting(ports["smtp"]).startswith(b"220")


async def test_deny_lists_turn_the_next_client_away(
        running: tuple[dict[str, int], httpx.AsyncClient]) -> None:
    ports, admin = running
    response = await post(admin, "/admin/access", {"smtp.deny.smtp": "127.0.0.0/8",
                                                   "access.deny.imap": "127.0.0.1"})
    assert response.status_code == 303, response.text
    assert greeting(ports["smtp"]).startswith(b"554 5.7.1 access denied for 127.0.0.1")
    assert greeting(ports["imap"]) == b""
    assert greeting(ports["submission"]).startswith(b"220")
    assert greeting(ports["imaps"], tls=True).startswith(b"* OK")
    response = await post(admin, "/admin/access", {"smtp.deny.smtp": "",
                                                   "access.deny.imap": ""})
    assert response.status_code == 303
    assert greeting(ports["smtp"]).startswith(b"220")
    assert greeting(ports["imap"]).startswith(b"* OK")


async def test_a_new_certificate_is_served_on_new_connections(
        running: tuple[dict[str, int], httpx.AsyncClient]) -> None:
    ports, admin = running
    before = served_certificate(ports["imaps"])
    assert before.issuer == before.subject  # tidings init's self-signed one
    cert, key = make_pair("mail.example.com", issuer="Office CA")
    token = csrf_token((await admin.get("/admin/tls")).text)
    response = await admin.post("/admin/tls", data={"csrf_token": token, "confirm": "yes"},
                                files={"certificate": ("c.pem", cert), "key": ("k.pem", key)})
    assert response.status_code == 303, response.text
    new = x509.load_pem_x509_certificate(cert)
    for service in ("imaps", "pop3s", "submissions"):
        assert served_certificate(ports[service]) == new, service
    # STARTTLS on SMTP uses the same context.
    with socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=10) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(b"EHLO client.example.org\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\n")
        assert reader.readline().startswith(b"220")
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(raw) as wrapped:
            assert x509.load_der_x509_certificate(
                wrapped.getpeercert(binary_form=True)) == new


async def test_a_new_hostname_is_used_in_greetings_at_once(
        running: tuple[dict[str, int], httpx.AsyncClient]) -> None:
    ports, admin = running
    response = await post(admin, "/admin/server", {"server.hostname": "mx.renamed.example"})
    assert response.status_code == 303, response.text
    assert b"mx.renamed.example" in greeting(ports["smtp"])
    with socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=10) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(b"EHLO client.example.org\r\n")
        assert reader.readline().startswith(b"250-mx.renamed.example")

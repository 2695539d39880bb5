"""The TLS certificate page over HTTP: what is in use, and a new certificate checked before
it is used (parses, key matches, valid today, names cover the hostname), then installed into
the TLS context the listeners share and audited."""

from __future__ import annotations

import asyncio
import ssl

import httpx
from cryptography import x509

from mailstore.store import Store
from tests.admin.certs import make_pair, other_key
from tests.admin.test_settings import error_of
from tests.web.conftest import csrf_token
from tidings.control import Control
from tidings.tls import create_self_signed, server_context


async def upload(client: httpx.AsyncClient, cert: bytes, key: bytes,
                 **extra: str) -> httpx.Response:
    token = csrf_token((await client.get("/admin/tls")).text)
    return await client.post("/admin/tls", data={"csrf_token": token, **extra}, files={
        "certificate": ("fullchain.pem", cert, "application/x-pem-file"),
        "key": ("privkey.pem", key, "application/x-pem-file")})


async def test_the_page_shows_the_certificate_in_use(
        admin: httpx.AsyncClient, control: Control) -> None:
    create_self_signed(control.live.config.tls_dir, "mail.example.com")
    page = (await admin.get("/admin/tls")).text
    assert "mail.example.com, localhost" in page
    assert "self-signed" in page
    assert "824 days left" in page


async def test_a_good_certificate_is_installed_served_and_audited(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    tls_dir = control.live.config.tls_dir
    create_self_signed(tls_dir, "mail.example.com")
    control.tls = server_context(tls_dir)
    old = await served(control.tls)
    assert old == x509.load_pem_x509_certificate((tls_dir / "cert.pem").read_bytes())
    cert, key = make_pair("mail.example.com", "example.com", days=60, issuer="Office CA")
    response = await upload(admin, cert, key)
    assert response.status_code == 303, response.text
    assert (tls_dir / "cert.pem").read_bytes() == cert
    assert (tls_dir / "key.pem").stat().st_mode & 0o777 == 0o600
    page = (await admin.get(response.headers["location"])).text
    assert "in use for every new connection" in page
    assert "Office CA" in page and "59 days left" in page
    [entry] = await store.audit.recent()
    assert entry.action == "tls certificate"
    assert entry.old_value.startswith("mail.example.com, localhost, issued by mail.example.com")
    assert entry.new_value.startswith("mail.example.com, example.com, issued by Office CA")
    assert "PRIVATE" not in str(entry.new_value)
    assert await served(control.tls) == x509.load_pem_x509_certificate(cert)


async def served(context: ssl.SSLContext) -> x509.Certificate:
    """The certificate a TLS listener using ``context`` shows a new client."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=context)
    try:
        client = ssl.create_default_context()
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        _, writer = await asyncio.open_connection(
            "127.0.0.1", server.sockets[0].getsockname()[1], ssl=client)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        return x509.load_der_x509_certificate(der)
    finally:
        server.close()


async def test_a_broken_upload_is_refused_next_to_its_field(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    tls_dir = control.live.config.tls_dir
    create_self_signed(tls_dir, "mail.example.com")
    before = (tls_dir / "cert.pem").read_bytes()
    cert, key = make_pair("mail.example.com")
    cases = [
        (b"hello", key, "certificate", "not a PEM certificate"),
        (cert, b"hello", "key", "not a PEM private key"),
        (cert, other_key(), "key", "does not belong to the certificate"),
        (make_pair("mail.example.com", days=-1, start_days_ago=30)[0], key, "certificate",
         "expired on"),
        (b"", b"", "key", "Choose the private key file"),
    ]
    for cert_pem, key_pem, field, text in cases:
        response = await upload(admin, cert_pem, key_pem)
        assert response.status_code == 400, (field, text)
        assert text in error_of(response.text, field)
        assert "Nothing was changed" in response.text
    assert (tls_dir / "cert.pem").read_bytes() == before
    assert await store.audit.recent() == []


async def test_a_certificate_for_another_name_needs_a_confirmation(
        admin: httpx.AsyncClient, control: Control) -> None:
    tls_dir = control.live.config.tls_dir
    create_self_signed(tls_dir, "mail.example.com")
    cert, key = make_pair("www.example.org")
    response = await upload(admin, cert, key)
    assert response.status_code == 400
    assert "hostname mail.example.com: mail programs will warn" in response.text
    assert (tls_dir / "cert.pem").read_bytes() != cert
    response = await upload(admin, cert, key, confirm="yes")
    assert response.status_code == 303
    assert (tls_dir / "cert.pem").read_bytes() == cert


async def test_a_wildcard_certificate_covers_the_hostname(
        admin: httpx.AsyncClient, control: Control) -> None:
    create_self_signed(control.live.config.tls_dir, "mail.example.com")
    cert, key = make_pair("*.example.com")
    assert control.check_certificate(cert, key).warnings == ()
    response = await upload(admin, cert, key)
    assert response.status_code == 303


async def test_a_certificate_renewed_on_disk_is_served_without_a_restart(
        control: Control) -> None:
    tls_dir = control.live.config.tls_dir
    create_self_signed(tls_dir, "mail.example.com")
    control.tls = server_context(tls_dir)
    control.reload_certificate_if_changed()
    old = await served(control.tls)
    assert control.reload_certificate_if_changed() == ""  # nothing changed
    cert, key = make_pair("mail.example.com", issuer="Renewing CA")
    (tls_dir / "cert.pem").write_bytes(cert)  # as certbot's deploy step would, key last
    problem = control.reload_certificate_if_changed()
    assert "KEY_VALUES_MISMATCH" in problem or "key values mismatch" in problem.lower()
    assert await served(control.tls) == old  # a half-copied pair is not used
    (tls_dir / "key.pem").write_bytes(key)
    assert control.reload_certificate_if_changed() == ""
    assert await served(control.tls) == x509.load_pem_x509_certificate(cert)

"""Greeting, capabilities, TLS and authentication over real sockets."""

from __future__ import annotations

import base64
import imaplib
import socket

import pytest

from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, client_tls, start_imap


async def test_login_with_the_right_password_and_refusal_with_a_wrong_one(
        imap: LiveImap) -> None:
    def scenario() -> tuple[bytes, str]:
        good = imap.client()
        typ, data = good.login("ann@example.com", PASSWORD)
        assert typ == "OK"
        good.logout()
        bad = imap.client()
        with pytest.raises(imaplib.IMAP4.error) as caught:
            bad.login("ann@example.com", "wrong password")
        bad.logout()
        return data[0], str(caught.value)

    ok_text, refusal = await client_thread(scenario)
    assert b"CAPABILITY" in ok_text and b"UIDPLUS" in ok_text
    assert "AUTHENTICATIONFAILED" in refusal


async def test_loopback_counts_as_secure_but_otherwise_login_needs_tls(
        store: Store, account, tls_dir) -> None:
    live = await start_imap(store, tls_dir, loopback_is_secure=False)
    try:
        def scenario() -> tuple[tuple, str, tuple]:
            imap = live.client()
            before = imap.capabilities
            with pytest.raises(imaplib.IMAP4.error) as caught:
                imap.login("ann@example.com", PASSWORD)
            imap.starttls(client_tls())
            after = imap.capabilities
            assert imap.login("ann@example.com", PASSWORD)[0] == "OK"
            imap.logout()
            return before, str(caught.value), after

        before, refusal, after = await client_thread(scenario)
        assert "LOGINDISABLED" in before and "STARTTLS" in before
        assert "PRIVACYREQUIRED" in refusal
        assert "LOGINDISABLED" not in after and "STARTTLS" not in after
        assert "AUTH=PLAIN" in after
    finally:
        await live.server.close()


async def test_implicit_tls_port_logs_in(imap: LiveImap) -> None:
    def scenario() -> str:
        client = imaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls(),
                                   timeout=20)
        typ, _ = client.login("ann@example.com", PASSWORD)
        client.logout()
        return typ

    assert await client_thread(scenario) == "OK"


async def test_authenticate_plain_with_continuation_and_with_sasl_ir(imap: LiveImap) -> None:
    token = base64.b64encode(b"\0ann@example.com\0" + PASSWORD.encode())

    def scenario() -> tuple[str, bytes, bytes]:
        client = imap.client()
        typ, _ = client.authenticate(
            "PLAIN", lambda _challenge: b"\0ann@example.com\0" + PASSWORD.encode())
        client.logout()
        with socket.create_connection(("127.0.0.1", imap.port), timeout=20) as raw:
            reader = raw.makefile("rb")
            reader.readline()
            raw.sendall(b"a AUTHENTICATE PLAIN " + token + b"\r\n")
            ir = reader.readline()
            bogus = base64.b64encode(b"\0ann@example.com\0nope")
            raw.sendall(b"b LOGOUT\r\n")
            reader.readline()
            reader.readline()
        with socket.create_connection(("127.0.0.1", imap.port), timeout=20) as raw:
            reader = raw.makefile("rb")
            reader.readline()
            raw.sendall(b"a AUTHENTICATE PLAIN " + bogus + b"\r\n")
            wrong = reader.readline()
        return typ, ir, wrong

    typ, ir, wrong = await client_thread(scenario)
    assert typ == "OK"
    assert ir.startswith(b"a OK")
    assert wrong.startswith(b"a NO [AUTHENTICATIONFAILED]")


async def test_commands_need_the_right_state(imap: LiveImap) -> None:
    def scenario() -> list[bytes]:
        with socket.create_connection(("127.0.0.1", imap.port), timeout=20) as raw:
            reader = raw.makefile("rb")
            reader.readline()
            raw.sendall(b"a SELECT INBOX\r\nb FETCH 1 FLAGS\r\n")
            return [reader.readline(), reader.readline()]

    first, second = await client_thread(scenario)
    assert first.startswith(b"a BAD") and b"log in first" in first
    assert second.startswith(b"b BAD")


async def test_commands_pipelined_after_starttls_end_the_connection(imap: LiveImap) -> None:
    def scenario() -> list[bytes]:
        with socket.create_connection(("127.0.0.1", imap.port), timeout=20) as raw:
            reader = raw.makefile("rb")
            reader.readline()
            raw.sendall(b"a STARTTLS\r\nb LOGIN ann@example.com x\r\n")
            return [reader.readline(), reader.readline()]

    answer, after = await client_thread(scenario)
    assert answer.startswith(b"a BAD") and after == b""


async def test_capabilities_after_login_name_every_extension_that_works(
        imap: LiveImap) -> None:
    def scenario() -> list[str]:
        client = imap.login()
        typ, data = client.capability()
        client.logout()
        return data[0].decode().split()

    caps = set(await client_thread(scenario))
    assert caps == {
        "IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE",
        "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
        "SPECIAL-USE", "STATUS=SIZE", "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "SORT",
        "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
        f"APPENDLIMIT={imap.server.append_limit}", "UTF8=ACCEPT", "BINARY", "QUOTA",
        "QUOTA=RES-STORAGE", "MULTIAPPEND", "COMPRESS=DEFLATE",
    }

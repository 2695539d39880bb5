"""Real clients and the real command: fetchmail over STLS, and `tidings serve` restarts."""

from __future__ import annotations

import os
import poplib
import re
import shutil
import signal
import smtplib
import subprocess
from pathlib import Path

import pytest

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.cli import run, start_serve, use_free_ports
from tests.imap.conftest import client_thread, deliver, inbox, simple_message
from tests.pop3.conftest import OUTSIDE, PASSWORD, start_pop3
from tests.pop3.test_maildrop import dotted_corpus_messages

FETCHMAIL = shutil.which("fetchmail")


def fetchmail_rc(home: Path, host: str, port: int, mda: Path) -> Path:
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no syslog\nset invisible\n"
        f'poll {host} protocol pop3 port {port} timeout 30\n'
        f'    user "ann@example.com" there with password "{PASSWORD}" is "ann" here\n'
        # STLS with TLS 1.2 or newer, required; the test certificate is self-signed.
        "    sslproto 'tls1.2+' no sslcertck\n"
        "    no rewrite\n"
        f'    mda "{mda}"\n')
    rc.chmod(0o600)
    return rc


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed (Debian fetchmail)")
async def test_fetchmail_downloads_over_stls_and_deletes_after_quit(
        store: Store, account: AccountInfo, tls_dir, tmp_path: Path) -> None:
    raws = dotted_corpus_messages(4) + [simple_message("Plain one")]
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, raws)
    # Listening outside loopback: a login without STLS would be refused.
    live = await start_pop3(store, tls_dir, host=OUTSIDE)
    out = tmp_path / "delivered"
    out.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text(f'#!/bin/sh\ncat > "{out}/msg.$$"\n')
    mda.chmod(0o755)
    rc = fetchmail_rc(tmp_path, OUTSIDE, live.port, mda)
    try:
        result = await client_thread(lambda: subprocess.run(
            [FETCHMAIL, "-f", str(rc), "-v", "--nodetach"], capture_output=True, text=True,
            env={**os.environ, "FETCHMAILHOME": str(tmp_path), "HOME": str(tmp_path)},
            timeout=120))
    finally:
        await live.server.close()
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "POP3> STLS" in log and "upgrade to TLS succeeded" in log
    got = sorted(_lf(p.read_bytes()) for p in out.iterdir())
    assert got == sorted(_lf(r) for r in raws)
    assert await store.messages.uids(folder_id) == []


def _lf(raw: bytes) -> bytes:
    """fetchmail hands an MDA LF line ends; compare messages in that form."""
    return re.sub(rb"\r\n", b"\n", raw)


def test_uidls_survive_a_restart_of_tidings_serve(data: Path, db_env: dict[str, str]) -> None:
    ports = use_free_ports(data)
    run("user", "add", "ann@example.com", "--password-stdin", "--data", str(data),
        env=db_env, stdin=f"{PASSWORD}\n")

    def serve() -> subprocess.Popen[str]:
        proc, lines = start_serve(data, db_env, until="pop3s listening")
        assert f"tidings: pop3 listening on 127.0.0.1:{ports['pop3']}\n" in lines, lines
        return proc

    def uidls() -> list[bytes]:
        pop = poplib.POP3("127.0.0.1", ports["pop3"], timeout=20)
        pop.user("ann@example.com")
        pop.pass_(PASSWORD)
        listing = pop.uidl()[1]
        pop.quit()
        return [line.split(b" ")[1] for line in listing]

    def stop(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0

    proc = serve()
    try:
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as client:
            for i in range(3):
                client.sendmail("zed@example.org", ["ann@example.com"],
                                f"Subject: n{i}\r\nMessage-ID: <p{i}@x>\r\n\r\n.hi\r\n")
        before = uidls()
        pop = poplib.POP3("127.0.0.1", ports["pop3"], timeout=20)
        pop.user("ann@example.com")
        pop.pass_(PASSWORD)
        pop.dele(1)
        pop.quit()
        after_delete = uidls()
    finally:
        stop(proc)
    proc = serve()
    try:
        after_restart = uidls()
        ssl_pop = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], timeout=20,
                                  context=_insecure())
        assert "USER" in ssl_pop.capa()
        ssl_pop.quit()
    finally:
        stop(proc)
    assert len(before) == 3 and len(set(before)) == 3
    assert after_delete == before[1:]
    assert after_restart == before[1:]


def _insecure():
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context

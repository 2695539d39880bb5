"""The ``tidings`` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailstore.blobs import BlobStore
from tests.cli import TIMEOUT, assert_one_line_error, run, start_serve, use_free_ports
from tests.corpus import message_files


@pytest.fixture(scope="session")
def corpus_maildir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for n, path in enumerate(message_files("real-mail")):
        os.link(path, root / "cur" / f"{1600000000 + n}.M{n}.corpus:2,S")
    return root


def sha_set(paths) -> list[str]:
    return sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)


def test_init_creates_config_database_certificate_and_admin(tmp_path: Path,
                                                            db_env: dict[str, str]) -> None:
    folder = tmp_path / "data"
    out = run("init", "--data", str(folder), env=db_env).stdout
    assert "admin account: admin@localhost" in out
    password = out.split("password: ")[1].split()[0]
    assert len(password) >= 12
    assert (folder / "tidings.toml").exists() and (folder / "tls" / "cert.pem").exists()
    again = run("init", "--data", str(folder), env=db_env)
    assert "nothing changed" in again.stdout
    assert password not in again.stdout


def test_data_folder_comes_from_environment_then_cwd(tmp_path: Path,
                                                     db_env: dict[str, str]) -> None:
    env = {**db_env, "TIDINGS_DATA": str(tmp_path / "envdata")}
    run("init", env=env)
    assert (tmp_path / "envdata" / "tidings.toml").exists()
    result = subprocess.run([sys.executable, "-m", "tidings.cli", "init"], cwd=tmp_path,
                            capture_output=True, text=True, env={**os.environ, **db_env},
                            timeout=TIMEOUT)
    assert result.returncode == 0 and (tmp_path / "data" / "tidings.toml").exists()


def test_domains_and_users_are_managed_from_the_command_line(data: Path,
                                                             db_env: dict[str, str]) -> None:
    d = ["--data", str(data)]
    run("domain", "add", "Example.org", *d, env=db_env)
    assert "example.org\t0 account(s)" in run("domain", "list", *d, env=db_env).stdout
    run("user", "add", "bob@example.org", "--password-stdin", "--quota", "2G", *d,
        env=db_env, stdin="s3cret-password\n")
    run("user", "add", "eve@example.org", "--password-stdin", "--admin", *d,
        env=db_env, stdin="another-password\n")
    listing = run("user", "list", *d, env=db_env).stdout
    assert f"bob@example.org\tuser\tused 0 of {2 * 1024 ** 3} bytes" in listing
    assert "eve@example.org\tadmin" in listing
    run("user", "passwd", "bob@example.org", "--password-stdin", *d, env=db_env,
        stdin="changed-password\n")
    run("user", "remove", "bob@example.org", *d, env=db_env)
    assert "bob@example.org" not in run("user", "list", *d, env=db_env).stdout
    assert_one_line_error(run("domain", "remove", "example.org", *d, env=db_env, check=False),
                          "still has 1 account")


def test_aliases_and_lists_are_managed_from_the_command_line(data: Path,
                                                             db_env: dict[str, str]) -> None:
    d = ["--data", str(data)]
    run("alias", "add", "sales@example.com", "admin@example.com", *d, env=db_env)
    run("alias", "add", "*@example.com", "admin@example.com", *d, env=db_env)
    assert run("alias", "list", *d, env=db_env).stdout.splitlines() == [
        "*@example.com\tadmin@example.com", "sales@example.com\tadmin@example.com"]
    run("alias", "remove", "*@example.com", "admin@example.com", *d, env=db_env)
    assert_one_line_error(run("alias", "remove", "*@example.com", "admin@example.com", *d,
                              env=db_env, check=False), "does not exist")
    run("list", "add", "team@example.com", "--policy", "members", "--prefix", "[team]", *d,
        env=db_env)
    run("list", "join", "team@example.com", "admin@example.com", *d, env=db_env)
    run("list", "join", "team@example.com", "boss@else.org", "--sender", *d, env=db_env)
    assert run("list", "show", *d, env=db_env).stdout.splitlines() == [
        "team@example.com\twho may post: members; prefix '[team]'",
        "    member admin@example.com", "    sender boss@else.org"]
    assert_one_line_error(run("list", "add", "sales@example.com", *d, env=db_env,
                              check=False), "already an account, alias or list")
    run("list", "leave", "team@example.com", "admin@example.com", *d, env=db_env)
    run("list", "remove", "team@example.com", *d, env=db_env)
    assert run("list", "show", *d, env=db_env).stdout == ""


def test_bad_input_gets_one_clear_line_and_non_zero_exit(tmp_path: Path, data: Path,
                                                         db_env: dict[str, str]) -> None:
    d = ["--data", str(data)]
    assert_one_line_error(run("user", "list", "--data", str(tmp_path / "missing"),
                              check=False), "does not exist")
    assert_one_line_error(
        run("user", "list", *d, env={"TIDINGS_DATABASE_URL": "mysql://x@y/z"}, check=False),
        "is not supported")
    assert_one_line_error(
        run("user", "list", *d, check=False,
            env={"TIDINGS_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}),
        "cannot open the database")
    not_mbox = tmp_path / "notes.txt"
    not_mbox.write_text("just some notes\n")
    assert_one_line_error(run("import", "admin@example.com", str(not_mbox), *d, env=db_env,
                              check=False), "is not an mbox file or a Maildir")
    assert_one_line_error(run("import", "nobody@example.com", str(not_mbox), *d, env=db_env,
                              check=False), "does not exist")
    assert_one_line_error(run("user", "add", "x@nowhere.org", "--password-stdin", *d,
                              env=db_env, stdin="long-enough-pw\n", check=False),
                          "not a local domain")
    assert_one_line_error(run("user", "add", "y@example.com", "--password-stdin", *d,
                              env=db_env, stdin="nine-char\n", check=False),
                          "at least 10 characters")
    (data / "tidings.toml").write_text("[ports]\nweb = 99999\n")
    assert_one_line_error(run("serve", *d, env=db_env, check=False), "not a port number")


def test_whole_real_mail_corpus_imports_and_exports_byte_identical(
        data: Path, db_env: dict[str, str], corpus_maildir: Path, tmp_path: Path) -> None:
    d = ["--data", str(data)]
    out = run("import", "admin@example.com", str(corpus_maildir), *d, env=db_env).stdout
    total = sum(1 for _ in (corpus_maildir / "cur").iterdir())
    assert f"imported {total} message(s) into 1 folder(s); skipped 0" in out
    blobs = BlobStore(data / "blobs").files()
    assert sha_set(blobs) == sha_set((corpus_maildir / "cur").iterdir())
    run("export", "admin@example.com", str(tmp_path / "out"), *d, env=db_env)
    assert sha_set((tmp_path / "out" / "cur").iterdir()) == sha_set(blobs)


def test_mbox_import_reports_skipped_messages(data: Path, db_env: dict[str, str],
                                              tmp_path: Path) -> None:
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(
        b"From a@example.com Thu Jan  1 00:00:00 2015\nSubject: one\n\nfirst\n\n"
        b"From b@example.com Fri Jan  2 00:00:00 2015\nSubject: two\nStatus: RO\n\nsecond\n")
    out = run("import", "admin@example.com", str(mbox), "--folder", "Old/2015",
              "--data", str(data), env=db_env).stdout
    assert "imported 2 message(s) into 1 folder(s); skipped 0" in out


def test_serve_refuses_a_port_that_is_taken(data: Path, db_env: dict[str, str]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        config = (data / "tidings.toml").read_text().replace("web = 8080", f"web = {port}")
        (data / "tidings.toml").write_text(config)
        assert_one_line_error(run("serve", "--data", str(data), env=db_env, check=False),
                              f"cannot listen on 127.0.0.1:{port} for web: address already")


def test_serve_refuses_a_data_folder_it_cannot_write(data: Path,
                                                     db_env: dict[str, str]) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits; the immutable attribute stops root too.
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(data)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a folder unwritable for root on this filesystem")
    else:
        data.chmod(0o555)
    try:
        assert_one_line_error(run("serve", "--data", str(data), env=db_env, check=False),
                              "is not writable")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(data)], check=True)
        else:
            data.chmod(0o755)


def test_serve_answers_on_the_configured_ports_and_stops_on_sigterm(
        data: Path, db_env: dict[str, str]) -> None:
    import imaplib
    import smtplib
    import ssl

    import httpx

    ports = use_free_ports(data)
    run("user", "add", "ann@example.com", "--password-stdin", "--data", str(data),
        env=db_env, stdin="correct horse battery\n")
    proc, lines = start_serve(data, db_env, until="imaps listening")
    try:
        assert f"web listening on http://127.0.0.1:{ports['web']}/" in lines[0], lines
        for name in ("smtp", "submission", "submissions", "imap", "imaps"):
            assert f"tidings: {name} listening on 127.0.0.1:{ports[name]}\n" in lines, lines
        response = httpx.get(f"http://127.0.0.1:{ports['web']}/login", timeout=10)
        assert response.status_code == 200 and "password" in response.text.lower()
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as client:
            client.sendmail("zed@example.org", ["ann@example.com"],
                            b"Subject: through serve\r\nMessage-ID: <serve.1@x>\r\n\r\nhi\r\n")
        with imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=10) as imap:
            assert "STARTTLS" in imap.capabilities
            imap.login("ann@example.com", "correct horse battery")
            imap.select("INBOX")
            assert imap.search(None, "SUBJECT", '"through serve"')[1] == [b"1"]
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=context,
                               timeout=10) as imaps:
            assert "IMAP4REV2" in imaps.capabilities
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    trace = run("trace", "--from", "zed@", "--since", "1h", "--data", str(data),
                env=db_env).stdout
    assert "accepted" in trace and "<serve.1@x>" in trace and "<ann@example.com>" in trace
    assert run("trace", "--to", "nobody", "--data", str(data), env=db_env).stdout.strip() \
        == "no transactions match"
    bad = run("trace", "--since", "yesterday-ish", "--data", str(data), env=db_env,
              check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].endswith(
        "'yesterday-ish' is not a time (for example 2026-12-01, 2026-12-01T09:30 or 2h)")


def test_killed_import_keeps_every_message_it_reported(
        data: Path, db_env: dict[str, str], corpus_maildir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tidings.cli", "import", "admin@example.com",
         str(corpus_maildir), "--data", str(data)],
        env={**os.environ, **db_env}, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True)
    reported = 0
    deadline = time.monotonic() + 120
    while reported < 1000 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("imported "):
            reported = int(line.split()[1])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert reported >= 1000
    listing = run("user", "list", "--data", str(data), env=db_env).stdout
    assert "admin@example.com" in listing
    # Every reported message is there, readable and searchable.
    script = f"""
import asyncio, sys
from tidings.runtime import Runtime
from mailstore import search as S
async def main():
    rt = await Runtime.open({str(data)!r})
    acct = await rt.store.accounts.get("admin@example.com")
    inbox = await rt.store.folders.get(acct.id, "INBOX")
    uids = await rt.store.messages.uids(inbox.id)
    for uid in uids[:: max(1, len(uids) // 50)]:
        m = await rt.store.messages.get(inbox.id, uid)
        rt.store.messages.read_raw(m.sha256)
    hits = await rt.store.search.folder(inbox.id, S.Text("text", "e"))
    print(len(uids), inbox.messages, len(hits))
    await rt.close()
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, **db_env}, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    present, counted, searchable = map(int, out.stdout.split())
    assert present >= reported and present == counted and searchable > 0
    # Its parsing workers do not outlive it.
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(data)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(data)) == []


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found

"""Nothing lost: SIGKILL of ``tidings serve`` in the middle of a load from several clients.

After the kill, every message that got 250 is in its mailbox exactly once, byte for byte,
and nothing that was stored is only half there (every stored message is one that a client
sent, whole, with its blob readable).
"""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import threading
import time
from pathlib import Path

from tests.cli import run, start_serve, use_free_ports

CLIENTS = 6
KILL_AFTER = 3000  # acknowledged messages
BODY = b"".join(b"line %04d of a message that must arrive whole\r\n" % i for i in range(40))


def message(client: int, n: int) -> bytes:
    return (f"From: load{client}@example.org\r\nTo: ann@example.com\r\n"
            f"Subject: load {client}.{n}\r\nMessage-ID: <load.{client}.{n}@example.org>\r\n"
            "\r\n").encode() + BODY


def load(port: int, client: int, acked: list[int], stop: threading.Event) -> None:
    """Sends until the server dies; appends n to ``acked`` only after a 250."""
    n = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            while not stop.is_set():
                smtp.sendmail(f"load{client}@example.org", ["ann@example.com"],
                              message(client, n))
                acked.append(n)
                n += 1
    except (OSError, smtplib.SMTPException):
        return  # the server was killed


def test_sigkill_during_a_load_loses_no_acknowledged_message(
        data: Path, db_env: dict[str, str]) -> None:
    ports = use_free_ports(data)
    run("user", "add", "ann@example.com", "--password-stdin", "--data", str(data),
        env=db_env, stdin="correct horse battery\n")
    proc, _ = start_serve(data, db_env)
    acked: list[list[int]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(ports["smtp"], c, acked[c], stop))
               for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 240
    while sum(map(len, acked)) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert sum(map(len, acked)) >= KILL_AFTER

    stored = asyncio.run(stored_messages(data, db_env))
    subjects = [subject for subject, _ in stored]
    for client, numbers in enumerate(acked):
        for n in numbers:
            assert subjects.count(f"load {client}.{n}") == 1, f"load {client}.{n}"
    for subject, raw in stored:
        client, n = map(int, subject.split()[1].split("."))
        assert raw.endswith(b"\r\n" + message(client, n)), f"{subject} is not whole"


async def stored_messages(data: Path, db_env: dict[str, str]) -> list[tuple[str, bytes]]:
    os.environ.update(db_env)
    try:
        from tidings.runtime import Runtime

        runtime = await Runtime.open(str(data))
    finally:
        for key in db_env:
            os.environ.pop(key, None)
    try:
        store = runtime.store
        account = await store.accounts.get("ann@example.com")
        inbox = await store.folders.get(account.id, "INBOX")
        out = []
        for uid, sha, *_ in await store.messages.blob_refs(inbox.id):
            out.append(((await store.messages.get(inbox.id, uid)).subject,
                        store.messages.read_raw(sha)))
        return out
    finally:
        await runtime.close()

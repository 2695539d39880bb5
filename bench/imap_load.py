"""bench/imap_load: a mixed load of IMAP clients, and the memory of many idling ones.

Runs a real ``tidings serve`` on a fresh data folder (SQLite, or PostgreSQL with
--postgres): 10 accounts with 300 real messages each in INBOX.
1. Mixed load: ``--clients`` sessions (5 per account by default), each logging in once and
   then doing what mail clients do, picked at random: FETCH of headers, FETCH of a whole
   body, STORE of flags, SEARCH, APPEND, EXPUNGE of what it appended, a short IDLE and NOOP.
   Prints operations/s, per-operation p50/p99 and the error count (must be 0).
2. Memory: ``--idlers`` sessions log in, SELECT INBOX and IDLE; prints the server's
   resident memory before and after (target: under 500 MB for 5,000).
    .venv/bin/python bench/imap_load.py [--clients 50] [--seconds 30] [--idlers 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from common import REPO, message_files, percentiles, pg_create, pg_drop

ACCOUNTS = 10
MESSAGES = 300
PASSWORD = "bench-password"


class Session:
    """A raw IMAP client: one command at a time, reads to its tagged answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.n = reader, writer, 0

    @classmethod
    async def open(cls, port: int) -> Session:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        await reader.readline()
        return cls(reader, writer)

    async def command(self, text: str | bytes, literal: bytes | None = None) -> bytes:
        self.n += 1
        tag = b"T%d" % self.n
        line = text.encode() if isinstance(text, str) else text
        if literal is not None:
            line += b" {%d+}\r\n" % len(literal) + literal
        self.writer.write(tag + b" " + line + b"\r\n")
        while True:
            answer = await self.reader.readline()
            if not answer:
                raise ConnectionError("server closed the connection")
            if answer.startswith(tag + b" "):
                status = answer.split(b" ", 2)[1]
                if status != b"OK":
                    raise RuntimeError(f"{line[:60]!r}: {answer[:200]!r}")
                return answer
            if answer.endswith(b"}\r\n"):  # a literal in a response: skip its bytes
                size = int(answer[answer.rindex(b"{") + 1:-3])
                await self.reader.readexactly(size)

    async def idle(self, seconds: float) -> None:
        self.n += 1
        tag = b"T%d" % self.n
        self.writer.write(tag + b" IDLE\r\n")
        while not (await self.reader.readline()).startswith(b"+"):
            pass
        await asyncio.sleep(seconds)
        self.writer.write(b"DONE\r\n")
        while not (await self.reader.readline()).startswith(tag + b" "):
            pass


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tidings(*args: str, env: dict[str, str], stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "tidings.cli", *args], check=True, env=env,
                   input=stdin, text=True, capture_output=True, cwd=REPO)


def prepare(data: Path, env: dict[str, str]) -> int:
    """A data folder with the accounts and their mail; returns the IMAP port."""
    from tidings.config import DEV_PORTS

    tidings("init", "--data", str(data), "--admin", "admin@example.com", env=env)
    corpus = [p for i, p in enumerate(message_files("real-mail")) if i % 40 == 0]
    for n in range(ACCOUNTS):
        address = f"user{n}@example.com"
        tidings("user", "add", address, "--password-stdin", "--data", str(data), env=env,
                stdin=PASSWORD + "\n")
        maildir = data.parent / f"maildir{n}"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        for i, path in enumerate(corpus[:MESSAGES]):
            flags = "S" if i % 3 else ""
            os.link(path, maildir / "cur" / f"{1600000000 + i}.M{i}.bench:2,{flags}")
        tidings("import", address, str(maildir), "--data", str(data), env=env)
    config = (data / "tidings.toml").read_text()
    port = 0
    for name, default in DEV_PORTS.items():
        chosen = free_port()
        port = chosen if name == "imap" else port
        config = config.replace(f"\n{name} = {default}\n", f"\n{name} = {chosen}\n")
    (data / "tidings.toml").write_text(config)
    return port


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def client(port: int, n: int, until: float, timings: dict[str, list[float]],
                 errors: list[str]) -> None:
    rng = random.Random(n)
    try:
        session = await Session.open(port)
        await session.command(f'LOGIN user{n % ACCOUNTS}@example.com "{PASSWORD}"')
        await session.command("SELECT INBOX")
    except Exception as exc:
        errors.append(f"login: {exc}")
        return
    message = (b"From: load@example.org\r\nTo: user@example.com\r\nSubject: load %d\r\n\r\n"
               % n) + b"body line\r\n" * 100
    operations = {
        "fetch headers": lambda: session.command(
            "FETCH 1:20 (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])"),
        "fetch body": lambda: session.command(
            f"UID FETCH {rng.randint(1, MESSAGES)} (BODY.PEEK[])"),
        "store flags": lambda: session.command(
            f"UID STORE {rng.randint(1, MESSAGES)} {rng.choice('+-')}FLAGS.SILENT (\\Seen)"),
        "search": lambda: session.command(
            f"UID SEARCH {rng.choice(['UNSEEN', 'SUBJECT patch', 'FROM gmail', 'BODY kernel'])}"),
        "append": lambda: session.command("APPEND INBOX (\\Seen)", message),
        "expunge": lambda: expunge(session),
        "idle": lambda: session.idle(0.2),
        "noop": lambda: session.command("NOOP"),
    }
    weights = [30, 15, 20, 10, 8, 4, 3, 10]
    names = list(operations)
    while time.monotonic() < until:
        name = rng.choices(names, weights)[0]
        start = time.perf_counter()
        try:
            await operations[name]()
        except Exception as exc:
            errors.append(f"{name}: {exc}")
            continue
        timings[name].append((time.perf_counter() - start) * 1000)
    session.writer.close()


async def expunge(session: Session) -> bytes:
    """Deletes this session's appended mail (Subject "load …"), never the corpus."""
    answer = b""
    session.n += 1
    tag = b"T%d" % session.n
    session.writer.write(tag + b' UID SEARCH SUBJECT "load "\r\n')
    uids: list[bytes] = []
    while True:
        line = await session.reader.readline()
        if line.startswith(b"* SEARCH"):
            uids = line.split()[2:]
        if line.startswith(tag + b" "):
            break
    if uids:
        some = b",".join(uids[:5])
        await session.command(b"UID STORE " + some + b" +FLAGS.SILENT (\\Deleted)")
        answer = await session.command(b"UID EXPUNGE " + some)
    return answer


async def mixed_load(port: int, clients: int, seconds: float) -> None:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    until = time.monotonic() + seconds
    start = time.perf_counter()
    await asyncio.gather(*(client(port, n, until, timings, errors) for n in range(clients)))
    elapsed = time.perf_counter() - start
    total = sum(len(v) for v in timings.values())
    print(f"mixed load: {clients} clients, {elapsed:.0f} s: {total / elapsed:7.0f} "
          f"operations/s, {len(errors)} errors")
    for name, samples in sorted(timings.items()):
        print(f"  {name:14s} {percentiles(samples)}")
    for error in errors[:5]:
        print(f"  error: {error}")


async def idlers(port: int, count: int, pid: int) -> None:
    before = resident_mb(pid)
    sessions: list[Session] = []
    start = time.perf_counter()
    for first in range(0, count, 100):  # logins cost ~0.1 s of CPU each (argon2)
        batch = await asyncio.gather(*(idle_session(port, n)
                                       for n in range(first, min(count, first + 100))))
        sessions.extend(batch)
    await asyncio.sleep(2)
    after = resident_mb(pid)
    print(f"idle: {len(sessions)} sessions in IDLE (set up in {time.perf_counter() - start:.0f}"
          f" s): server resident memory {before:.0f} MB before, {after:.0f} MB with them "
          f"({(after - before) * 1024 / max(1, len(sessions)):.0f} KB per session)")
    for session in sessions:
        session.writer.close()


async def idle_session(port: int, n: int) -> Session:
    session = await Session.open(port)
    await session.command(f'LOGIN user{n % ACCOUNTS}@example.com "{PASSWORD}"')
    await session.command("SELECT INBOX")
    session.writer.write(b"I IDLE\r\n")
    await session.reader.readline()
    return session


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--idlers", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    env = {**os.environ}
    pg = await pg_create() if args.postgres else None
    if args.postgres and pg is None:
        raise SystemExit("PostgreSQL is not reachable")
    if pg is not None:
        env["TIDINGS_DATABASE_URL"] = pg[1]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        port = prepare(data, env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tidings.cli", "serve", "--data", str(data)], env=env,
            stderr=subprocess.PIPE, text=True, cwd=REPO)
        while "imap listening" not in (line := proc.stderr.readline()):
            if not line:
                raise SystemExit("tidings serve did not start")
        threading.Thread(target=lambda: sys.stderr.writelines(proc.stderr), daemon=True).start()
        try:
            print(f"-- {'PostgreSQL' if pg else 'SQLite'}: {ACCOUNTS} accounts x {MESSAGES} "
                  "messages")
            if args.clients:
                await mixed_load(port, args.clients, args.seconds)
            if args.idlers:
                await idlers(port, args.idlers, proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    if pg is not None:
        await pg_drop(pg[0])


if __name__ == "__main__":
    asyncio.run(main())

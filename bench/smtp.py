"""bench/smtp: accepted-and-durable messages/s over SMTP, and the DATA→250 latency.

Runs a real ``tidings serve`` (SQLite in a fresh data folder, or PostgreSQL with
--postgres) and loads it with Postfix's ``smtp-source`` (Debian package postfix; the daemon
need not run): 10 concurrent sessions sending 10 KB messages to a local user. Then 10
aiosmtplib clients measure the time from the end of DATA to the 250 reply. It also prints
the server's CPU time per message (whole process, and its event-loop thread alone): on a
shared machine the rate swings with the other load, the CPU per message much less.
Target (SQLite, this 2-core machine): at least 500 messages/s.
    .venv/bin/python bench/smtp.py [--messages 5000] [--sessions 10] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiosmtplib
from common import REPO, percentiles, pg_create, pg_drop

BODY = b"Subject: bench\r\nFrom: a@example.org\r\nTo: alice@example.com\r\n\r\n" + (
    b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n" * 138)


def stat_seconds(path: Path) -> float:
    """User + system CPU seconds of a process or thread, from its /proc stat file."""
    fields = path.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """The server's CPU time so far: (whole process, event-loop thread)."""
    return (stat_seconds(Path(f"/proc/{pid}/stat")),
            stat_seconds(Path(f"/proc/{pid}/task/{pid}/stat")))


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each of the server's threads, by thread id."""
    return {int(task.name): stat_seconds(task / "stat")
            for task in Path(f"/proc/{pid}/task").iterdir()}


def busiest_threads(pid: int, before: dict[int, float], messages: int) -> str:
    """The busiest threads' ms per message: the event loop, the SQLite writer, the blob
    flushers... A thread that nears the wall time per message is the bottleneck."""
    after = thread_cpu(pid)
    used = sorted(((after[t] - before.get(t, 0.0), t) for t in after), reverse=True)
    return ", ".join(f"{'loop' if t == pid else t} {s / messages * 1000:.2f}"
                     for s, t in used[:5] if s > 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tidings(*args: str, env: dict[str, str], stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "tidings.cli", *args], check=True, env=env,
                   input=stdin, text=True, capture_output=True, cwd=REPO)


def start_server(data: Path, env: dict[str, str], profile: str | None = None
                 ) -> tuple[subprocess.Popen, int]:
    from tidings.config import DEV_PORTS

    config = (data / "tidings.toml").read_text()
    port = 0
    for name, default in DEV_PORTS.items():
        chosen = free_port()
        port = chosen if name == "smtp" else port
        config = config.replace(f"\n{name} = {default}\n", f"\n{name} = {chosen}\n")
    config = config.replace("check_sender_auth = true", "check_sender_auth = false")
    (data / "tidings.toml").write_text(config)
    command = [sys.executable, "-m", "tidings.cli", "serve", "--data", str(data)]
    if profile:  # py-spy's collapsed stacks, for finding where the time goes
        command = ["py-spy", "record", "-r", "200", "--threads", "--gil", "-f", "raw",
                   "-o", profile,
                   "--", *command]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=REPO)
    while "smtp listening" not in (line := proc.stderr.readline()):
        if not line:
            raise SystemExit("tidings serve did not start")
    # Keep reading what the server prints, or a full pipe would stall it.
    threading.Thread(target=lambda: sys.stderr.writelines(proc.stderr), daemon=True).start()
    return proc, port


async def latency(port: int, clients: int, per_client: int) -> list[float]:
    samples: list[float] = []

    async def one(n: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for i in range(per_client):
            await client.mail("a@example.org")
            await client.rcpt("alice@example.com")
            # aiosmtplib.data sends the dot-terminated body and waits for the reply; on
            # loopback the send of 10 KB is a few µs, so this is end-of-DATA to 250.
            start = time.perf_counter()
            await client.data(BODY + f"X-N: {n}.{i}\r\n".encode())
            samples.append((time.perf_counter() - start) * 1000)
        await client.quit()

    await asyncio.gather(*(one(n) for n in range(clients)))
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="record the server with py-spy")
    args = parser.parse_args()
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not os.path.exists(source):
        raise SystemExit("smtp-source not found: apt-get install postfix")
    env = {**os.environ}
    pg = None
    if args.postgres:
        pg = await pg_create()
        if pg is None:
            raise SystemExit("PostgreSQL is not reachable")
        env["TIDINGS_DATABASE_URL"] = pg[1]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        tidings("init", "--data", str(data), "--admin", "admin@example.com", env=env)
        tidings("user", "add", "alice@example.com", "--password-stdin", "--data", str(data),
                env=env, stdin="bench-password\n")
        proc, port = start_server(data, env, args.profile)
        try:
            cpu_before = cpu_seconds(proc.pid)
            threads_before = thread_cpu(proc.pid) if not args.profile else {}
            start = time.perf_counter()
            subprocess.run([source, "-s", str(args.sessions), "-m", str(args.messages),
                            "-l", "10240", "-f", "a@example.org", "-t", "alice@example.com",
                            f"127.0.0.1:{port}"], check=True)
            elapsed = time.perf_counter() - start
            cpu_total, cpu_loop = (b - a for a, b in zip(cpu_before, cpu_seconds(proc.pid),
                                                         strict=True))
            backend = "PostgreSQL" if args.postgres else "SQLite"
            print(f"smtp-source {backend}: {args.messages} messages of 10 KB, "
                  f"{args.sessions} sessions, in {elapsed:.1f} s = "
                  f"{args.messages / elapsed:6.0f} messages/s")
            if not args.profile:  # under py-spy the pid is py-spy's
                print(f"server CPU per message: {cpu_total / args.messages * 1000:.2f} ms "
                      f"({cpu_loop / args.messages * 1000:.2f} ms on the event-loop thread)")
                print("  by thread, ms per message: "
                      + busiest_threads(proc.pid, threads_before, args.messages))
            samples = await latency(port, 10, 100)
            print(f"end of DATA to 250 ({backend}, 10 clients): {percentiles(samples)}")
        finally:
            proc.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
            proc.wait(timeout=60)
    if pg is not None:
        await pg_drop(pg[0])


if __name__ == "__main__":
    asyncio.run(main())

"""``tidings serve`` stops promptly on SIGTERM while a browser holds /events open: uvicorn
waits for open responses, so the never-ending stream must be ended by the server."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx

from tests.cli import run, start_serve, use_free_ports

PASSWORD = "correct horse battery"


def test_serve_stops_on_sigterm_with_an_events_stream_open(
        data: Path, db_env: dict[str, str]) -> None:
    ports = use_free_ports(data)
    run("user", "add", "ann@example.com", "--password-stdin", "--data", str(data),
        env=db_env, stdin=PASSWORD + "\n")
    proc, _ = start_serve(data, db_env, until="imaps listening")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{ports['web']}", timeout=10) as client:
            token = re.search(r'name="csrf_token" value="([0-9a-f]+)"',
                              client.get("/login").text).group(1)
            signed_in = client.post("/login", data={
                "address": "ann@example.com", "password": PASSWORD, "csrf_token": token})
            assert signed_in.status_code == 303
            with client.stream("GET", "/events") as stream:
                lines = stream.iter_lines()
                assert next(line for line in lines if line.startswith("event:")) \
                    == "event: mail"
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=15) == 0
                assert time.monotonic() - started < 10
                assert not any(line.startswith("event:") for line in lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

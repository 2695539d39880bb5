"""Running the ``tidings`` command as a user does, and data folders for it (a pytest plugin:
the fixtures ``db_env`` and ``data`` are available to every test)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 300


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tidings.cli", *args], input=stdin, capture_output=True,
        text=True, env={**os.environ, **(env or {})}, timeout=TIMEOUT)
    if check and result.returncode != 0:
        raise AssertionError(f"tidings {' '.join(args)} failed:\n{result.stderr}")
    return result


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tidings: "), result.stderr
    assert text in lines[0], lines[0]


@pytest.fixture
def db_env(database_url: str) -> dict[str, str]:
    """Point the command at the test's database (SQLite: the data folder's own)."""
    if database_url.startswith("sqlite"):
        return {}
    return {"TIDINGS_DATABASE_URL": database_url}


@pytest.fixture
def data(tmp_path: Path, db_env: dict[str, str]) -> Path:
    folder = tmp_path / "data"
    run("init", "--data", str(folder), "--admin", "admin@example.com", env=db_env)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def use_free_ports(data: Path) -> dict[str, int]:
    """Give every service of the data folder a free port, so tests never collide."""
    from tidings.config import DEV_PORTS

    config = (data / "tidings.toml").read_text()
    ports: dict[str, int] = {}
    for name, default in DEV_PORTS.items():
        port = free_port()
        while port in ports.values():  # the system may hand a just-released port out again
            port = free_port()
        ports[name] = port
        config = config.replace(f"\n{name} = {default}\n", f"\n{name} = {ports[name]}\n")
    (data / "tidings.toml").write_text(config)
    return ports


def start_serve(data: Path, env: dict[str, str], until: str = "smtp listening"
                ) -> tuple[subprocess.Popen[str], list[str]]:
    """``tidings serve`` in a process; returns once it printed a line containing ``until``,
    with the lines it printed so far. The rest of its output is drained in a thread."""
    import threading

    proc = subprocess.Popen([sys.executable, "-m", "tidings.cli", "serve", "--data", str(data)],
                            env={**os.environ, **env}, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    while not lines or until not in lines[-1]:
        line = proc.stderr.readline()
        assert line, f"tidings serve stopped: {''.join(lines)}"
        lines.append(line)
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc, lines

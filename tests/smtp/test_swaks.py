"""The raw edge cases, driven by swaks (Debian package swaks), the SMTP tool of the trade."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.smtp.conftest import PASSWORD, RunningSmtp, inbox

pytestmark = pytest.mark.skipif(
    shutil.which("swaks") is None and not os.environ.get("CI"),
    reason="swaks is not installed (apt-get install swaks)")


async def swaks(smtp: RunningSmtp, port: str, *args: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run, ["swaks", "--server", f"127.0.0.1:{smtp.ports[port]}",
                         "--helo", "swaks.example.org", *args],
        capture_output=True, text=True, timeout=60)


async def test_starttls_auth_and_pipelined_recipients(smtp: RunningSmtp) -> None:
    result = await swaks(smtp, "submission", "--tls", "--pipeline",
                         "--auth", "PLAIN", "--auth-user", "ann@example.com",
                         "--auth-password", PASSWORD, "--from", "ann@example.com",
                         "--to", "bob@example.com,ann@example.com",
                         "--header", "Subject: from swaks")
    assert result.returncode == 0, result.stdout
    assert "250 2.0.0 OK" in result.stdout
    [stored] = await inbox(smtp.store, "bob@example.com")
    assert b"Subject: from swaks" in stored and b"with ESMTPSA" in stored
    assert len(await inbox(smtp.store, "ann@example.com")) == 1


async def test_pipelined_rcpts_each_get_their_answer(smtp: RunningSmtp) -> None:
    result = await swaks(smtp, "smtp", "--pipeline", "--from", "zed@example.org",
                         "--to", "nobody@example.com,bob@example.com", "--quit-after", "RCPT")
    assert "550 5.1.1 <nobody@example.com>: no such user here" in result.stdout
    assert "250 2.1.5 <bob@example.com>: recipient OK" in result.stdout


async def test_broken_auth_is_refused(smtp: RunningSmtp) -> None:
    result = await swaks(smtp, "submission", "--auth", "PLAIN", "--auth-user",
                         "ann@example.com", "--auth-password", "wrong password",
                         "--from", "ann@example.com", "--to", "bob@example.com")
    assert result.returncode != 0
    assert "535 5.7.8 authentication failed" in result.stdout
    assert await inbox(smtp.store, "bob@example.com") == []


async def test_bare_lf_in_data_is_refused(smtp: RunningSmtp, tmp_path: Path) -> None:
    data = tmp_path / "bare-lf.eml"
    data.write_bytes(b"Subject: smuggle\r\n\r\nline one\nline two\r\n.\r\n")
    result = await swaks(smtp, "smtp", "--from", "zed@example.org", "--to",
                         "ann@example.com", "--data", str(data), "--no-data-fixup")
    assert result.returncode != 0
    assert "550 5.6.11 bare LF not allowed" in result.stdout
    assert await inbox(smtp.store, "ann@example.com") == []


async def test_oversize_message_is_refused_after_data(start_smtp, tmp_path: Path) -> None:
    smtp = await start_smtp(max_message_size=2000)
    data = tmp_path / "big.eml"
    body = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n"
    data.write_bytes(body * 40 + b".\r\n")
    result = await swaks(smtp, "smtp", "--from", "zed@example.org", "--to",
                         "ann@example.com", "--data", str(data), "--no-data-fixup")
    assert result.returncode != 0
    assert f"552 5.3.4 message too big: {len(body) * 40} bytes, limit is 2000" \
        in result.stdout

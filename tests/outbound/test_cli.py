"""``tidings queue``: list, show, retry and delete what waits to be sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import assert_one_line_error, run
from tidings.runtime import Runtime


@pytest.fixture
async def entry(data: Path, db_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    for key, value in db_env.items():
        monkeypatch.setenv(key, value)
    runtime = await Runtime.open(str(data))
    try:
        queue = runtime.store.outbound
        entry_id = await queue.enqueue(
            "admin@example.com", ["bob@remote.test"],
            b"From: admin@example.com\r\nSubject: Quarterly figures\r\n\r\nHi\r\n", "webmail")
        [claimed] = await queue.claim("node", 10, 60)
        claimed.pending()[0].reply = "451 4.3.0 please try again later"
        claimed.last_error, claimed.status, claimed.attempts = claimed.pending()[0].reply, \
            "queued", 1
        claimed.history.append({"at": claimed.created_at, "host": "mx.remote.test",
                                "address": "192.0.2.9", "tls": "TLSv1.3",
                                "answers": [["bob@remote.test", claimed.last_error]]})
        claimed.next_attempt_at += 300
        await queue.save([claimed])
    finally:
        await runtime.close()
    return entry_id


def test_list_and_show_say_what_waits_and_why(data: Path, db_env: dict[str, str],
                                             entry: int) -> None:
    listing = run("queue", "list", "--data", str(data), env=db_env).stdout
    assert f"#{entry} " in listing and "<admin@example.com> -> bob@remote.test" in listing
    assert "451 4.3.0 please try again later" in listing and "1 attempt(s)" in listing
    shown = run("queue", "show", str(entry), "--data", str(data), env=db_env).stdout
    assert "mx.remote.test[192.0.2.9] TLSv1.3 <bob@remote.test>: 451 4.3.0" in shown
    assert "Subject: Quarterly figures" in shown


def test_retry_makes_it_due_and_delete_removes_it(data: Path, db_env: dict[str, str],
                                                 entry: int) -> None:
    out = run("queue", "retry", f"#{entry}", "--data", str(data), env=db_env).stdout
    assert "will be tried again now" in out
    assert "next try in 0s" in run("queue", "list", "--data", str(data), env=db_env).stdout
    run("queue", "delete", str(entry), "--data", str(data), env=db_env)
    assert "the queue is empty" in run("queue", "list", "--data", str(data), env=db_env).stdout
    missing = run("queue", "show", str(entry), "--data", str(data), env=db_env, check=False)
    assert_one_line_error(missing, f"no queue entry #{entry}")

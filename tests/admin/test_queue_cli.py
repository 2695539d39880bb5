"""The command line steers the queue like the admin page does, audited the same way:
filters on ``tidings queue list``, ``tidings queue bounce``, and ``tidings trace`` by
Message-ID and client IP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import run
from tests.outbound.test_cli import entry as entry  # noqa: F401  (fixture)
from tidings.runtime import Runtime


async def test_list_filters_and_bounce_leaves_an_audited_request(
        data: Path, db_env: dict[str, str], entry: int,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    listing = run("queue", "list", "--state", "deferred", "--to", "bob@", "--data",
                  str(data), env=db_env).stdout
    assert f"#{entry} " in listing
    none = run("queue", "list", "--state", "waiting", "--data", str(data), env=db_env).stdout
    assert "the queue is empty" in none
    out = run("queue", "bounce", str(entry), "--data", str(data), env=db_env).stdout
    assert "will be returned to <admin@example.com>" in out
    for key, value in db_env.items():
        monkeypatch.setenv(key, value)
    runtime = await Runtime.open(str(data))
    try:
        queued = await runtime.store.outbound.get(entry)
        [audit] = await runtime.store.audit.recent()
    finally:
        await runtime.close()
    assert queued.bounce_requested == "command line"
    assert (audit.actor, audit.action, audit.target) == (
        "command line", "queue.bounce", f"queue #{entry}")


async def test_trace_by_message_id_and_client_ip(data: Path, db_env: dict[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from mailstore.trace import RecipientVerdict, TraceRecord

    for key, value in db_env.items():
        monkeypatch.setenv(key, value)
    runtime = await Runtime.open(str(data))
    try:
        for n, ip in enumerate(("192.0.2.1", "192.0.2.2")):
            await runtime.store.traces.record(TraceRecord(
                at=1_800_000_000 + n, listener="smtp", client_ip=ip, verdict="accepted",
                mail_from=f"s{n}@faraway.example", message_id=f"<m{n}@faraway.example>",
                recipients=[RecipientVerdict("ann@example.com", "accepted")]))
    finally:
        await runtime.close()
    by_id = run("trace", "--message-id", "m1@faraway.example", "--data", str(data),
                env=db_env).stdout
    assert "s1@faraway.example" in by_id and "s0@" not in by_id
    by_ip = run("trace", "--ip", "192.0.2.1", "--data", str(data), env=db_env).stdout
    assert "s0@faraway.example" in by_ip and "s1@" not in by_ip

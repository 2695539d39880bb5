"""The admin's queue page: list, filters, one entry's story, retry, delete and bounce; every
change audited. Bounce is carried out by a real queue runner on a second connection to the
database (another node), which writes the delivery report to the sender's inbox."""

from __future__ import annotations

import time
from pathlib import Path

import dns.asyncresolver
import httpx

from mailstore.outbound import QUEUED, QueueFilter, enqueue_row
from mailstore.store import Store
from mailstore.values import AccountInfo
from protocols.delivery.runner import QueueRunner
from protocols.delivery.settings import DeliverySettings
from tests.web.conftest import csrf_token, make_message


async def queue(store: Store, sender: str = "ann@example.com",
                recipients: tuple[str, ...] = ("bob@faraway.example",), *,
                subject: str = "Quarterly figures", age: int = 0) -> int:
    raw = make_message(subject, sender=f"Ann <{sender}>", to=", ".join(recipients))
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return await store.db.write_sync(lambda conn: enqueue_row(
        conn, mail_from=sender, recipients=recipients, message=raw, origin="submission",
        now=int(time.time()) - age))


async def defer(store: Store, entry_id: int, reply: str, *, later: int = 3600) -> None:
    """One attempt that got 'try later', as the runner records it."""
    [entry] = [e for e in await store.outbound.claim("node-t", 100, 60)
               if e.id == entry_id]
    for r in entry.pending():
        r.reply, r.remote, r.at = reply, "mx.faraway.example", int(time.time())
    entry.history.append({"at": int(time.time()), "host": "mx.faraway.example",
                          "address": "192.0.2.25", "tls": "TLSv1.3",
                          "answers": [[r.address, reply] for r in entry.pending()]})
    entry.status, entry.attempts = QUEUED, 1
    entry.next_attempt_at, entry.last_error = int(time.time()) + later, reply
    await store.outbound.save([entry])
    await store.outbound.release("node-t")


def row(entry_id: int) -> str:
    return f'id="entry-{entry_id}"'


async def token(client: httpx.AsyncClient) -> str:
    return csrf_token((await client.get("/admin/queue")).text)


async def test_the_queue_lists_entries_with_counts_and_filters(
        admin: httpx.AsyncClient, store: Store) -> None:
    a = await queue(store, "ann@example.com", ("bob@faraway.example",))
    b = await queue(store, "carl@example.com", ("dora@elsewhere.example",), age=2 * 86400)
    await defer(store, b, "451 4.7.1 greylisted, try again in 5 minutes")

    page = (await admin.get("/admin/queue")).text
    assert row(a) in page and row(b) in page
    assert "<strong>2</strong> messages in the queue" in page
    assert "1 waiting" in page and "1 deferred" in page
    assert "451 4.7.1 greylisted" in page

    by_sender = (await admin.get("/admin/queue", params={"sender": "CARL"})).text
    assert row(b) in by_sender and row(a) not in by_sender
    by_recipient = (await admin.get("/admin/queue", params={"recipient": "bob@"})).text
    assert row(a) in by_recipient and row(b) not in by_recipient
    deferred = (await admin.get("/admin/queue", params={"state": "deferred"})).text
    assert row(b) in deferred and row(a) not in deferred
    old = (await admin.get("/admin/queue", params={"age": "1d"})).text
    assert row(b) in old and row(a) not in old
    assert "1 message match" in old


async def test_a_filter_the_page_does_not_offer_is_shown_next_to_its_field(
        admin: httpx.AsyncClient, store: Store) -> None:
    await queue(store)
    page = (await admin.get("/admin/queue", params={"state": "lost"})).text
    assert 'id="state-error"' in page and "Choose one of the states" in page


async def test_one_entry_shows_its_headers_recipients_and_attempts(
        admin: httpx.AsyncClient, store: Store) -> None:
    entry_id = await queue(store, recipients=("bob@faraway.example", "eve@faraway.example"),
                           subject="=?utf-8?q?Caf=C3=A9_menu?=")
    await defer(store, entry_id, "452 4.2.2 mailbox full, try later")
    page = await admin.get(f"/admin/queue/{entry_id}")
    assert page.status_code == 200
    assert "Café menu" in page.text  # decoded for reading
    assert "eve@faraway.example" in page.text and "452 4.2.2 mailbox full" in page.text
    assert "mx.faraway.example" in page.text and "192.0.2.25" in page.text
    assert "Message-ID" in page.text
    missing = await admin.get("/admin/queue/999999")
    assert missing.status_code == 404 and "no longer in the queue" in missing.text


async def test_retry_now_makes_the_entry_due_and_is_audited(
        admin: httpx.AsyncClient, store: Store) -> None:
    entry_id = await queue(store)
    await defer(store, entry_id, "421 4.4.2 connection timed out", later=7200)
    before = time.time()
    response = await admin.post(f"/admin/queue/{entry_id}",
                                data={"csrf_token": await token(admin), "action": "retry"})
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/admin/queue/{entry_id}?done=")
    entry = await store.outbound.get(entry_id)
    assert entry.next_attempt_at <= time.time() and entry.next_attempt_at >= before - 1
    assert "will be tried again now" in (await admin.get(response.headers["location"])).text
    [audit] = await store.audit.recent()
    assert (audit.actor, audit.action, audit.target) == (
        "root@example.com", "queue.retry", f"queue #{entry_id}")
    assert audit.old_value["next_attempt_at"] > audit.new_value["next_attempt_at"]


async def test_bulk_delete_removes_only_the_ticked_entries_and_audits_each(
        admin: httpx.AsyncClient, store: Store) -> None:
    a, b, c = [await queue(store, recipients=(f"x{n}@faraway.example",)) for n in range(3)]
    response = await admin.post("/admin/queue", data={
        "csrf_token": await token(admin), "action": "delete", "id": [str(a), str(c)],
        "back": "?state=waiting"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/queue?state=waiting&done=")
    assert [e.id for e in await store.outbound.list()] == [b]
    audits = await store.audit.recent()
    assert sorted(x.target for x in audits) == [f"queue #{a}", f"queue #{c}"]
    assert {x.action for x in audits} == {"queue.delete"}
    assert audits[0].old_value["recipients"] and audits[0].new_value is None


async def test_bulk_retry_leaves_an_entry_being_sent_alone_and_says_so(
        admin: httpx.AsyncClient, store: Store) -> None:
    a = await queue(store)
    b = await queue(store, recipients=("z@faraway.example",))
    await defer(store, a, "451 4.3.0 try later")
    await store.outbound.claim("node-z", 10, 600)  # b is being sent by another node now
    response = await admin.post("/admin/queue", data={
        "csrf_token": await token(admin), "action": "retry", "id": [str(a), str(b)]})
    page = (await admin.get(response.headers["location"])).text
    assert f"Queue entry #{a} will be tried again now" in page
    assert f"Queue entry #{b} is being sent right now" in page
    deleted = await admin.post("/admin/queue", data={
        "csrf_token": await token(admin), "action": "delete", "id": [str(b)]})
    assert "being sent right now" in (await admin.get(deleted.headers["location"])).text
    assert len(await store.outbound.list()) == 2
    assert [x.target for x in await store.audit.recent()] == [f"queue #{a}"]


async def test_a_bulk_action_without_a_ticked_entry_says_so_next_to_the_list(
        admin: httpx.AsyncClient, store: Store) -> None:
    await queue(store)
    response = await admin.post("/admin/queue", data={"csrf_token": await token(admin),
                                                      "action": "delete"})
    assert response.status_code == 400
    assert 'id="id-error"' in response.text and "Tick at least one message" in response.text
    assert len(await store.outbound.list()) == 1


async def test_return_to_sender_is_carried_out_by_a_runner_on_another_node(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo,
        database_url: str, tmp_path: Path) -> None:
    entry_id = await queue(store, "ann@example.com", ("bob@faraway.example",))
    await defer(store, entry_id, "451 4.4.1 no answer from mx.faraway.example", later=86400)
    response = await admin.post(f"/admin/queue/{entry_id}",
                                data={"csrf_token": await token(admin), "action": "bounce"})
    assert response.status_code == 303
    entry = await store.outbound.get(entry_id)
    assert entry.bounce_requested == "root@example.com"
    assert entry.next_attempt_at <= time.time()
    [audit] = await store.audit.recent()
    assert (audit.action, audit.new_value) == ("queue.bounce",
                                               {"bounce_requested": "root@example.com"})
    assert "bouncing" in (await admin.get("/admin/queue", params={"state": "bouncing"})).text

    other = Store(database_url, tmp_path / "node-b-blobs")  # the node that runs the queue
    try:
        runner = QueueRunner(other, DeliverySettings("mail.example.com"),
                             dns.asyncresolver.Resolver(configure=False), node="node-b")
        await runner.run_until_idle()
        inbox = await other.folders.get(account.id, "INBOX")
    finally:
        await other.close()
    assert await store.outbound.list() == []
    assert inbox.messages == 1  # the delivery report, in the sender's inbox
    records = await store.traces.find(sender="ann@example.com")
    [bounced] = [t for t in records if t.listener == "outbound"]
    assert bounced.verdict == "bounced"
    assert "returned to the sender by the postmaster (root@example.com)" in \
        bounced.recipients[0].reply


async def test_a_bounce_asked_for_during_an_attempt_is_due_when_the_attempt_ends(
        store: Store, admin_account: AccountInfo) -> None:
    from mailstore.audit import Actor

    entry_id = await queue(store)
    [entry] = await store.outbound.claim("node-a", 10, 600)
    outcome = await store.outbound.bounce_many([entry_id], Actor("root@example.com"))
    assert outcome.done == [entry_id]
    entry.status, entry.attempts, entry.next_attempt_at = QUEUED, 1, int(time.time()) + 9999
    await store.outbound.save([entry])
    saved = await store.outbound.get(entry_id)
    assert saved.next_attempt_at <= time.time() and saved.bounce_requested
    assert [e.id for e in await store.outbound.list(
        where=QueueFilter(state="bouncing"))] == [entry_id]

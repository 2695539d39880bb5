"""Routing of recipients and local delivery: stored once, atomically, never twice."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from mailstore.delivery import Delivery
from mailstore.errors import QuotaExceeded
from mailstore.routing import Mailbox, MailboxDisabled, NotLocal, RoutingLoop, UnknownRecipient
from mailstore.store import Store
from mailstore.trace import RecipientVerdict, TraceRecord

PASSWORD = "correct horse battery"


def message(subject: str = "Hello", message_id: str = "<m1@example.org>",
            size: int = 0) -> bytes:
    body = b"x" * size or b"Hi there\r\n"
    return (f"From: Zed <zed@example.org>\r\nTo: ann@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\n\r\n").encode() + body


@pytest.fixture
async def office(store: Store) -> Store:
    for domain in ("example.com", "example.net"):
        await store.accounts.add_domain(domain)
    for address in ("ann@example.com", "bob@example.com", "ann@example.net"):
        await store.accounts.create(address, PASSWORD)
    return store


async def folder_subjects(store: Store, address: str, folder: str = "INBOX") -> list[str]:
    account = await store.accounts.get(address)
    info = await store.folders.get(account.id, folder)
    return [m.subject for m in await store.messages.page(info.id, limit=1000)]


async def test_account_address_routes_to_its_inbox(office: Store) -> None:
    route = await office.router.resolve("Ann@Example.COM")
    ann = await office.accounts.get("ann@example.com")
    assert route.local == (Mailbox(ann.id, "ann@example.com", "INBOX"),)
    assert route.external == ()


async def test_same_local_part_in_two_domains_are_two_mailboxes(office: Store) -> None:
    com = await office.router.resolve("ann@example.com")
    net = await office.router.resolve("ann@example.net")
    assert com.local[0].account_id != net.local[0].account_id


async def test_unknown_user_and_foreign_domain_are_told_apart(office: Store) -> None:
    with pytest.raises(UnknownRecipient, match="no such user here"):
        await office.router.resolve("nobody@example.com")
    with pytest.raises(NotLocal):
        await office.router.resolve("ann@elsewhere.org")


async def test_alias_delivers_to_every_target_and_may_forward(office: Store) -> None:
    await office.accounts.add_alias("team@example.com", "ann@example.com")
    await office.accounts.add_alias("team@example.com", "bob@example.com")
    await office.accounts.add_alias("team@example.com", "carol@elsewhere.org")
    route = await office.router.resolve("team@example.com")
    assert sorted(m.address for m in route.local) == ["ann@example.com", "bob@example.com"]
    assert route.external == ("carol@elsewhere.org",)


async def test_forward_keeps_a_copy_when_the_alias_names_itself(office: Store) -> None:
    await office.accounts.add_alias("bob@example.com", "bob@elsewhere.org")
    route = await office.router.resolve("bob@example.com")
    assert route.local == () and route.external == ("bob@elsewhere.org",)
    await office.accounts.add_alias("bob@example.com", "bob@example.com")
    route = await office.router.resolve("bob@example.com")
    assert [m.address for m in route.local] == ["bob@example.com"]
    assert route.external == ("bob@elsewhere.org",)


async def test_plus_address_goes_to_the_tag_folder_if_it_exists(office: Store) -> None:
    ann = await office.accounts.get("ann@example.com")
    await office.folders.create(ann.id, "lists")
    route = await office.router.resolve("ann+lists@example.com")
    assert route.local == (Mailbox(ann.id, "ann@example.com", "lists"),)
    route = await office.router.resolve("ann+shopping@example.com")
    assert route.local == (Mailbox(ann.id, "ann@example.com", "INBOX"),)


async def test_the_tag_folder_is_found_whatever_the_case_of_either(office: Store) -> None:
    ann = await office.accounts.get("ann@example.com")
    await office.folders.create(ann.id, "Newsletters")
    for address in ("ann+newsletters@example.com", "Ann+NewsLetters@Example.com"):
        route = await office.router.resolve(address)
        assert [m.folder for m in route.local] == ["Newsletters"], address
    await office.folders.create(ann.id, "newsletters")  # an exact match wins
    assert [m.folder for m in (await office.router.resolve(
        "ann+newsletters@example.com")).local] == ["newsletters"]


async def test_wildcards_most_specific_first_and_catch_all_last(office: Store) -> None:
    await office.accounts.add_alias("sales-*@example.com", "bob@example.com")
    await office.accounts.add_alias("*@example.com", "ann@example.com")
    assert (await office.router.resolve("sales-eu@example.com")).local[0].address \
        == "bob@example.com"
    assert (await office.router.resolve("whoever@example.com")).local[0].address \
        == "ann@example.com"
    # An existing account is never swallowed by the catch-all.
    assert (await office.router.resolve("bob@example.com")).local[0].address \
        == "bob@example.com"
    # The catch-all of one domain never takes mail for another.
    with pytest.raises(UnknownRecipient):
        await office.router.resolve("whoever@example.net")


async def test_alias_loops_are_reported_as_loops(office: Store) -> None:
    await office.accounts.add_alias("a@example.com", "b@example.com")
    await office.accounts.add_alias("b@example.com", "a@example.com")
    with pytest.raises(RoutingLoop, match="loop"):
        await office.router.resolve("a@example.com")


async def test_disabled_mailbox_is_refused(office: Store) -> None:
    from sqlalchemy import update

    from mailstore.models import Account

    async with office.db.write() as conn:
        await conn.execute(update(Account.__table__)
                           .where(Account.__table__.c.address == "bob@example.com")
                           .values(disabled=True))
    with pytest.raises(MailboxDisabled):
        await office.router.resolve("bob@example.com")


async def test_one_message_for_several_recipients_is_one_blob(office: Store) -> None:
    routes = [await office.router.resolve(a) for a in ("ann@example.com", "bob@example.com")]
    result = await office.delivery.deliver(Delivery(
        message(), "zed@example.org", tuple(m for r in routes for m in r.local)))
    assert [s.mailbox.address for s in result.stored] == ["ann@example.com", "bob@example.com"]
    assert await folder_subjects(office, "ann@example.com") == ["Hello"]
    assert await folder_subjects(office, "bob@example.com") == ["Hello"]
    assert len(office.blobs.files()) == 1


async def test_same_message_id_within_the_window_is_stored_once(office: Store) -> None:
    ann = (await office.router.resolve("ann@example.com")).local
    first = await office.delivery.deliver(Delivery(message("One"), "zed@example.org", ann))
    again = await office.delivery.deliver(Delivery(message("Two"), "zed@example.org", ann))
    assert len(first.stored) == 1
    assert again.stored == () and again.duplicates == ann
    assert await folder_subjects(office, "ann@example.com") == ["One"]


async def test_a_message_moved_out_of_the_inbox_is_still_a_duplicate(office: Store) -> None:
    ann = (await office.router.resolve("ann@example.com")).local
    first = await office.delivery.deliver(Delivery(message("One"), "zed@example.org", ann))
    account = await office.accounts.get("ann@example.com")
    inbox = (await office.folders.get(account.id, "INBOX")).id
    older = (await office.folders.create(account.id, "Older")).id
    await office.messages.move(inbox, [first.stored[0].uid], older)
    again = await office.delivery.deliver(Delivery(message("Two"), "zed@example.org", ann))
    assert again.stored == () and again.duplicates == ann
    assert await folder_subjects(office, "ann@example.com", "Older") == ["One"]
    assert await folder_subjects(office, "ann@example.com") == []


async def test_a_message_id_another_account_has_is_not_a_duplicate(office: Store) -> None:
    ann = (await office.router.resolve("ann@example.com")).local
    bob = (await office.router.resolve("bob@example.com")).local
    await office.delivery.deliver(Delivery(message("One"), "zed@example.org", ann))
    to_bob = await office.delivery.deliver(Delivery(message("One"), "zed@example.org", bob))
    assert len(to_bob.stored) == 1 and to_bob.duplicates == ()
    assert await folder_subjects(office, "bob@example.com") == ["One"]


async def test_sqlite_deliveries_return_after_shared_flushes_of_their_commits(
        office: Store) -> None:
    if not office.db.is_sqlite:
        pytest.skip("PostgreSQL commits are on disk when COMMIT returns")
    wal = office.db._wal
    assert wal is not None
    before = (wal.committed, wal.flushes)
    ann = (await office.router.resolve("ann@example.com")).local
    await asyncio.gather(*(
        office.delivery.deliver(Delivery(message(f"n{i}", f"<n{i}@x>"), "z@x", ann))
        for i in range(40)))
    # Every commit that returned was flushed; the deliveries shared the flushes.
    assert wal.synced == wal.committed > before[0]
    assert 0 < wal.flushes - before[1] < 40


async def test_external_recipients_wait_in_the_outbound_queue(office: Store) -> None:
    result = await office.delivery.deliver(Delivery(
        message(), "ann@example.com", (), ("carol@elsewhere.org",), origin="submission"))
    assert len(result.queued) == 1
    entry = await office.outbound.get(result.queued[0])
    assert entry.message == message() and entry.status == "queued"
    assert [r.address for r in entry.pending()] == ["carol@elsewhere.org"]


async def test_concurrent_deliveries_share_transactions_and_all_arrive(office: Store) -> None:
    ann = (await office.router.resolve("ann@example.com")).local
    results = await asyncio.gather(*(
        office.delivery.deliver(Delivery(message(f"n{i}", f"<n{i}@x>"), "z@x", ann))
        for i in range(60)))
    assert sorted(r.stored[0].uid for r in results) == list(range(1, 61))
    assert sorted(await folder_subjects(office, "ann@example.com")) \
        == sorted(f"n{i}" for i in range(60))


async def test_a_full_mailbox_fails_only_its_own_delivery(office: Store) -> None:
    await office.accounts.create("tiny@example.com", PASSWORD, quota_bytes=500)
    tiny = (await office.router.resolve("tiny@example.com")).local
    ann = (await office.router.resolve("ann@example.com")).local
    big = Delivery(message("big", "<big@x>", 2000), "z@x", tiny + ann)
    small = [Delivery(message(f"s{i}", f"<s{i}@x>"), "z@x", ann) for i in range(5)]
    outcomes = await asyncio.gather(*(office.delivery.deliver(d) for d in [big, *small]),
                                    return_exceptions=True)
    assert isinstance(outcomes[0], QuotaExceeded)
    assert all(not isinstance(o, Exception) for o in outcomes[1:])
    # Atomic: ann did not get the message that was refused for tiny.
    assert "big" not in await folder_subjects(office, "ann@example.com")


async def test_a_trace_record_is_stored_and_read_back_field_for_field(office: Store) -> None:
    """Every field of a record reaches its column (the row is built by hand, for speed)."""
    record = TraceRecord(
        at=1234, listener="submission", client_ip="192.0.2.7", verdict="accepted",
        helo="mx.example.org", tls="TLSv1.3", auth_user="ann@example.com",
        mail_from="ann@example.com", size=321, message_id="<t1@example.org>",
        reply="250 2.0.0 OK", recipients=[
            RecipientVerdict("bob@example.com", "accepted", "250", "bob@example.com/INBOX"),
            RecipientVerdict("x@else.org", "deferred", "451", "queued #3")])
    await office.traces.record(record)
    (found,) = await office.traces.find()
    assert found == dataclasses.replace(record, id=found.id)
    assert found.id is not None


async def test_trace_records_are_found_by_sender_recipient_and_time(office: Store) -> None:
    accepted = TraceRecord(at=1000, listener="smtp", client_ip="192.0.2.1",
                           verdict="accepted", mail_from="zed@example.org",
                           recipients=[RecipientVerdict("ann@example.com", "accepted", "250",
                                                        "ann@example.com/INBOX")])
    ann = (await office.router.resolve("ann@example.com")).local
    await office.delivery.deliver(Delivery(message(), "zed@example.org", ann, trace=accepted))
    await office.traces.record(TraceRecord(
        at=2000, listener="smtp", client_ip="192.0.2.9", verdict="rejected",
        mail_from="spam@bad.example", reply="554 5.7.1 relaying denied",
        recipients=[RecipientVerdict("x@elsewhere.org", "rejected", "554 5.7.1")]))
    assert [t.verdict for t in await office.traces.find()] == ["rejected", "accepted"]
    assert [t.client_ip for t in await office.traces.find(sender="ZED@")] == ["192.0.2.1"]
    found = await office.traces.find(recipient="elsewhere")
    assert [t.recipients[0].address for t in found] == ["x@elsewhere.org"]
    assert [t.at for t in await office.traces.find(since=1500)] == [2000]


async def test_when_blobs_cannot_be_written_no_delivery_of_the_batch_is_stored(
        office: Store) -> None:
    """The rows are written while the blobs are flushed; a failed flush must roll them back
    (and not retry them one by one without their blobs)."""
    ann = (await office.router.resolve("ann@example.com")).local
    tmp = office.messages.blobs.tmp
    tmp.rmdir()
    tmp.write_text("not a folder")  # every blob write now fails (ENOTDIR)
    try:
        outcomes = await asyncio.gather(*(
            office.delivery.deliver(Delivery(message(f"m{n}", f"<m{n}@example.org>"),
                                             "zed@example.org", ann))
            for n in range(5)), return_exceptions=True)
    finally:
        tmp.unlink()
        tmp.mkdir()
    assert all(isinstance(o, OSError) for o in outcomes), outcomes
    assert await folder_subjects(office, "ann@example.com") == []
    await office.delivery.deliver(Delivery(message("later"), "zed@example.org", ann))
    assert await folder_subjects(office, "ann@example.com") == ["later"]

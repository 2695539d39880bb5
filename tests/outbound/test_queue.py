"""The outbound queue runner against real SMTP servers and a real DNS on loopback."""

from __future__ import annotations

import asyncio

from mailstore.store import Store
from tests.outbound.conftest import Clock, Internet
from tests.outbound.internet import HANG, HANGUP_IN_DATA, TEMPFAIL


def message(subject: str = "Hello", message_id: str = "<m1@example.com>",
            to: str = "bob@remote.test") -> bytes:
    return (f"From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\n\r\nHi there\r\n.leading dot\r\n").encode()


async def queue(store: Store, *recipients: str, raw: bytes | None = None,
                sender: str = "ann@example.com", dsn: dict | None = None) -> int:
    return await store.outbound.enqueue(sender, recipients or ("bob@remote.test",),
                                        raw or message(), "submission", dsn)


async def until_empty(store: Store, seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while await store.outbound.list():
            await asyncio.sleep(0.02)


async def test_mail_goes_to_the_recipient_domains_mx_byte_for_byte(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    await queue(office, "bob@remote.test", "carol@remote.test")
    await make_runner().run_until_idle()
    [got] = remote.received
    assert got.mail_from == "ann@example.com"
    assert got.recipients == ["bob@remote.test", "carol@remote.test"]
    assert got.data == message()
    assert await office.outbound.list() == []
    [trace] = await office.traces.find()
    assert trace.listener == "outbound" and trace.verdict == "sent"
    assert trace.helo == "mx2.net" and trace.client_ip == "127.0.0.2"
    assert {r.address for r in trace.recipients} == {"bob@remote.test", "carol@remote.test"}
    assert all(r.reply.startswith("250") for r in trace.recipients)


async def test_mx_hosts_are_tried_in_preference_order(
        office: Store, internet: Internet, make_runner) -> None:
    internet.dead_host("remote.test", preference=5)
    backup = await internet.mail_server("remote.test", preference=20)
    await queue(office)
    await make_runner().run_until_idle()
    assert len(backup.received) == 1


async def test_a_domain_without_mx_gets_mail_at_its_address(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server(None)
    internet.zone.a("plain.test", remote.address)
    await queue(office, "bob@plain.test")
    await make_runner().run_until_idle()
    assert remote.received[0].recipients == ["bob@plain.test"]


async def test_one_connection_carries_every_due_message_for_a_destination(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    for i in range(30):
        await queue(office, raw=message(f"n{i}", f"<n{i}@example.com>"))
    await make_runner(connections_per_destination=1).run_until_idle()
    assert len(remote.received) == 30
    assert remote.connections == 1


async def test_recipients_in_two_domains_go_to_each_domains_server(
        office: Store, internet: Internet, make_runner) -> None:
    one = await internet.mail_server("one.test")
    two = await internet.mail_server("two.test")
    await queue(office, "a@one.test", "b@two.test", "c@one.test")
    await make_runner().run_until_idle()
    assert one.received[0].recipients == ["a@one.test", "c@one.test"]
    assert two.received[0].recipients == ["b@two.test"]
    assert await office.outbound.list() == []


async def test_a_temporary_failure_is_retried_on_the_schedule(
        office: Store, internet: Internet, make_runner, clock: Clock) -> None:
    remote = await internet.mail_server("remote.test", TEMPFAIL)
    entry_id = await queue(office)
    runner = make_runner()
    await runner.run_until_idle()
    entry = await office.outbound.get(entry_id)
    assert entry.status == "queued" and entry.attempts == 1
    assert entry.next_attempt_at == entry.history[-1]["at"] + 300
    assert entry.last_error == "451 4.3.0 please try again later"
    assert entry.pending()[0].remote == "mx2.net"
    await runner.run_until_idle()  # not due yet: nothing is tried
    assert len(entry.history) == 1 and (await office.outbound.get(entry_id)).attempts == 1
    clock.advance(300)
    await runner.run_until_idle()
    entry = await office.outbound.get(entry_id)
    assert entry.attempts == 2
    assert entry.next_attempt_at == entry.history[-1]["at"] + 900
    remote.mode = "accept"
    clock.advance(900)
    await runner.run_until_idle()
    assert len(remote.received) == 1
    assert await office.outbound.list() == []


async def test_a_server_hanging_up_during_data_is_retried_and_gets_the_mail_once(
        office: Store, internet: Internet, make_runner, clock: Clock) -> None:
    remote = await internet.mail_server("remote.test", HANGUP_IN_DATA)
    entry_id = await queue(office)
    runner = make_runner()
    await runner.run_until_idle()
    entry = await office.outbound.get(entry_id)
    assert entry.status == "queued"
    assert "closed the connection" in entry.last_error
    remote.mode = "accept"
    clock.advance(300)
    await runner.run_until_idle()
    assert len(remote.received) == 1


async def test_an_unreachable_destination_is_retried(
        office: Store, internet: Internet, make_runner) -> None:
    address = internet.dead_host("remote.test")
    entry_id = await queue(office)
    await make_runner().run_until_idle()
    entry = await office.outbound.get(entry_id)
    assert entry.status == "queued"
    assert entry.last_error.startswith("451 4.4.1 cannot connect to ")
    assert address in entry.last_error


async def test_dns_failure_is_temporary(office: Store, internet: Internet, make_runner) -> None:
    internet.zone.servfail.add("broken.test")
    entry_id = await queue(office, "bob@broken.test")
    await make_runner().run_until_idle()
    entry = await office.outbound.get(entry_id)
    assert entry.status == "queued" and entry.last_error.startswith("451 4.4.3")


async def test_starttls_is_used_when_the_mx_offers_it_and_the_version_is_recorded(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test", tls=True)
    await queue(office)
    await make_runner().run_until_idle()
    assert remote.received[0].tls
    [trace] = await office.traces.find()
    assert trace.tls.startswith("TLSv1.")


async def test_a_confirmed_delivery_is_not_sent_again_after_a_crash(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    first = await queue(office, raw=message("first", "<first@example.com>"))
    await queue(office, raw=message("second", "<second@example.com>"))
    runner = make_runner(connections_per_destination=1)
    await runner.start()
    while not remote.received:
        await asyncio.sleep(0.01)
    remote.mode = HANG  # the second message never gets its answer
    await asyncio.sleep(0.3)
    # The server dies: its tasks end without giving anything back.
    for task in [runner._loop_task, *runner._tasks]:
        task.cancel()
    await asyncio.sleep(0.05)
    remote.mode = "accept"
    remote.released.set()
    restarted = make_runner(connections_per_destination=1)  # the same node name
    await restarted.start()  # takes back its old claims at once
    await until_empty(office)
    subjects = [r.message["Subject"] for r in remote.received]
    assert subjects.count("first") == 1, subjects
    assert subjects.count("second") == 1, subjects
    assert await office.outbound.list() == []
    assert first


async def test_a_graceful_stop_finishes_the_message_on_the_wire_and_gives_back_the_rest(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    remote.delay = 0.5
    for i in range(5):
        await queue(office, raw=message(f"n{i}", f"<n{i}@example.com>"))
    runner = make_runner(connections_per_destination=1)
    await runner.start()
    await asyncio.sleep(0.2)  # the first message is being sent
    await runner.stop()
    assert [r.message["Subject"] for r in remote.received] == ["n0"]
    left = await office.outbound.list()
    assert len(left) == 4 and {e.status for e in left} == {"queued"}
    await make_runner(connections_per_destination=1).run_until_idle()
    assert sorted(r.message["Subject"] for r in remote.received) == [f"n{i}" for i in range(5)]

"""IDLE pushes changes made by any writer of the store (here: delivery and another session)."""

from __future__ import annotations

import asyncio
import threading
import time

from aioimaplib import aioimaplib
from imapclient import IMAPClient

from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, inbox, simple_message


def idle_until_pushed(port: int, idling: threading.Event) -> tuple[list, float]:
    """IDLE on INBOX (setting ``idling`` once idle) until the server pushes something;
    returns what it pushed and when it arrived."""
    with IMAPClient("127.0.0.1", port, ssl=False, timeout=20) as client:
        client.login("ann@example.com", PASSWORD)
        client.select_folder("INBOX")
        client.idle()
        idling.set()
        deadline = time.monotonic() + 10
        responses: list = []
        while time.monotonic() < deadline and not responses:
            responses = client.idle_check(timeout=1)
        received_at = time.monotonic()
        client.idle_done()
        return responses, received_at


async def test_idle_receives_mail_delivered_through_the_store_within_a_second(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    idling = threading.Event()
    delivered_at: list[float] = []

    task = asyncio.ensure_future(client_thread(lambda: idle_until_pushed(imap.port, idling)))
    await asyncio.to_thread(idling.wait, 10)
    await asyncio.sleep(0.1)  # the server has sent "+ idling" and waits
    delivered_at.append(time.monotonic())
    await store.messages.append(folder, simple_message("pushed"))
    responses, received_at = await task
    assert (1, b"EXISTS") in responses
    assert received_at - delivered_at[0] < 1.0


async def test_idle_reports_flag_changes_and_expunges_of_another_session(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    for n in range(3):
        await store.messages.append(folder, simple_message(f"m{n}"))
    idling = threading.Event()

    def idler():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            client.select_folder("INBOX")
            client.idle()
            idling.set()
            seen: list = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(r[1] == b"EXPUNGE" for r in seen):
                seen += client.idle_check(timeout=1)
            client.idle_done()
            return seen

    def other():
        idling.wait(10)
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            client.select_folder("INBOX")
            client.add_flags([1], [b"\\Flagged"])
            client.delete_messages([2])
            client.expunge()

    seen, _ = await asyncio.gather(client_thread(idler), client_thread(other))
    fetches = [r for r in seen if r[1] == b"FETCH"]
    assert any(r[0] == 1 and b"\\Flagged" in r[2][r[2].index(b"FLAGS") + 1] for r in fetches)
    assert (2, b"EXPUNGE") in seen


async def test_aioimaplib_logs_in_selects_fetches_and_idles(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await store.messages.append(folder, simple_message("for aioimaplib"))
    client = aioimaplib.IMAP4(host="127.0.0.1", port=imap.port, timeout=20)
    await client.wait_hello_from_server()
    assert (await client.login("ann@example.com", PASSWORD)).result == "OK"
    selected = await client.select("INBOX")
    assert selected.result == "OK" and b"1 EXISTS" in selected.lines
    fetched = await client.uid("fetch", "1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert fetched.result == "OK"
    assert any(b"Subject: for aioimaplib" in bytes(line) for line in fetched.lines)
    idle = await client.idle_start(timeout=5)
    await store.messages.append(folder, simple_message("while idling"))
    pushed = await asyncio.wait_for(client.wait_server_push(), 5)
    client.idle_done()
    await asyncio.wait_for(idle, 5)
    assert b"2 EXISTS" in pushed
    await client.logout()


async def test_idle_on_a_folder_deleted_elsewhere_ends_with_bye(
        imap: LiveImap, store: Store, account) -> None:
    await store.folders.create(account.id, "Doomed")
    from tests.imap.test_robustness import Raw

    def idler() -> list[bytes]:
        raw = Raw(imap.port)
        raw.send(f'a LOGIN ann@example.com "{PASSWORD}"\r\nb SELECT Doomed\r\nc IDLE\r\n'
                 .encode())
        raw.until_tagged(b"b")
        lines = [raw.line()]
        idling.set()
        while lines[-1]:
            lines.append(raw.line())
        raw.close()
        return lines

    idling = threading.Event()
    task = asyncio.ensure_future(client_thread(idler))
    await asyncio.to_thread(idling.wait, 10)
    await store.folders.delete(account.id, "Doomed")
    lines = await task
    assert lines[0].startswith(b"+ ")
    assert any(line.startswith(b"* BYE") for line in lines)


async def test_idle_receives_mail_that_arrives_by_smtp_within_a_second(
        imap: LiveImap, store: Store, account) -> None:
    import smtplib

    from protocols.smtp.server import SmtpServer
    from protocols.smtp.settings import MX, SmtpSettings
    from tests.imap.conftest import listen

    smtp = SmtpServer(store, SmtpSettings("mx.test"))
    sock = listen()
    await smtp.start({MX: sock})
    idling = threading.Event()

    def send() -> float:
        with smtplib.SMTP("127.0.0.1", sock.getsockname()[1], timeout=10) as client:
            client.sendmail("zed@example.org", ["ann@example.com"], simple_message("by smtp"))
            return time.monotonic()

    try:
        task = asyncio.ensure_future(
            client_thread(lambda: idle_until_pushed(imap.port, idling)))
        await asyncio.to_thread(idling.wait, 10)
        await asyncio.sleep(0.1)
        accepted_at = await client_thread(send)
        responses, received_at = await task
    finally:
        await smtp.stop()
    assert (1, b"EXISTS") in responses
    assert received_at - accepted_at < 1.0

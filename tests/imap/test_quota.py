"""QUOTA (RFC 9208) and STATUS DELETED / DELETED-STORAGE, with real clients."""

from __future__ import annotations

from imapclient import IMAPClient

from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, deliver, inbox
from tests.imap.test_extensions import transcript


async def test_getquotaroot_and_getquota_report_storage_in_kib(
        imap: LiveImap, store: Store) -> None:
    account = await store.accounts.create("bob@example.com", PASSWORD, quota_bytes=10 * 1024 * 1024)
    folder = (await store.folders.get(account.id, "INBOX")).id
    body = b"Subject: big\r\n\r\n" + b"x" * 3000
    await deliver(store, folder, [body])
    used = (await store.accounts.get("bob@example.com")).used_bytes
    assert used == len(body)

    def scenario() -> tuple[object, object, object, object]:
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("bob@example.com", PASSWORD)
            caps = client.capabilities()
            roots, quotas = client.get_quota_root("INBOX")
            # get_quota asks GETQUOTAROOT of a mailbox; _get_quota is GETQUOTA of a root.
            return caps, (roots, quotas), client.get_quota("INBOX"), client._get_quota("")

    caps, (roots, quotas), by_mailbox, direct = await client_thread(scenario)
    assert b"QUOTA" in caps and b"QUOTA=RES-STORAGE" in caps
    assert roots.mailbox == "INBOX" and roots.quota_roots == [""]
    # 3016 octets used: 3 KiB rounded up; the limit is 10240 KiB.
    assert [(q.quota_root, q.resource, q.usage, q.limit) for q in quotas] == [
        ("", "STORAGE", 3, 10240)]
    for answer in (by_mailbox, direct):
        assert [(q.quota_root, q.resource, q.usage, q.limit) for q in answer] == [
            ("", "STORAGE", 3, 10240)]


async def test_quota_responses_raw_and_setquota_is_refused(
        imap: LiveImap, store: Store) -> None:
    await store.accounts.create("bob@example.com", PASSWORD, quota_bytes=2048)
    await store.folders.create((await store.accounts.get("bob@example.com")).id, "Entwürfe")
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN bob@example.com "{PASSWORD}"'.encode(),
        b'b GETQUOTAROOT "Entw&APw-rfe"',
        b'c GETQUOTA "other"',
        b'd SETQUOTA "" (STORAGE 512)',
        b"e GETQUOTAROOT Nonexistent",
        b"f SETQUOTA \"\" (STORAGE)",
        b'g APPEND INBOX {3000+}\r\n' + b"Subject: x\r\n\r\n" + b"y" * (3000 - 15) + b"\r\n",
    ]))
    assert out[b"b"] == [b'* QUOTAROOT "Entw&APw-rfe" ""\r\n', b'* QUOTA "" (STORAGE 0 2)\r\n',
                         b"b OK GETQUOTAROOT completed\r\n"]
    assert out[b"c"] == [b"c NO [NONEXISTENT] No such quota root\r\n"]
    assert out[b"d"][0].startswith(b"d NO [NOPERM] Quotas are set by the administrator")
    assert out[b"e"][0].startswith(b"e NO [NONEXISTENT]")
    assert out[b"f"][0].startswith(b"f BAD ")
    assert out[b"g"][-1].startswith(b"g NO [OVERQUOTA]")  # RFC 9208 §4.3


async def test_an_account_without_a_limit_has_no_quota_root(
        imap: LiveImap, store: Store, account) -> None:
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"b GETQUOTAROOT inbox",
        b'c GETQUOTA ""',
    ]))
    assert out[b"b"] == [b'* QUOTAROOT "INBOX"\r\n', b"b OK GETQUOTAROOT completed\r\n"]
    assert out[b"c"] == [b"c NO [NONEXISTENT] No such quota root\r\n"]


async def test_status_deleted_and_deleted_storage_count_what_expunge_would_free(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    bodies = [b"Subject: m\r\n\r\n" + b"z" * n for n in (2000, 100, 10)]
    await deliver(store, folder, bodies)
    await store.messages.store_flags(folder, [1, 3], ["\\Deleted"])
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"b STATUS INBOX (MESSAGES DELETED DELETED-STORAGE SIZE)",
        b'c LIST "" "INBOX" RETURN (STATUS (DELETED))',
        b"d STATUS Drafts (DELETED DELETED-STORAGE)",
    ]))
    size = sum(len(b) for b in bodies)
    freed = (len(bodies[0]) + len(bodies[2]) + 1023) // 1024
    assert out[b"b"][0] == (f'* STATUS "INBOX" (MESSAGES 3 DELETED 2 DELETED-STORAGE {freed} '
                            f"SIZE {size})\r\n").encode()
    assert out[b"c"][1] == b'* STATUS "INBOX" (DELETED 2)\r\n'
    assert out[b"d"][0] == b'* STATUS "Drafts" (DELETED 0 DELETED-STORAGE 0)\r\n'

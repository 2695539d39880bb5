"""POP3 sessions with Python's poplib (and a raw socket) against the real server."""

from __future__ import annotations

import base64
import poplib

import pytest

from mailstore import flags as F_
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.imap.conftest import client_thread, deliver, inbox, simple_message
from tests.pop3.conftest import OUTSIDE, PASSWORD, LivePop3, client_tls, start_pop3


async def test_plain_login_from_loopback_lists_and_retrieves(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    raws = [simple_message(f"Message {i}") for i in range(3)]
    await deliver(store, await inbox(store, account), raws)

    def scenario():
        pop = pop3.login()
        stat = pop.stat()
        listing = pop.list()
        _, lines, octets = pop.retr(2)
        pop.quit()
        return stat, listing, lines, octets

    stat, listing, lines, octets = await client_thread(scenario)
    assert stat == (3, sum(len(r) for r in raws))
    assert listing[1] == [f"{i + 1} {len(r)}".encode() for i, r in enumerate(raws)]
    assert b"\r\n".join(lines) + b"\r\n" == raws[1]
    assert b"Subject: Message 1" in lines


async def test_capa_offers_user_and_plain_on_loopback_and_stls(pop3: LivePop3) -> None:
    def scenario() -> dict:
        pop = pop3.client()
        caps = pop.capa()
        pop.quit()
        return caps

    caps = await client_thread(scenario)
    for name in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "STLS"):
        assert name in caps
    assert caps["SASL"] == ["PLAIN"]


async def test_outside_client_is_offered_only_stls_and_cannot_log_in_before_it(
        store: Store, account: AccountInfo, tls_dir) -> None:
    live = await start_pop3(store, tls_dir, host=OUTSIDE)
    try:
        def scenario():
            pop = live.client()
            before = pop.capa()
            with pytest.raises(poplib.error_proto) as user:
                pop.user("ann@example.com")
            with pytest.raises(poplib.error_proto) as auth:
                pop._shortcmd("AUTH PLAIN " + base64.b64encode(
                    b"\0ann@example.com\0" + PASSWORD.encode()).decode())
            pop.stls(client_tls())
            after = pop.capa()
            pop.user("ann@example.com")
            pop.pass_(PASSWORD)
            count = pop.stat()[0]
            pop.quit()
            return before, str(user.value), str(auth.value), after, count

        before, user, auth, after, count = await client_thread(scenario)
        assert "STLS" in before and "USER" not in before and "SASL" not in before
        assert "[AUTH]" in user and "STLS" in user
        assert "[AUTH]" in auth
        assert "USER" in after and after["SASL"] == ["PLAIN"] and "STLS" not in after
        assert count == 0
    finally:
        await live.server.close()


async def test_loopback_is_not_secure_when_configured_so(
        store: Store, account: AccountInfo, tls_dir) -> None:
    live = await start_pop3(store, tls_dir, loopback_is_secure=False)
    try:
        def scenario():
            pop = live.client()
            caps = pop.capa()
            with pytest.raises(poplib.error_proto):
                pop.user("ann@example.com")
            pop.quit()
            return caps

        assert "USER" not in await client_thread(scenario)
    finally:
        await live.server.close()


async def test_implicit_tls_with_pop3_ssl(pop3: LivePop3, store: Store,
                                          account: AccountInfo) -> None:
    await deliver(store, await inbox(store, account), [simple_message("Over TLS")])

    def scenario():
        pop = poplib.POP3_SSL("127.0.0.1", pop3.tls_port, context=client_tls(), timeout=20)
        caps = pop.capa()
        pop.user("ann@example.com")
        pop.pass_(PASSWORD)
        _, lines, _ = pop.retr(1)
        pop.quit()
        return caps, lines

    caps, lines = await client_thread(scenario)
    assert "STLS" not in caps and "USER" in caps
    assert b"Subject: Over TLS" in lines


async def test_auth_plain_with_initial_response_with_continuation_and_cancel(
        pop3: LivePop3) -> None:
    token = base64.b64encode(b"\0ann@example.com\0" + PASSWORD.encode())

    def scenario():
        raw = pop3.raw()
        with_ir = raw.command(b"AUTH PLAIN " + token)
        raw.command(b"QUIT")
        raw.close()
        raw = pop3.raw()
        challenge = raw.command(b"AUTH PLAIN")
        cancelled = raw.command(b"*")
        raw.command(b"AUTH PLAIN")
        continued = raw.command(token)
        wrong = pop3.raw()
        wrong.command(b"AUTH PLAIN")
        refused = wrong.command(base64.b64encode(b"\0ann@example.com\0nope"))
        garbage = wrong.command(b"AUTH PLAIN !!!")
        raw.close()
        wrong.close()
        return with_ir, challenge, cancelled, continued, refused, garbage

    with_ir, challenge, cancelled, continued, refused, garbage = await client_thread(scenario)
    assert with_ir.startswith(b"+OK Logged in")
    assert challenge == b"+ \r\n"
    assert cancelled.startswith(b"-ERR")
    assert continued.startswith(b"+OK Logged in")
    assert refused == b"-ERR [AUTH] invalid user name or password\r\n"
    assert garbage.startswith(b"-ERR AUTH PLAIN needs base64")


async def test_wrong_password_gets_auth_code_and_repeated_failures_lock_out(
        pop3: LivePop3, store: Store) -> None:
    def scenario():
        answers = []
        for _ in range(store.logins.limit + 1):
            pop = pop3.client()
            pop.user("ann@example.com")
            with pytest.raises(poplib.error_proto) as caught:
                pop.pass_("wrong")
            answers.append(str(caught.value))
            pop.quit()
        pop = pop3.client()
        pop.user("ann@example.com")
        with pytest.raises(poplib.error_proto) as locked:
            pop.pass_(PASSWORD)  # the right password, but the address is locked out
        pop.quit()
        return answers, str(locked.value)

    answers, locked = await client_thread(scenario)
    assert answers[0] == "b'-ERR [AUTH] invalid user name or password'"
    assert "[SYS/TEMP]" in answers[-1] and "too many failed logins" in answers[-1]
    assert "[SYS/TEMP]" in locked


async def test_a_second_session_gets_in_use_until_the_first_quits(pop3: LivePop3) -> None:
    def scenario():
        first = pop3.login()
        second = pop3.client()
        second.user("ann@example.com")
        with pytest.raises(poplib.error_proto) as caught:
            second.pass_(PASSWORD)
        first.quit()
        second.user("ann@example.com")
        second.pass_(PASSWORD)
        second.quit()
        return str(caught.value)

    assert "-ERR [IN-USE] mailbox is in use by another POP3 session" in (
        await client_thread(scenario))


async def test_top_uidl_rset_noop_and_errors(pop3: LivePop3, store: Store,
                                             account: AccountInfo) -> None:
    body = "".join(f"line {i}\r\n" for i in range(10))
    await deliver(store, await inbox(store, account),
                  [simple_message("One", body), simple_message("Two")])
    folder = await store.folders.get(account.id, "INBOX")

    def scenario():
        pop = pop3.login()
        _, top_lines, _ = pop.top(1, 3)
        uidl = pop.uidl()
        one = pop.uidl(2)
        pop.dele(1)
        errors = []
        for action in (lambda: pop.retr(1), lambda: pop.dele(1), lambda: pop.retr(3),
                       lambda: pop._shortcmd("RETR 0"), lambda: pop._shortcmd("BOGUS"),
                       lambda: pop._shortcmd("USER x")):
            with pytest.raises(poplib.error_proto) as caught:
                action()
            errors.append(str(caught.value))
        after_dele = pop.stat()
        pop.rset()
        after_rset = pop.stat()
        noop = pop.noop()
        pop.quit()
        return top_lines, uidl, one, errors, after_dele, after_rset, noop

    top_lines, uidl, one, errors, after_dele, after_rset, noop = await client_thread(scenario)
    blank = top_lines.index(b"")
    assert top_lines[blank + 1:] == [b"line 0", b"line 1", b"line 2"]
    assert uidl[1] == [f"1 {folder.uidvalidity}.1".encode(),
                       f"2 {folder.uidvalidity}.2".encode()]
    assert one == f"+OK 2 {folder.uidvalidity}.2".encode()
    assert "already deleted" in errors[0] and "already deleted" in errors[1]
    assert "no such message: 3" in errors[2] and "no such message: 0" in errors[3]
    assert "unknown command BOGUS" in errors[4]
    assert "USER is not allowed now: already logged in" in errors[5]
    assert after_dele[0] == 1 and after_rset[0] == 2
    assert noop.startswith(b"+OK")


async def test_commands_before_login_are_refused_with_a_clear_text(pop3: LivePop3) -> None:
    def scenario():
        raw = pop3.raw()
        answers = [raw.command(c) for c in (b"STAT", b"PASS x", b"retr 1", b"", b"AUTH CRAM-MD5")]
        raw.command(b"QUIT")
        raw.close()
        return raw.greeting, answers

    greeting, answers = await client_thread(scenario)
    assert greeting.startswith(b"+OK pop3.test")
    assert answers[0] == b"-ERR STAT is not allowed now: log in first\r\n"
    assert answers[1] == b"-ERR send USER before PASS\r\n"
    assert answers[2] == b"-ERR RETR is not allowed now: log in first\r\n"
    assert answers[3] == b"-ERR empty command\r\n"
    assert answers[4].startswith(b"-ERR unsupported SASL mechanism")


async def test_messages_flagged_deleted_over_imap_are_still_shown(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message("Flagged"), simple_message("Kept")])
    await store.messages.store_flags(folder_id, [1], ["\\Deleted"])

    def scenario():
        pop = pop3.login()
        count = pop.stat()[0]
        pop.quit()
        return count

    assert await client_thread(scenario) == 2


async def test_retr_sets_seen_at_quit_but_top_does_not(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message("Read"), simple_message("Peeked")])

    def scenario():
        pop = pop3.login()
        pop.retr(1)
        pop.top(2, 0)
        pop.quit()

    await client_thread(scenario)
    flags = {r[0]: r[2] for r in await store.messages.blob_refs(folder_id)}
    assert flags[1] & F_.SEEN and not flags[2] & F_.SEEN

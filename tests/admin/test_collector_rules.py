"""Download rules edited on the collector form: one rule per line, in order (first match
wins), errors naming the line, every change audited, and a saved rule used by a real run
against a real POP3 server (Dovecot)."""

from __future__ import annotations

import html
import re

import httpx

from mailstore.collectors import Rule
from mailstore.store import Store
from protocols.collector.rules import decide
from protocols.collector.runner import Collector
from tests.admin.test_collectors import add, error_for, fields, post
from tests.collector.conftest import dovecot as dovecot  # noqa: F401  (fixture)
from tests.collector.conftest import inbox
from tests.collector.isp import DovecotIsp
from webapp.admin.collector_rules import format_rules, parse_rules


def textarea(page: str) -> str:
    match = re.search(r'<textarea id="f-rules" name="rules"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "the rules field is on the page"
    return html.unescape(match.group(1))


def test_the_syntax_reads_back_as_typed_and_sizes_take_a_unit() -> None:
    rules, problem = parse_rules("skip size 10MB\n\n  DELETE From  *@spam.example \n"
                                 "skip subject special offer\nskip size > 1.5kb\n")
    assert problem == ""
    assert rules == (Rule("skip", "size", str(10 * 1024 * 1024)),
                     Rule("delete", "from", "*@spam.example"),
                     Rule("skip", "subject", "special offer"), Rule("skip", "size", "1536"))
    assert format_rules(rules) == ("skip size 10MB\ndelete from *@spam.example\n"
                                   "skip subject special offer\nskip size 1536B")
    assert parse_rules(format_rules(rules))[0] == rules


async def test_rules_added_on_the_new_form_are_saved_in_order_and_shown(
        admin: httpx.AsyncClient, store: Store) -> None:
    page = await admin.get("/admin/collectors/new")
    assert "first rule that matches decides" in page.text
    assert "skip size 10MB" in page.text  # an example
    collector_id = await add(admin, rules="skip size 5MB\r\ndelete from *@spam.example\r\n")
    account = await store.collectors.get("office")
    assert account.rules == (Rule("skip", "size", str(5 * 1024 * 1024)),
                             Rule("delete", "from", "*@spam.example"))
    page = await admin.get(f"/admin/collectors/{collector_id}")
    assert textarea(page.text) == "skip size 5MB\ndelete from *@spam.example"
    [entry] = await store.audit.recent()
    assert entry.action == "collector.add"
    assert entry.new_value["rules"] == ["skip size > 5242880", "delete from ~ *@spam.example"]


async def test_reorder_edit_and_remove_are_saved_and_audited(
        admin: httpx.AsyncClient, store: Store) -> None:
    collector_id = await add(admin, rules="skip size 5MB\ndelete from *@spam.example")
    path = f"/admin/collectors/{collector_id}"
    # Reorder, change a value, add one.
    response = await post(admin, path, fields(
        password="", rules="delete from *@spam.example\nskip to sales@\nskip size 20MB"))
    assert response.status_code == 303, response.text
    assert (await store.collectors.get("office")).rules == (
        Rule("delete", "from", "*@spam.example"), Rule("skip", "to", "sales@"),
        Rule("skip", "size", str(20 * 1024 * 1024)))
    # Remove one line.
    response = await post(admin, path, fields(
        password="", rules="delete from *@spam.example\nskip size 20MB"))
    assert response.status_code == 303
    assert len((await store.collectors.get("office")).rules) == 2
    # Remove them all.
    response = await post(admin, path, fields(password="", rules=""))
    assert response.status_code == 303
    assert (await store.collectors.get("office")).rules == ()

    changes = [e for e in reversed(await store.audit.recent()) if e.action == "collector.change"]
    assert [e.target for e in changes] == ["collector office"] * 3
    assert changes[0].old_value == {"rules": ["skip size > 5242880",
                                              "delete from ~ *@spam.example"]}
    assert changes[0].new_value == {"rules": ["delete from ~ *@spam.example",
                                              "skip to ~ sales@", "skip size > 20971520"]}
    assert changes[1].new_value == {"rules": ["delete from ~ *@spam.example",
                                              "skip size > 20971520"]}
    assert changes[2].new_value == {"rules": []}
    assert all(e.actor == "root@example.com" for e in changes)


async def test_a_form_that_sends_no_rules_keeps_the_saved_ones(
        admin: httpx.AsyncClient, store: Store) -> None:
    collector_id = await add(admin, rules="skip subject lottery")
    response = await post(admin, f"/admin/collectors/{collector_id}",
                          fields(password="", interval="10"))  # no "rules" field at all
    assert response.status_code == 303
    account = await store.collectors.get("office")
    assert (account.interval, account.rules) == (600, (Rule("skip", "subject", "lottery"),))


async def test_bad_rules_are_refused_beside_the_field_naming_each_line(
        admin: httpx.AsyncClient, store: Store) -> None:
    typed = "skip size 10MB\nignore from bob@x.example\nskip size 10\nskip body viagra\ndelete to"
    response = await post(admin, "/admin/collectors/new", fields(rules=typed))
    assert response.status_code == 400
    error = html.unescape(error_for(response.text, "rules"))
    assert "line 1" not in error
    assert "line 2 ('ignore from bob@x.example'): start with skip or delete" in error
    assert "line 3 ('skip size 10'): add a unit to 10: KB or MB, e.g. 10MB" in error
    assert "line 4 ('skip body viagra'): after skip, say what to look at" in error
    assert "line 5 ('delete to'): give the text or pattern to look for in to" in error
    assert "Traceback" not in response.text
    assert textarea(response.text) == typed  # kept as typed
    assert await store.collectors.list() == []

    # On the edit form too: nothing changes, nothing is audited.
    collector_id = await add(admin, rules="skip size 1MB")
    response = await post(admin, f"/admin/collectors/{collector_id}",
                          fields(password="", rules="skip size 1MB\nskip size lots"))
    assert response.status_code == 400
    assert "line 2 (&#39;skip size lots&#39;): &#39;lots&#39; is not a size" in error_for(
        response.text, "rules")
    assert (await store.collectors.get("office")).rules == (
        Rule("skip", "size", str(1024 * 1024)),)
    assert [e.action for e in await store.audit.recent()] == ["collector.add"]


def message(sender: str, to: str, subject: str, body: str = "hello") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@x>\r\n\r\n{body}\r\n").encode()


async def test_rules_saved_in_the_admin_are_used_by_a_real_run(
        admin: httpx.AsyncClient, store: Store, dovecot: DovecotIsp) -> None:
    user, password = dovecot.new_mailbox()
    wanted = message("friend@ok.example", "ann@example.com", "keep me")
    dovecot.put(user, wanted)
    dovecot.put(user, message("friend@ok.example", "ann@example.com", "huge one", "x" * 3000))
    dovecot.put(user, message("Pest <pest@spam.example>", "ann@example.com", "buy now"))
    dovecot.put(user, message("boss@ok.example", "Sales <sales@isp.example>", "for sales"))
    collector_id = await add(admin, port=str(dovecot.ports["pop3"]), username=user,
                             password=password, enabled="")
    # Set the rules on the edit form; first match wins, so the big spam is deleted.
    response = await post(admin, f"/admin/collectors/{collector_id}", fields(
        port=str(dovecot.ports["pop3"]), username=user, password="", enabled="",
        rules="delete from *@spam.example\nskip size 2KB\nskip to sales@*"))
    assert response.status_code == 303, response.text

    outcome = await Collector(store, "mail.example.com").run(collector_id)
    assert outcome.error is None
    assert (outcome.report.delivered, outcome.report.skipped,
            outcome.report.deleted_by_rule) == (1, 2, 1)
    got = await inbox(store, "ann@example.com")
    assert [m for m in got if b"Subject: keep me" in m] == [wanted]
    notices = b"\n".join(m for m in got if b"Message not downloaded" in m)
    assert b"huge one" in notices and b"for sales" in notices and b"buy now" in notices
    assert dovecot.count(user) == 3  # the spam is gone; the big one and the sales one stay


async def test_a_wrong_rule_does_not_stop_a_connection_test_but_is_still_shown(
        admin: httpx.AsyncClient, store: Store, dovecot: DovecotIsp) -> None:
    user, password = dovecot.new_mailbox()
    response = await post(admin, "/admin/collectors/new", fields(
        action="test", port=str(dovecot.ports["pop3"]), username=user, password=password,
        rules="skip sizes 10MB"))
    assert response.status_code == 200
    assert "All stages passed" in response.text
    assert "line 1" in error_for(response.text, "rules")
    assert await store.collectors.list() == []


def test_address_rules_look_at_each_address_not_the_display_name() -> None:
    header = (b"From: \"Spam King\" <king@spam.example>\r\n"
              b"To: Ann <ann@example.com>, Sales <sales@example.com>\r\n"
              b"Cc: boss@example.com\r\nSubject: hi\r\n\r\n")
    rules, _ = parse_rules("skip to sales@*\ndelete cc *@example.com")
    assert decide(rules, 10, header) == rules[0]
    assert decide(rules[1:], 10, header) == rules[1]
    assert decide(parse_rules("skip from spam king")[0], 10, header) is None  # the address
    assert decide(parse_rules("skip to ann")[0], 10, header) is not None  # substring

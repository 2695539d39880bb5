"""SORT=DISPLAY (RFC 5957): DISPLAYFROM and DISPLAYTO with real clients, on both backends,
and the pure pieces (the collation, DISPLAYTO from a cached ENVELOPE) alone."""

from __future__ import annotations

import pytest
from imapclient import IMAPClient

from mailstore.mime import parse_message
from mailstore.sorting import casemap, to_display
from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, deliver, inbox


def message(sender: str | None, to: str | None) -> bytes:
    head = ""
    if sender is not None:
        head += f"From: {sender}\r\n"
    if to is not None:
        head += f"To: {to}\r\n"
    return (head + "Subject: hi\r\n\r\nbody\r\n").encode()


# uid 1..7. Display names and addresses sort differently; "_" sorts after letters under
# i;unicode-casemap (they map to capitals) but before them under a plain case fold.
MESSAGES = [
    message('"Yolanda" <a1@example.org>', '"Zed Adams" <aaa@example.org>'),
    message("=?iso-8859-1?q?=C4rger?= <zz@example.org>", "bob@example.org"),
    message("amy@example.org", "=?utf-8?q?=C3=89mile?= <zzz@example.org>"),
    message('"_bot" <b@example.org>', '"_under" <ccc@example.org>'),
    message(None, "undisclosed-recipients:;"),
    message('"Bob" <zzz@example.org>', 'team: "Yves" <y@example.org>, a@example.org;'),
    message('"bob" <aaa@example.org>', '"zed adams" <q@example.org>, "A" <a@example.org>'),
]
# DISPLAYFROM: (none) AMY@EXAMPLE.ORG A\u0308RGER BOB BOB YOLANDA _BOT
BY_DISPLAYFROM = [5, 3, 2, 6, 7, 1, 4]
# DISPLAYTO: (none) BOB@EXAMPLE.ORG E\u0301MILE YVES ZED ADAMS ZED ADAMS _UNDER
BY_DISPLAYTO = [5, 2, 3, 6, 1, 7, 4]


async def test_sort_by_display_names_with_imapclient_and_imaplib(
        imap: LiveImap, store: Store, account) -> None:
    await deliver(store, await inbox(store, account), MESSAGES)

    def scenario() -> dict[str, object]:
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            client.select_folder("INBOX")
            out: dict[str, object] = {"caps": client.capabilities()}
            for keys in (["DISPLAYFROM"], ["REVERSE DISPLAYFROM"], ["DISPLAYTO"],
                         ["REVERSE DISPLAYTO"], ["FROM"], ["TO"], ["DISPLAYTO", "REVERSE ARRIVAL"]):
                out[" ".join(keys)] = client.sort(keys)
            out["subset"] = client.sort(["DISPLAYTO"], ["NOT", "UID", "2,6"])
        imap_ = imap.login()
        imap_.select("INBOX")
        out["imaplib"] = imap_.sort("(REVERSE DISPLAYTO)", "UTF-8", "ALL")
        out["imaplib uid"] = imap_.uid("SORT", "(displayfrom)", "UTF-8", "3:*")
        imap_.logout()
        return out

    out = await client_thread(scenario)
    assert b"SORT=DISPLAY" in out["caps"]
    assert out["DISPLAYFROM"] == BY_DISPLAYFROM
    assert out["FROM"] == [5, 1, 7, 3, 4, 2, 6]  # addresses: a1 aaa amy b zz zzz
    assert out["DISPLAYTO"] == BY_DISPLAYTO
    assert out["TO"] != BY_DISPLAYTO
    # REVERSE turns the order round, but equal names (1 and 7) stay in mailbox order.
    assert out["REVERSE DISPLAYFROM"] == [4, 1, 6, 7, 2, 3, 5]
    assert out["REVERSE DISPLAYTO"] == [4, 1, 7, 6, 3, 2, 5]
    assert out["DISPLAYTO REVERSE ARRIVAL"] == [5, 2, 3, 6, 7, 1, 4]
    assert out["subset"] == [5, 3, 1, 7, 4]
    assert out["imaplib"] == ("OK", [b"4 1 7 6 3 2 5"])
    assert out["imaplib uid"] == ("OK", [b"5 3 6 7 4"])


def test_casemap_is_titlecase_then_nfkd() -> None:
    # RFC 5051 §2: simple titlecase mapping, then NFKD decomposition.
    assert casemap("alice") == casemap("ALICE") == casemap("Alice") == "ALICE"
    assert casemap("émile") == casemap("Émile") == "E\u0301MILE"
    # ǆ and Ǆ both take the titlecase letter ǅ, which NFKD spells D, z, caron.
    assert casemap("ǆemal") == casemap("ǄEMAL") == "Dz\u030cEMAL"
    assert casemap("straße") == "STRAßE"  # no multi-letter mapping
    # The ligature has no simple titlecase; NFKD then takes it apart (after the mapping).
    assert casemap("ﬁle") == "fiLE"
    assert sorted(["_bob", "alice", "Émile"], key=casemap) == ["alice", "Émile", "_bob"]


@pytest.mark.parametrize(("to", "display"), [
    ('"Zed, Adams" <z@example.org>, b@example.org', "Zed, Adams"),
    ("<z@example.org>", "z@example.org"),
    ('"" <z@example.org>', "z@example.org"),
    ("local-only", "local-only"),
    ("=?utf-8?b?SsO8cmdlbg==?= <j@example.org>", "Jürgen"),
    ('list: "Yves" <y@example.org>, a@example.org;, Zoe <z@example.org>', "Yves"),
    ("empty:;, Zoe <z@example.org>", "Zoe"),
    ("empty:;", ""),
    ('"Quote \\"me\\" \\\\ now" <q@example.org>', 'Quote "me" \\ now'),
    ('"Caf\u00e9 Owner" <c@example.org>', "Caf\u00e9 Owner"),
    ('"line\\\r\n break" <c@example.org>', "line break"),
    (None, ""),
])
def test_display_to_comes_from_the_cached_envelope(to: str | None, display: str) -> None:
    raw = message("a@example.org", to)
    assert to_display(parse_message(raw).envelope) == display


@pytest.mark.parametrize("envelope", [
    "", "(", ")", "NIL", "(NIL NIL NIL NIL NIL", "(NIL NIL NIL NIL NIL ((NIL NIL \"a\" NIL",
    "(NIL NIL NIL NIL NIL ({99}\r\nshort NIL \"a\" \"b\"))", "(1 2 3)", '(NIL "unterminated',
])
def test_display_to_of_a_damaged_envelope_is_empty(envelope: str) -> None:
    assert to_display(envelope) == ""

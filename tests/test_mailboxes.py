"""mbox and Maildir reading for `tidings import`, Maildir writing for `tidings export`.

Fixtures are built from real mail in tmp_path; the mbox files are written by a tiny mboxrd
writer below, so a reader bug cannot hide behind a writer from the same module.
"""

from __future__ import annotations

import errno
import os
import re
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailstore.mailboxes import (
    NotAMailbox,
    Skipped,
    SourceMessage,
    count_messages,
    detect,
    read_mailbox,
    write_maildir,
)
from tests.corpus import message_files

ENVELOPE = b"From sender@example.com Thu Jan  1 00:00:00 2015\n"


def mboxrd(messages: list[bytes], *, eol: bytes = b"\n", envelope: bytes = ENVELOPE) -> bytes:
    """An mboxrd file: envelope line, body with ">*From " lines quoted, one blank line after."""
    out = bytearray()
    for raw in messages:
        out += envelope.rstrip(b"\r\n") + eol
        out += re.sub(rb"(?m)^(>*From )", rb">\1", raw)
        if not raw.endswith(b"\n"):
            out += eol
        out += eol
    return bytes(out)


@cache
def real_messages(count: int) -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in list(message_files("real-mail"))[:count])


@cache
def messages_with_from_lines() -> tuple[bytes, ...]:
    """Real messages with "From " or ">From " at a line start: what mboxrd quoting is for."""
    return tuple(
        raw
        for raw in (p.read_bytes() for p in message_files("real-mail"))
        if re.search(rb"(?m)^>*From ", raw)
    )


def messages(path: Path, folder: str = "INBOX") -> list[SourceMessage]:
    found = list(read_mailbox(path, folder))
    assert all(isinstance(m, SourceMessage) for m in found), found
    return found  # type: ignore[return-value]


def msg(subject: str, body: str = "Hello.\n", **headers: str) -> bytes:
    lines = [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    lines += [f"Subject: {subject}", "", body]
    return "\n".join(lines).encode()


# --- mbox ---------------------------------------------------------------------------------------


def test_mbox_of_real_messages_reads_back_byte_exact(tmp_path: Path) -> None:
    originals = [*real_messages(200), *messages_with_from_lines()]
    path = tmp_path / "archive.mbox"
    path.write_bytes(mboxrd(originals))

    found = messages(path)

    assert [m.raw for m in found] == originals
    assert {m.folder for m in found} == {"INBOX"}
    assert found[0].source == f"{path}:#1"
    assert found[-1].source == f"{path}:#{len(originals)}"
    assert count_messages(path) == len(originals)


def test_mboxrd_from_lines_in_bodies_are_unquoted_once(tmp_path: Path) -> None:
    body = "From me\n>From you\n>>From them\nFrom: not quoted\n\nFrom the top\n"
    original = msg("quoting", body)
    path = tmp_path / "mbox"
    path.write_bytes(mboxrd([original, original]))
    assert b"\n>From me\n>>From you\n>>>From them\nFrom: not" in path.read_bytes()

    assert [m.raw for m in messages(path)] == [original, original]


def test_unquoted_from_line_stays_in_its_message_unless_it_looks_like_an_envelope(
    tmp_path: Path,
) -> None:
    # An mboxo writer that forgot to quote: "From " after a non-blank line, or prose after a
    # blank line, is body text; only an envelope-like line after a blank line separates.
    first = b"Subject: one\n\nFrom the desk of the director\ntext\n\nFrom here on, we win.\n"
    second = b"Subject: two\n\nbody\n"
    path = tmp_path / "mbox"
    path.write_bytes(ENVELOPE + first + b"\n" + ENVELOPE + second + b"\n")

    assert [m.raw for m in messages(path)] == [first, second]


def test_crlf_mbox_keeps_crlf_line_endings(tmp_path: Path) -> None:
    originals = [re.sub(rb"\r?\n", b"\r\n", raw) for raw in real_messages(50)]
    path = tmp_path / "crlf.mbox"
    path.write_bytes(mboxrd(originals, eol=b"\r\n"))

    assert [m.raw for m in messages(path)] == originals
    assert count_messages(path) == 50


def test_message_ending_in_blank_line_loses_only_the_separator_blank_line(tmp_path: Path) -> None:
    original = b"Subject: trailing blanks\n\nbody\n\n\n"
    path = tmp_path / "mbox"
    path.write_bytes(mboxrd([original, original]))

    assert [m.raw for m in messages(path)] == [original, original]


def test_last_message_without_final_newline_is_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "mbox"
    path.write_bytes(ENVELOPE + b"Subject: a\n\nbody without newline")

    assert [m.raw for m in messages(path)] == [b"Subject: a\n\nbody without newline"]


def test_leading_blank_lines_before_the_first_envelope_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "mbox"
    path.write_bytes(b"\n\r\n" + mboxrd([msg("a")]))

    assert detect(path) == "mbox"
    assert [m.raw for m in messages(path)] == [msg("a")]
    assert count_messages(path) == 1


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        (b"From a@example.com Thu Jan  1 00:00:00 2015", datetime(2015, 1, 1, tzinfo=UTC)),
        (
            b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011",
            datetime(2011, 7, 8, 12, 8, 34, tzinfo=UTC),
        ),
        (
            b"From exmh-workers-admin@redhat.com  Thu Aug 22 12:36:23 2002",
            datetime(2002, 8, 22, 12, 36, 23, tzinfo=UTC),
        ),
        (
            b"From a@example.com Mon Mar  4 09:05:00 2019 +0100",
            datetime(2019, 3, 4, 9, 5, tzinfo=timezone(timedelta(hours=1))),
        ),
        (
            b"From a@example.com Mon Mar  4 09:05:00 -0500 2019",
            datetime(2019, 3, 4, 9, 5, tzinfo=timezone(timedelta(hours=-5))),
        ),
        (
            b"From a@example.com Mon Mar  4 09:05 PST 2019",
            datetime(2019, 3, 4, 9, 5, tzinfo=timezone(timedelta(hours=-8))),
        ),
        (b"From - Tue Dec 31 23:59:59 2024", datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (
            b"From a@example.com Mon, 4 Mar 2019 09:05:00 +0200",
            datetime(2019, 3, 4, 9, 5, tzinfo=timezone(timedelta(hours=2))),
        ),
        (b"From a@example.com Mon Feb 30 09:05:00 2019", None),
    ],
)
def test_from_line_date_becomes_internal_date(
    tmp_path: Path, envelope: bytes, expected: datetime | None
) -> None:
    path = tmp_path / "mbox"
    path.write_bytes(mboxrd([msg("dated")], envelope=envelope + b"\n"))

    (found,) = messages(path)
    assert found.internal_date == expected
    if expected is not None:
        assert found.internal_date.utcoffset() == expected.utcoffset()


def test_status_and_x_status_headers_become_flags_without_changing_bytes(
    tmp_path: Path,
) -> None:
    originals = [
        msg("unread"),
        msg("old but unread", Status="O"),
        msg("read", Status="RO"),
        msg("everything", Status="RO", X_Status="AFDT", X_Keywords="$Label1 todo"),
        msg("answered, flagged", X_Status="FA"),
    ]
    path = tmp_path / "mbox"
    path.write_bytes(mboxrd(originals))

    found = messages(path)

    assert [m.raw for m in found] == originals
    assert [m.flags for m in found] == [
        frozenset(),
        frozenset(),
        {"\\Seen"},
        {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"},
        {"\\Answered", "\\Flagged"},
    ]
    assert found[3].keywords == {"$Label1", "todo"}


def test_spamham_files_with_envelope_lines_concatenate_into_a_readable_mbox(
    tmp_path: Path,
) -> None:
    # Files that are one-message mboxes already: "From " line, then the message.
    files = [p.read_bytes() for p in list(message_files("spamham"))[:300]]
    files = [f for f in files if f.startswith(b"From ") and f.endswith(b"\n")]
    bodies = [f.split(b"\n", 1)[1] for f in files]
    path = tmp_path / "spamham.mbox"
    with path.open("wb") as out:
        for envelope, body in zip((f.split(b"\n", 1)[0] for f in files), bodies, strict=True):
            out.write(mboxrd([body], envelope=envelope + b"\n"))

    found = messages(path)

    assert [m.raw for m in found] == bodies
    assert all(m.internal_date is not None for m in found)


def test_empty_and_headerless_mbox_messages_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mbox"
    path.write_bytes(
        ENVELOPE + b"\n" + ENVELOPE + b"just some text\n\n" + mboxrd([msg("real one")])
    )

    found = list(read_mailbox(path))

    assert found[0] == Skipped(f"{path}:#1", "empty message")
    assert found[1] == Skipped(f"{path}:#2", "not a message (no header)")
    assert isinstance(found[2], SourceMessage) and found[2].raw == msg("real one")


def test_dovecot_folder_internal_data_pseudo_message_is_skipped(tmp_path: Path) -> None:
    pseudo = msg("DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA", X_IMAP="1234 0000000010")
    path = tmp_path / "mbox"
    path.write_bytes(mboxrd([pseudo, msg("mail")]))

    found = list(read_mailbox(path, "Archive"))

    assert isinstance(found[0], Skipped) and "X-IMAP" in found[0].reason
    assert isinstance(found[1], SourceMessage) and found[1].folder == "Archive"


def test_mbox_root_goes_to_the_given_folder(tmp_path: Path) -> None:
    path = tmp_path / "mbox"
    path.write_bytes(mboxrd([msg("a")]))

    assert [m.folder for m in messages(path, "Old/2019")] == ["Old/2019"]


def test_large_mbox_is_streamed_not_loaded(tmp_path: Path) -> None:
    # Messages under 256 KB, so the largest one in memory stays far below the 50 MB file.
    sample = [raw for raw in real_messages(400) if len(raw) < 256 * 1024]
    chunk = mboxrd(sample)
    path = tmp_path / "large.mbox"
    with path.open("wb") as out:
        while out.tell() < 50 * 1024 * 1024:
            out.write(chunk)
    size = path.stat().st_size
    expected = len(sample) * (size // len(chunk))

    tracemalloc.start()
    try:
        count = 0
        total = 0
        for m in read_mailbox(path):
            assert isinstance(m, SourceMessage)
            count += 1
            total += len(m.raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == expected
    assert total == sum(map(len, sample)) * (size // len(chunk))
    assert peak < size / 10, f"peak {peak} bytes for a {size} byte mbox"
    assert count_messages(path) == expected


body_lines = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\n"),
    st.sampled_from(
        [
            b"\n",
            b"\r\n",
            b"From someone Thu Jan  1 00:00:00 2015\n",
            b">From quoted\n",
            b">>From twice\n",
            b"From \n",
            b"From:header-like\n",
            b">\n",
        ]
    ),
)
mbox_messages = st.lists(body_lines, max_size=20).map(
    lambda lines: b"Subject: hypothesis\n\n" + b"".join(lines)
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(originals=st.lists(mbox_messages, min_size=1, max_size=5), crlf=st.booleans())
def test_mboxrd_write_then_read_round_trips_arbitrary_bodies(
    tmp_path: Path, originals: list[bytes], crlf: bool
) -> None:
    if crlf:
        originals = [re.sub(rb"\r?\n", b"\r\n", raw) for raw in originals]
    path = tmp_path / "hypothesis.mbox"
    path.write_bytes(mboxrd(originals, eol=b"\r\n" if crlf else b"\n"))

    assert [m.raw for m in messages(path)] == originals
    assert count_messages(path) >= len(originals)


# --- Maildir reading ---------------------------------------------------------------------------


def make_maildir(d: Path) -> Path:
    for part in ("cur", "new", "tmp"):
        (d / part).mkdir(parents=True, exist_ok=True)
    return d


def deliver(
    d: Path, name: str, raw: bytes, *, sub: str = "cur", mtime: float | None = None
) -> Path:
    path = make_maildir(d) / sub / name
    path.write_bytes(raw)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_maildir_with_maildirplusplus_and_nested_subfolders_maps_folder_names(
    tmp_path: Path,
) -> None:
    root = tmp_path / "Maildir"
    real = real_messages(8)
    deliver(root, "1000.a.host:2,S", real[0])
    deliver(root / ".Sent", "1000.b.host:2,S", real[1])
    deliver(root / ".Work.Projects", "1000.c.host:2,", real[2])
    deliver(root / ".INBOX.Archive", "1000.d.host:2,", real[3])
    deliver(root / ".Entw&APw-rfe", "1000.e.host:2,", real[4])  # modified UTF-7: "Entwürfe"
    deliver(root / "Lists", "1000.f.host:2,", real[5])  # nested style
    deliver(root / "Lists" / "linux-man", "1000.g.host:2,", real[6])
    deliver(root / "Old" / "2019", "1000.h.host:2,", real[7])  # "Old" itself is no Maildir
    # What a Dovecot or Courier Maildir also holds, none of it mail:
    for name in ("dovecot-uidlist", "dovecot.index", "dovecot.index.log", "subscriptions"):
        (root / name).write_text("x\n")
    (root / ".Sent" / "maildirfolder").touch()
    (root / "cur" / ".hidden").write_bytes(b"Subject: no\n\n")
    (root / "tmp" / "1000.partial.host").write_bytes(b"Subject: half deliv")
    (root / "courierimapkeywords").mkdir()

    assert detect(root) == "maildir"
    found = {m.folder: m.raw for m in messages(root)}

    assert found == {
        "INBOX": real[0],
        "Sent": real[1],
        "Work/Projects": real[2],
        "INBOX/Archive": real[3],
        "Entwürfe": real[4],
        "Lists": real[5],
        "Lists/linux-man": real[6],
        "Old/2019": real[7],
    }
    assert count_messages(root) == 8
    imported = {m.folder for m in messages(root, "Imported")}
    assert imported == {
        "Imported",
        "Imported/Sent",
        "Imported/Work/Projects",
        "Imported/Archive",
        "Imported/Entwürfe",
        "Imported/Lists",
        "Imported/Lists/linux-man",
        "Imported/Old/2019",
    }


def test_folder_of_maildirs_without_a_root_maildir_is_a_maildir(tmp_path: Path) -> None:
    deliver(tmp_path / "mail" / "INBOX", "1.a.h", msg("in"))
    deliver(tmp_path / "mail" / "Sent", "1.b.h", msg("out"))

    assert detect(tmp_path / "mail") == "maildir"
    assert {m.folder for m in messages(tmp_path / "mail")} == {"INBOX", "Sent"}


def test_maildir_flags_come_from_the_info_suffix_and_new_mail_is_unseen(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    (root / "dovecot-keywords").write_text("0 $Forwarded\n1 todo\n3 $Junk\n")
    deliver(root, "1.a.h:2,S", msg("seen"))
    deliver(root, "2.a.h:2,DFPRST", msg("all flags"))
    deliver(root, "3.a.h,S=123,W=125:2,Rab", msg("answered with keywords"))
    deliver(root, "4.a.h:2,", msg("no flags"))
    deliver(root, "5.a.h!2,FS", msg("windows separator"))
    deliver(root, "6.a.h", msg("just delivered"), sub="new")
    deliver(root, "7.a.h:2,S", msg("new with info"), sub="new")

    found = [(m.flags, m.keywords) for m in messages(root)]

    assert found == [
        ({"\\Seen"}, set()),
        ({"\\Draft", "\\Flagged", "\\Answered", "\\Seen", "\\Deleted"}, set()),
        ({"\\Answered"}, {"$Forwarded", "todo"}),
        (set(), set()),
        ({"\\Flagged", "\\Seen"}, set()),
        (set(), set()),
        (set(), set()),
    ]


def test_maildir_messages_are_ordered_by_timestamp_prefix_then_name(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    for name in ("100.a.h:2,S", "9.b.h:2,S", "10.b.h:2,", "nodate.h:2,", "10.a.h:2,"):
        deliver(root, name, msg(name))
    deliver(root, "50.new.h", msg("50.new.h"), sub="new")

    subjects = [m.raw.split(b"Subject: ")[1].split(b"\n")[0] for m in messages(root)]

    assert subjects == [
        b"9.b.h:2,S",
        b"10.a.h:2,",
        b"10.b.h:2,",
        b"50.new.h",
        b"100.a.h:2,S",
        b"nodate.h:2,",
    ]


def test_maildir_internal_date_is_the_file_mtime(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    deliver(root, "1700000000.a.h:2,S", msg("x"), mtime=1_500_000_000.25)

    (found,) = messages(root)

    assert found.internal_date == datetime.fromtimestamp(1_500_000_000.25, UTC)
    assert found.source == str(root / "cur" / "1700000000.a.h:2,S")


def test_zero_byte_and_headerless_maildir_files_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    empty = deliver(root, "1.empty.h:2,S", b"")
    junk = deliver(root, "2.junk.h:2,S", b"\x00\x01binary junk\n")
    deliver(root, "3.good.h:2,S", msg("good"))

    found = list(read_mailbox(root))

    assert found[:2] == [
        Skipped(str(empty), "empty message"),
        Skipped(str(junk), "not a message (no header)"),
    ]
    assert isinstance(found[2], SourceMessage)


def test_unreadable_maildir_file_is_skipped_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "Maildir"
    locked = deliver(root, "1.locked.h:2,S", msg("secret"))
    deliver(root, "2.open.h:2,S", msg("open"))
    real_open = Path.open

    def open_as_another_user(self: Path, *args, **kwargs):  # chmod 0 does not stop root
        if self == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_as_another_user)
    found = list(read_mailbox(root))

    assert found[0] == Skipped(str(locked), "unreadable: Permission denied")
    assert isinstance(found[1], SourceMessage)


# --- Maildir writing ---------------------------------------------------------------------------

FLAG_SETS = [
    frozenset(),
    frozenset({"\\Seen"}),
    frozenset({"\\Seen", "\\Answered"}),
    frozenset({"\\Flagged", "\\Deleted", "\\Draft"}),
    frozenset({"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}),
]
FOLDERS = ["INBOX", "Sent", "Work/Projects", "INBOX/Archive", "Entwürfe", "v1.2 & more"]


def test_write_maildir_then_read_mailbox_round_trips_real_messages(tmp_path: Path) -> None:
    dest = tmp_path / "export"
    originals = real_messages(500)
    expected = []
    for uid, raw in enumerate(originals, 1):
        folder = FOLDERS[uid % len(FOLDERS)]
        flags = FLAG_SETS[uid % len(FLAG_SETS)]
        when = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=uid, microseconds=uid)
        path = write_maildir(dest, folder, raw, flags, when, str(uid))
        assert path.parent.name == "cur" and path.read_bytes() == raw
        expected.append((folder, raw, flags, when))

    found = [(m.folder, m.raw, m.flags, m.internal_date) for m in messages(dest)]

    assert sorted(found, key=repr) == sorted(expected, key=repr)
    assert [f for f in found if f[0] == "Sent"] == [e for e in expected if e[0] == "Sent"]
    assert count_messages(dest) == 500
    assert sorted(p.name for p in dest.iterdir() if p.name.startswith(".")) == [
        ".Entw&APw-rfe",
        ".INBOX.Archive",
        ".Sent",
        ".Work.Projects",
        ".v1&AC4-2 &- more",
    ]
    assert (dest / ".Sent" / "maildirfolder").exists()
    assert not any((dest / "tmp").iterdir())


def test_write_maildir_names_the_file_with_sorted_flag_letters(tmp_path: Path) -> None:
    path = write_maildir(
        tmp_path,
        "INBOX",
        msg("flags"),
        ["\\Seen", "\\Deleted", "\\Draft", "\\Answered", "\\Flagged", "\\Recent", "$Junk"],
        None,
        "7",
    )

    assert path.name.endswith(":2,DFRST")
    assert path.parent == tmp_path / "cur"
    assert {p.name for p in tmp_path.iterdir()} == {"cur", "new", "tmp"}


def test_write_maildir_sets_mtime_and_keeps_uid_order_within_one_second(tmp_path: Path) -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))
    for uid in (2, 10, 9, 100, 1):
        write_maildir(tmp_path, "INBOX", msg(str(uid)), [], when, f"1700000000-{uid}")

    found = messages(tmp_path)

    assert [m.raw for m in found] == [msg(str(uid)) for uid in (1, 2, 9, 10, 100)]
    assert {m.internal_date for m in found} == {when}


def test_write_maildir_refuses_naive_dates_and_empty_folder_parts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        write_maildir(tmp_path, "INBOX", msg("x"), [], datetime(2024, 1, 1), "1")
    with pytest.raises(ValueError, match="empty part"):
        write_maildir(tmp_path, "Work//x", msg("x"), [], None, "1")


# --- not a mailbox ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.write_text("Dear diary,\nFrom today on...\n"), "no 'From ' line at the start"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"\n\n\r\n"), "is empty"),
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a folder but not a Maildir"),
        (lambda p: p.write_bytes(real_messages(1)[0]), "looks like a single message"),
    ],
    ids=["plain-text", "empty", "blank-lines", "missing", "empty-dir", "eml"],
)
def test_not_a_mailbox_says_why_in_one_line(
    tmp_path: Path, make: Callable[[Path], object], says: str
) -> None:
    path = tmp_path / "thing"
    make(path)

    with pytest.raises(NotAMailbox) as caught:
        detect(path)

    message = str(caught.value)
    assert says in message and str(path) in message and "\n" not in message
    with pytest.raises(NotAMailbox):
        read_mailbox(path)  # at the call, not at the first message
    with pytest.raises(NotAMailbox):
        count_messages(path)


def test_cur_folder_given_instead_of_its_maildir_names_the_maildir(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")

    with pytest.raises(NotAMailbox, match=f"import {re.escape(str(root))} instead"):
        detect(root / "cur")


def test_folder_with_unrelated_subfolders_is_not_a_maildir(tmp_path: Path) -> None:
    (tmp_path / "photos" / "2019").mkdir(parents=True)
    (tmp_path / "photos" / "notes.txt").write_text("hi\n")

    with pytest.raises(NotAMailbox, match="not a Maildir"):
        detect(tmp_path / "photos")

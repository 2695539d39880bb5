"""mbsync (Debian package isync) against the real server: a two-way sync of real mail.

A local Maildir holding 150 messages of the real-mail corpus (INBOX, ``lists``,
``lists/kernel`` and ``old``; some flagged; arrival dates over years) is pushed up to an
empty account; both sides are compared. Then both sides change (flags, a move, deletions,
a message trashed locally, new mail, new folders on either side, names with a space and in
modified UTF-7), mbsync runs again (over STARTTLS), and both sides must equal the state the
changes imply. A last run (over implicit TLS) with nothing to do must change nothing.

How the two sides are compared: the server keeps the bytes mbsync uploads; mbsync converts
the Maildir's LF line ends to CRLF on the way up and back, and adds an ``X-TUID`` header to
the messages it copies so it can find them again (mbsync(1), "X-TUID"). A message is
therefore identified by its CRLF form without that header. Flags map as mbsync(1) documents
for Maildir: D \\Draft, F \\Flagged, R \\Answered, S \\Seen, T \\Deleted.

mbsync runs in a thread (``asyncio.to_thread``) so the server in the test's loop keeps
serving it. Without mbsync the test is skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from mailstore.values import AccountInfo
from tests.corpus import message_files
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, simple_message

MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                 "T": "\\Deleted"}
LETTERS = {flag: letter for letter, flag in MAILDIR_FLAGS.items()}
# The sample's folders, by the list a message came from.
FOLDER_OF_LIST = {"openbmc": "INBOX", "usrp-users": "INBOX", "linux-man": "lists",
                  "jailhouse-dev": "lists/kernel", "open-iscsi": "old"}
TUID = re.compile(rb"^X-TUID: [^\r\n]*\r?\n", re.MULTILINE | re.IGNORECASE)

Item = tuple[bytes, frozenset[str]]  # (the message as identified above, its flags)
Side = dict[str, Counter[Item]]  # folder name -> messages
Dated = dict[str, Counter[tuple[bytes, frozenset[str], int]]]  # ... and its arrival time


def identity(raw: bytes) -> bytes:
    """The message as both sides must hold it: CRLF line ends, no X-TUID in the header."""
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, sep, body = crlf.partition(b"\r\n\r\n")
    return TUID.sub(b"", head + b"\r\n", count=1)[:-2] + sep + body


def corpus_sample(n: int = 150) -> list[tuple[str, bytes]]:
    """``n`` real messages spread over every list of the corpus: (folder, bytes)."""
    files = list(message_files("real-mail"))
    step = len(files) // n
    return [(FOLDER_OF_LIST[files[i].parent.name], files[i].read_bytes())
            for i in range(0, step * n, step)]


def sample_flags(i: int) -> str:
    """Maildir info letters (sorted, as the spec requires) for the i-th sample message."""
    letters = ("S" if i % 3 else "") + ("F" if i % 7 == 0 else "") + \
        ("R" if i % 11 == 0 else "") + ("D" if i == 5 else "")
    return "".join(sorted(letters))


# -- the local side: a Maildir tree, folders named verbatim ---------------------------------

def maildir(root: Path, folder: str) -> Path:
    path = root / folder
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def flags_of(name: str) -> frozenset[str]:
    _, sep, info = name.partition(":2,")
    return frozenset(MAILDIR_FLAGS[c] for c in info if sep and c in MAILDIR_FLAGS)


def read_local(root: Path) -> Dated:
    """Every message with its flags and arrival time (the file's mtime, CopyArrivalDate)."""
    side: Dated = {}
    for cur in sorted(root.rglob("cur")):
        folder = cur.parent.relative_to(root).as_posix()
        files = [*cur.iterdir(), *(cur.parent / "new").iterdir()]
        side[folder] = Counter((identity(f.read_bytes()), flags_of(f.name),
                                int(f.stat().st_mtime)) for f in files)
    return side


def undated(side: Dated) -> Side:
    return {folder: Counter({(ident, flags): n for (ident, flags, _), n in items.items()})
            for folder, items in side.items()}


def local_files(root: Path, folder: str) -> list[Path]:
    path = root / folder
    return sorted([*(path / "cur").iterdir(), *(path / "new").iterdir()])


def with_flags(file: Path, flags: frozenset[str]) -> Path:
    """Rename a Maildir file to carry ``flags`` (the info suffix), into cur/."""
    base = file.name.partition(":2,")[0]
    info = "".join(sorted(LETTERS[f] for f in flags))
    target = file.parent.parent / "cur" / f"{base}:2,{info}"
    file.rename(target)
    return target


# -- the server side, as an IMAP client sees it -----------------------------------------------

FETCHED = re.compile(rb"\bFLAGS \(([^)]*)\)")
ARRIVED = re.compile(rb'\bINTERNALDATE "([^"]*)"')


def read_server(imap: imaplib.IMAP4) -> Dated:
    side: Dated = {}
    typ, listed = imap.list()
    assert typ == "OK"
    for line in listed:
        assert isinstance(line, bytes)
        folder = line.rsplit(b' "/" ', 1)[1].strip(b'"').decode()
        typ, _ = imap.select(f'"{folder}"', readonly=True)
        assert typ == "OK", folder
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        assert typ == "OK", folder
        items: Counter[tuple[bytes, frozenset[str], int]] = Counter()
        for part in data:
            if isinstance(part, tuple):
                flags, arrived = FETCHED.search(part[0]), ARRIVED.search(part[0])
                assert flags and arrived, part[0]
                date = datetime.strptime(arrived.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
                items[(identity(part[1]), frozenset(
                    f for f in flags.group(1).decode().split() if f != "\\Recent"),
                    int(date.timestamp()))] += 1
        side[folder] = items
    return side


def login(live: LiveImap) -> imaplib.IMAP4:
    imap = live.client()
    imap.login("ann@example.com", PASSWORD)
    return imap


def uids_by_message_id(imap: imaplib.IMAP4, folder: str) -> dict[str, int]:
    imap.select(f'"{folder}"')
    typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK"
    found: dict[str, int] = {}
    for part, after in zip(data, [*data[1:], b""], strict=True):
        if isinstance(part, tuple):
            # RFC 9051 §7.5.2: the UID may come before or after the literal.
            assert isinstance(after, bytes)
            uid = re.search(rb"UID (\d+)", part[0] + after)
            assert uid, (part[0], after)
            found[message_id(part[1])] = int(uid.group(1))
    return found


# -- mbsync ---------------------------------------------------------------------------------

def mbsyncrc(tmp_path: Path, port: int, root: Path, tls: str = "None",
             certificate: Path | None = None) -> Path:
    """The configuration: isync 1.4 option names (``SSLType``; 1.5 also reads them).

    ``tls`` is ``None`` (LOGIN in the clear is allowed on loopback), ``STARTTLS`` or
    ``IMAPS``; a certificate listed in ``CertificateFile`` is trusted as it is (mbsync(1)).
    """
    rc = tmp_path / f"mbsyncrc-{tls}"
    trust = f"CertificateFile {certificate}\n" if certificate else ""
    rc.write_text(f"""\
IMAPAccount tidings
Host 127.0.0.1
Port {port}
User ann@example.com
Pass "{PASSWORD}"
SSLType {tls}
{trust}
IMAPStore remote
Account tidings

MaildirStore local
Path {root}/
Inbox {root}/INBOX
SubFolders Verbatim

Channel both
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
CopyArrivalDate yes
SyncState *
""")
    return rc


async def mbsync(rc: Path) -> None:
    """Run ``mbsync -a`` in a thread while the loop serves it; it must succeed."""
    done = await asyncio.to_thread(
        subprocess.run, ["mbsync", "-c", str(rc), "-a"], capture_output=True,
        timeout=120, env={**os.environ, "HOME": str(rc.parent)})
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, f"mbsync exited {done.returncode}:\n{output}"


@pytest.fixture
def needs_mbsync() -> None:
    if shutil.which("mbsync") is None:
        if os.environ.get("CI"):
            pytest.fail("mbsync is missing (Debian package isync)")
        pytest.skip("mbsync is missing (Debian package isync)")


def message_id(raw: bytes) -> str:
    """The Message-ID, unfolded (some of the corpus folds it onto its own line)."""
    found = BytesHeaderParser().parsebytes(raw)["Message-ID"]
    assert found, raw[:200]
    return " ".join(str(found).split())


def take(side: Side, folder: str, ident: bytes) -> frozenset[str]:
    """Remove one message from a side model; returns its flags."""
    for item in side[folder]:
        if item[0] == ident:
            side[folder][item] -= 1
            if not side[folder][item]:
                del side[folder][item]
            return item[1]
    raise AssertionError(f"not in {folder}: {ident[:80]!r}")


def put(side: Side, folder: str, ident: bytes, flags: frozenset[str]) -> None:
    side.setdefault(folder, Counter())[(ident, flags)] += 1


async def test_mbsync_two_way_sync_of_real_mail(
        needs_mbsync: None, imap: LiveImap, account: AccountInfo, tmp_path: Path,
        tls_dir: Path) -> None:
    root = tmp_path / "mail"
    sample = corpus_sample()
    expected: Side = {}
    for i, (folder, raw) in enumerate(sample):
        letters = sample_flags(i)
        file = maildir(root, folder) / "cur" / f"1700000000.{i}.test:2,{letters}"
        file.write_bytes(raw)
        arrived = 1_600_000_000 + 86_400 * 37 * i + 3_607 * i  # over years, any hour
        os.utime(file, (arrived, arrived))
        put(expected, folder, identity(raw), flags_of(f":2,{letters}"))
    for folder in ("Drafts", "Sent", "Junk", "Trash", "Archive"):
        expected[folder] = Counter()  # the account's own folders come down, empty
    rc = mbsyncrc(tmp_path, imap.port, root)

    # 1. Push the Maildir up to the empty account.
    await mbsync(rc)
    server = await client_thread(lambda: read_server(login(imap)))
    assert undated(server) == expected
    assert read_local(root) == server

    # 2. Change both sides, on messages apart from one another.
    kernel = local_files(root, "lists/kernel")
    inbox_files = local_files(root, "INBOX")
    by_id = {message_id(identity(f.read_bytes())): f for f in inbox_files}
    ids = sorted(by_id)
    server_flagged, server_unseen, moved = ids[0], ids[1], ids[2]
    server_deleted = [message_id(identity(f.read_bytes())) for f in kernel[:3]]
    local_deleted, local_reflagged = ids[3:6], ids[6:9]

    def change_server() -> None:
        imap_ = login(imap)
        uids = uids_by_message_id(imap_, "INBOX")
        assert imap_.uid("STORE", str(uids[server_flagged]), "+FLAGS", "(\\Flagged)")[0] == "OK"
        assert imap_.uid("STORE", str(uids[server_unseen]), "-FLAGS", "(\\Seen)")[0] == "OK"
        typ, _ = imap_.uid("MOVE", str(uids[moved]), "lists")
        assert typ == "OK"
        uids = uids_by_message_id(imap_, "lists/kernel")
        wanted = ",".join(str(uids[m]) for m in server_deleted)
        assert imap_.uid("STORE", wanted, "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert imap_.expunge()[0] == "OK"
        for name, flags in (("INBOX", "(\\Seen)"), ("INBOX", "()"), ("lists", "(\\Flagged)")):
            typ, _ = imap_.append(name, flags, None, new_on_server[name, flags])
            assert typ == "OK"
        imap_.logout()

    new_on_server = {
        ("INBOX", "(\\Seen)"): simple_message("server one"),
        ("INBOX", "()"): simple_message("server two"),
        ("lists", "(\\Flagged)"): simple_message("server three"),
    }
    for ident in (server_flagged, server_unseen, moved):
        raw = identity(by_id[ident].read_bytes())
        flags = take(expected, "INBOX", raw)
        if ident == server_flagged:
            flags |= {"\\Flagged"}
        elif ident == server_unseen:
            flags -= {"\\Seen"}
        put(expected, "lists" if ident == moved else "INBOX", raw, flags)
    for ident in server_deleted:
        take(expected, "lists/kernel", identity(
            next(f for f in kernel if message_id(identity(f.read_bytes())) == ident)
            .read_bytes()))
    for (folder, flags), raw in new_on_server.items():
        put(expected, folder, identity(raw), flags_of(
            ":2," + "".join(LETTERS[f] for f in flags.strip("()").split())))
    await client_thread(change_server)

    for ident in local_deleted:
        take(expected, "INBOX", identity(by_id[ident].read_bytes()))
        by_id[ident].unlink()
    for ident in local_reflagged:
        raw = identity(by_id[ident].read_bytes())
        flags = take(expected, "INBOX", raw)
        flags = (flags - {"\\Seen"}) if "\\Seen" in flags else (flags | {"\\Seen", "\\Answered"})
        with_flags(by_id[ident], flags)
        put(expected, "INBOX", raw, flags)
    local_new = [simple_message("local one", "LF only\n").replace(b"\r\n", b"\n"),
                 simple_message("local two").replace(b"\r\n", b"\n")]
    (root / "lists/kernel/new/1800000000.1.test").write_bytes(local_new[0])
    (root / "lists/kernel/cur/1800000000.2.test:2,FS").write_bytes(local_new[1])
    put(expected, "lists/kernel", identity(local_new[0]), frozenset())
    put(expected, "lists/kernel", identity(local_new[1]), frozenset({"\\Flagged", "\\Seen"}))

    trashed = by_id[ids[9]]  # a message marked trashed locally is deleted on both sides
    take(expected, "INBOX", identity(trashed.read_bytes()))
    with_flags(trashed, flags_of(trashed.name) | {"\\Deleted"})

    def create_on_server() -> None:
        imap_ = login(imap)
        assert imap_.create('"Old Projects"')[0] == "OK"
        assert imap_.append('"Old Projects"', "(\\Seen)", None, new_in_folder)[0] == "OK"
        # Entwürfe, in modified UTF-7: mbsync 1.4 names the local folder the same way.
        assert imap_.create("Entw&APw-rfe")[0] == "OK"
        assert imap_.append("Entw&APw-rfe", "()", None, new_in_folder)[0] == "OK"
        imap_.logout()

    new_in_folder = simple_message("a folder made on the server")
    await client_thread(create_on_server)
    put(expected, "Old Projects", identity(new_in_folder), frozenset({"\\Seen"}))
    put(expected, "Entw&APw-rfe", identity(new_in_folder), frozenset())
    local_folder = maildir(root, "Reise 2024")
    (local_folder / "cur" / "1800000000.3.test:2,S").write_bytes(local_new[1])
    put(expected, "Reise 2024", identity(local_new[1]), frozenset({"\\Seen"}))

    # 3. Sync again (over STARTTLS): both sides hold exactly what the changes imply.
    await mbsync(mbsyncrc(tmp_path, imap.port, root, "STARTTLS", tls_dir / "cert.pem"))
    server = await client_thread(lambda: read_server(login(imap)))
    assert read_local(root) == server
    assert undated(server) == expected

    # 4. A sync with nothing to do (over implicit TLS) changes nothing on either side.
    await mbsync(mbsyncrc(tmp_path, imap.tls_port, root, "IMAPS", tls_dir / "cert.pem"))
    assert await client_thread(lambda: read_server(login(imap))) == server
    assert read_local(root) == server

"""Read mbox files and Maildirs for ``tidings import``; write a Maildir for ``tidings export``.

Pure filesystem I/O: no database, no parsing beyond what the formats need. The importer turns
each `SourceMessage` into a stored message and reports each `Skipped` to the administrator.

Implementation notes (keep these invariants):

- Message bytes are never altered. For a Maildir, `raw` is the file. For an mbox, `raw` is what
  the writer was given: the separator line and the one blank line the writer added before the
  next separator (or at the end of the file) are removed, ">From " lines lose one ">" (mboxrd),
  and line endings (LF or CRLF) are kept. Flags come from headers that stay in `raw`.
- An mbox is streamed line by line in binary; only the current message is ever in memory, so a
  multi-GB mbox costs as much memory as its largest message.
- A separator is a "From " line at the start of the file or after a blank line (RFC 4155).
  Inside the file it must also look like an envelope line (a month name and a time), so that an
  unquoted "From here on, ..." paragraph written by a careless mboxo writer stays in its message.
- Maildir (https://cr.yp.to/proto/maildir.html): messages live in cur/ and new/; tmp/ holds
  deliveries in progress and is never read. Flags are the letters after ":2,". Subfolders are
  Maildir++ (".Work.Projects" beside cur/, as Courier and Dovecot write them) or nested
  (Dovecot LAYOUT=fs, isync, mutt: "Work/Projects/cur"). Folder names on disk are IMAP modified
  UTF-7 (RFC 3501 §5.1.3), as Dovecot and Courier write them.
- A leading "INBOX" part of a subfolder name ("INBOX.Archive" or "INBOX/Archive") means a child of
  the root folder, so ".INBOX.Archive" reads as "INBOX/Archive" and write_maildir writes
  "INBOX/Archive" back to ".INBOX.Archive": what is written reads back unchanged.
- write_maildir delivers the way the Maildir spec asks: write to tmp/, fsync, rename into cur/.
  A file name is never reused (time, uid hint, pid, a counter and random bits), so rename never
  replaces a message.
"""

from __future__ import annotations

import email.utils
import itertools
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import BinaryIO, Literal

from mailstore import mutf7

__all__ = [
    "NotAMailbox",
    "Skipped",
    "SourceMessage",
    "count_messages",
    "detect",
    "read_mailbox",
    "write_maildir",
]


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """One message found in an mbox or Maildir, ready to be stored in `folder`."""

    folder: str
    raw: bytes
    flags: frozenset[str]
    keywords: frozenset[str]
    internal_date: datetime | None
    source: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something in the mailbox that is not imported, and why, so the admin can be told."""

    source: str
    reason: str


class NotAMailbox(Exception):
    """The path is not something we can import; str() is one line for the administrator."""


# --- detection ---------------------------------------------------------------------------------

_BLANK = (b"\n", b"\r\n")
_MAILDIR_PARTS = ("cur", "new", "tmp")
# RFC 5322 §3.6.8: a field name is printable ASCII except ":", then ":".
_HEADER_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")


def detect(path: Path) -> Literal["mbox", "maildir"]:
    """Say which reader applies, or raise NotAMailbox with a line the admin can act on."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise NotAMailbox(f"{path} does not exist") from None
    except OSError as e:
        raise NotAMailbox(f"{path} cannot be read: {e.strerror}") from None
    if stat.S_ISDIR(mode):
        if _is_maildir(path) or next(_maildir_folders(path, "INBOX"), None) is not None:
            return "maildir"
        if path.name in _MAILDIR_PARTS and _is_maildir(path.parent):
            raise NotAMailbox(
                f"{path} is the {path.name}/ folder inside a Maildir; import {path.parent} instead"
            )
        raise NotAMailbox(
            f"{path} is a folder but not a Maildir (no cur/ and new/ inside it or in a subfolder)"
        )
    try:
        with path.open("rb") as f:
            first = _first_nonblank_line(f)
    except OSError as e:
        raise NotAMailbox(f"{path} cannot be read: {e.strerror}") from None
    if first is None:
        raise NotAMailbox(f"{path} is empty, not an mbox file or a Maildir")
    if first.startswith(b"From "):
        return "mbox"
    if _HEADER_FIELD.match(first):
        raise NotAMailbox(
            f"{path} looks like a single message, not an mbox file (no 'From ' line at the start)"
        )
    raise NotAMailbox(f"{path} is not an mbox file or a Maildir (no 'From ' line at the start)")


def _first_nonblank_line(f: BinaryIO) -> bytes | None:
    # Bounded reads: a binary file without newlines must not be read whole just to reject it.
    while line := f.readline(4096):
        if line not in _BLANK:
            return line
    return None


def read_mailbox(path: Path, folder: str = "INBOX") -> Iterator[SourceMessage | Skipped]:
    """Every message of the mbox or Maildir tree at `path`; the root goes to `folder`.

    Detection happens at the call, so a wrong path fails before the first message is asked for.
    """
    path = Path(path)
    if detect(path) == "mbox":
        return _read_mbox(path, folder)
    return _read_maildir(path, folder)


def count_messages(path: Path) -> int:
    """Estimate the number of messages for a progress bar, without parsing any of them."""
    path = Path(path)
    if detect(path) == "maildir":
        return sum(_count_files(d) for _, d in _maildir_folders(path, "INBOX"))
    # Count blank-line + "From " sequences in 1 MiB chunks. The carried tail joins sequences
    # split over chunks; it starts as a blank line so the first "From " line counts too.
    count = 0
    tail = b"\n\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            buf = tail + chunk
            count += sum(1 for m in _SEPARATOR_GUESS.finditer(buf) if m.end() > len(tail))
            tail = buf[-7:]
    return count


_SEPARATOR_GUESS = re.compile(rb"\n\r?\nFrom ")


# --- mbox --------------------------------------------------------------------------------------

# Month name and hh:mm somewhere after "From ": what distinguishes an envelope line from prose.
_ENVELOPE = re.compile(
    rb"From \S*\s.*\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b.*\b\d{1,2}:\d\d"
)
_QUOTED_FROM = re.compile(rb">+From ")  # mboxrd: any number of ">" before "From " was added


def _read_mbox(path: Path, folder: str) -> Iterator[SourceMessage | Skipped]:
    number = 0
    envelope: bytes | None = None
    lines: list[bytes] = []
    held_blank: bytes | None = None  # a blank line that may be the one before a separator
    with path.open("rb") as f:
        for line in f:
            if envelope is None:
                if line not in _BLANK:  # leading blank lines are not part of any message
                    envelope = line
                continue
            if held_blank is not None and line.startswith(b"From ") and _ENVELOPE.match(line[:256]):
                number += 1
                yield _mbox_message(path, number, envelope, lines, folder)
                envelope, lines, held_blank = line, [], None
                continue
            if held_blank is not None:
                lines.append(held_blank)
                held_blank = None
            if line in _BLANK:
                held_blank = line
            elif line.startswith(b">") and _QUOTED_FROM.match(line):
                lines.append(line[1:])
            else:
                lines.append(line)
    if envelope is not None:
        # The blank line still held at the end is the writer's, like the one before a separator.
        yield _mbox_message(path, number + 1, envelope, lines, folder)


def _mbox_message(
    path: Path, number: int, envelope: bytes, lines: list[bytes], folder: str
) -> SourceMessage | Skipped:
    source = f"{path}:#{number}"
    raw = b"".join(lines)
    if not raw:
        return Skipped(source, "empty message")
    if not _has_header(raw):
        return Skipped(source, "not a message (no header)")
    headers = BytesHeaderParser(policy=compat32).parsebytes(_header_block(raw))
    if number == 1 and headers.get("X-IMAP") is not None:
        # UW-IMAP, Pine and Dovecot keep folder state in a first pseudo-message.
        return Skipped(source, "mail folder internal data (X-IMAP pseudo-message), not mail")
    status = "".join(str(v) for v in headers.get_all("Status", []))
    x_status = "".join(str(v) for v in headers.get_all("X-Status", []))
    flags = {"\\Seen"} if "R" in status else set()  # "O" (old) only means not \Recent
    flags.update(flag for letter, flag in _X_STATUS_FLAGS.items() if letter in x_status)
    keywords = {
        word
        for value in headers.get_all("X-Keywords", [])
        for word in re.split(r"[\s,]+", str(value))
        if word
    }
    return SourceMessage(
        folder=folder,
        raw=raw,
        flags=frozenset(flags),
        keywords=frozenset(keywords),
        internal_date=_envelope_date(envelope),
        source=source,
    )


_X_STATUS_FLAGS = {"A": "\\Answered", "F": "\\Flagged", "D": "\\Deleted", "T": "\\Draft"}


def _has_header(raw: bytes) -> bool:
    """True if the first line is a header field (after an envelope line some tools keep)."""
    for line in raw[:4096].splitlines()[:2]:
        if _HEADER_FIELD.match(line):
            return True
        if not line.startswith((b"From ", b">From ")):
            return False
    return False


def _header_block(raw: bytes) -> bytes:
    """The header section: parsing only it keeps a large body from being decoded for nothing."""
    end = re.search(rb"\n\r?\n", raw)
    return raw if end is None else raw[: end.start() + 1]


_ASCTIME = re.compile(
    r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(?P<day>\d{1,2})\s+"
    r"(?P<hour>\d{1,2}):(?P<min>\d\d)(?::(?P<sec>\d\d))?"
    r"(?:\s+(?P<tz1>[A-Za-z]{1,5}|[+-]\d{4}))?\s+(?P<year>\d{4})"
    r"(?:\s+(?P<tz2>[+-]\d{4}|[A-Za-z]{1,5})\b)?"
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_ZONES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip


def _envelope_date(envelope: bytes) -> datetime | None:
    """The date of a "From " line: asctime (RFC 4155), with or without a zone, or RFC 5322.

    asctime carries no zone; the delivery agent's local zone is unknown, so it is read as UTC.
    """
    text = envelope[5:].decode("latin-1").strip()
    m = _ASCTIME.search(text)
    if m is not None:
        try:
            return datetime(
                int(m["year"]),
                _MONTHS[m["mon"]],
                int(m["day"]),
                int(m["hour"]),
                int(m["min"]),
                int(m["sec"] or 0),
                tzinfo=_zone(m["tz1"] or m["tz2"]),
            )
        except ValueError:
            return None
    _sender, _, rest = text.partition(" ")
    try:
        parsed = email.utils.parsedate_to_datetime(rest.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _zone(name: str | None) -> timezone:
    if not name:
        return UTC
    if name[0] in "+-":
        hours, minutes = int(name[1:3]), int(name[3:5])
        if hours > 23 or minutes > 59:
            return UTC
        offset = timedelta(hours=hours, minutes=minutes)
        return timezone(-offset if name[0] == "-" else offset)
    return timezone(timedelta(hours=_ZONES.get(name.upper(), 0)))


# --- Maildir: reading --------------------------------------------------------------------------


def _is_maildir(d: Path) -> bool:
    return (d / "cur").is_dir() and (d / "new").is_dir()


def _maildir_folders(root: Path, folder: str) -> Iterator[tuple[str, Path]]:
    """(target folder, Maildir) for the root and every subfolder, root first, then by name."""
    seen = {os.path.realpath(root)}
    if _is_maildir(root):
        yield folder, root
    for child in _subdirs(root):
        name = child.name
        if name.startswith("."):
            parts = name[1:].split(".")
            if all(parts) and _is_maildir(child):  # Maildir++: ".Work.Projects"
                yield _folder_name(folder, [mutf7.decode(p) for p in parts]), child
        else:
            yield from _nested_folders(child, folder, [mutf7.decode(name)], seen)


def _nested_folders(
    d: Path, folder: str, parts: list[str], seen: set[str]
) -> Iterator[tuple[str, Path]]:
    real = os.path.realpath(d)
    if real in seen:  # a symlink loop must not make the walk endless
        return
    seen.add(real)
    if _is_maildir(d):
        yield _folder_name(folder, parts), d
    for child in _subdirs(d):
        if not child.name.startswith("."):
            yield from _nested_folders(child, folder, [*parts, mutf7.decode(child.name)], seen)


def _subdirs(d: Path) -> list[Path]:
    try:
        with os.scandir(d) as it:
            found = [Path(e.path) for e in it if e.name not in _MAILDIR_PARTS and _is_dir(e)]
    except OSError:
        return []
    return sorted(found)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _folder_name(root_folder: str, parts: list[str]) -> str:
    """Map on-disk name parts to a folder; a leading "INBOX" part stands for the root folder."""
    if parts[0].upper() == "INBOX":
        return "/".join([root_folder, *parts[1:]])
    if root_folder.upper() == "INBOX":  # Maildir++ subfolders are siblings of INBOX in IMAP
        return "/".join(parts)
    return "/".join([root_folder, *parts])


def _read_maildir(root: Path, folder: str) -> Iterator[SourceMessage | Skipped]:
    for name, d in _maildir_folders(root, folder):
        yield from _read_maildir_folder(d, name)


_CONTROL_FILES = frozenset({"subscriptions", "maildirfolder"})


def _is_control_file(name: str) -> bool:
    # Dotfiles, Dovecot (dovecot.index*, dovecot-uidlist, dovecot-keywords...) and Courier files.
    return name.startswith((".", "dovecot", "courier")) or name in _CONTROL_FILES


def _message_files(d: Path) -> Iterator[tuple[Path, bool] | Skipped]:
    """(file, is in new/) for every message file of one Maildir, in a stable import order."""
    found: list[tuple[int, str, Path, bool]] = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(d / sub) as it:
                for e in it:
                    if not _is_control_file(e.name) and not _is_dir(e):
                        found.append(
                            (_timestamp_prefix(e.name), e.name, Path(e.path), sub == "new")
                        )
        except OSError as e:
            yield Skipped(str(d / sub), f"unreadable: {e.strerror}")
    found.sort(key=lambda f: (f[0], f[1]))
    for _, _, path, is_new in found:
        yield path, is_new


_NO_TIMESTAMP = 1 << 62  # files without the usual "<seconds>." prefix sort after the others


def _timestamp_prefix(name: str) -> int:
    m = re.match(r"\d+", name)
    return int(m.group()) if m else _NO_TIMESTAMP


def _read_maildir_folder(d: Path, folder: str) -> Iterator[SourceMessage | Skipped]:
    keyword_letters = _dovecot_keywords(d)
    for item in _message_files(d):
        if isinstance(item, Skipped):
            yield item
            continue
        path, is_new = item
        source = str(path)
        try:
            with path.open("rb") as f:
                mtime = os.fstat(f.fileno()).st_mtime
                raw = f.read()
        except FileNotFoundError:
            yield Skipped(source, "vanished while reading (moved by another mail program?)")
            continue
        except OSError as e:
            yield Skipped(source, f"unreadable: {e.strerror}")
            continue
        if not raw:
            yield Skipped(source, "empty message")
            continue
        if not _has_header(raw):
            yield Skipped(source, "not a message (no header)")
            continue
        flags, keywords = _info_flags(path.name, keyword_letters)
        if is_new:  # Maildir spec: new/ holds mail no client has seen yet
            flags.discard("\\Seen")
        # Dovecot and Courier set the mtime to the internal date; the name's prefix is the
        # delivery time, the fallback when the mtime is unusable.
        seconds = mtime if mtime > 0 else _timestamp_prefix(path.name)
        yield SourceMessage(
            folder=folder,
            raw=raw,
            flags=frozenset(flags),
            keywords=frozenset(keywords),
            internal_date=(
                datetime.fromtimestamp(seconds, UTC) if seconds != _NO_TIMESTAMP else None
            ),
            source=source,
        )


_INFO_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
_FLAG_LETTERS = {flag.lower(): letter for letter, flag in _INFO_FLAGS.items()}


def _info_flags(name: str, keyword_letters: dict[str, str]) -> tuple[set[str], set[str]]:
    """Flags and keywords from the ":2,<letters>" info (P, passed, has no IMAP flag)."""
    # ":" is the spec's separator; "!" and ";" are what Maildirs copied via Windows carry.
    for sep in (":2,", "!2,", ";2,"):
        at = name.rfind(sep)
        if at != -1:
            letters = name[at + 3 :]
            break
    else:
        return set(), set()
    flags = {_INFO_FLAGS[c] for c in letters if c in _INFO_FLAGS}
    keywords = {keyword_letters[c] for c in letters if c in keyword_letters}
    return flags, keywords


def _dovecot_keywords(d: Path) -> dict[str, str]:
    """Dovecot's dovecot-keywords: lines "<n> <keyword>", where n 0..25 is letter a..z."""
    try:
        text = (d / "dovecot-keywords").read_text("utf-8", errors="replace")
    except OSError:
        return {}
    letters: dict[str, str] = {}
    for line in text.splitlines():
        number, _, keyword = line.partition(" ")
        if number.isdigit() and int(number) < 26 and keyword.strip():
            letters[chr(ord("a") + int(number))] = keyword.strip()
    return letters


def _count_files(d: Path) -> int:
    total = 0
    for sub in ("cur", "new"):
        try:
            with os.scandir(d / sub) as it:
                total += sum(1 for e in it if not _is_control_file(e.name))
        except OSError:
            pass
    return total


# --- Maildir: writing --------------------------------------------------------------------------

_sequence = itertools.count(1)
# Maildir spec: "/" and ":" in the host name are written as \057 and \072.
_HOST = socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"


def write_maildir(
    dest: Path,
    folder: str,
    raw: bytes,
    flags: Iterable[str],
    internal_date: datetime | None,
    uid_hint: str,
) -> Path:
    """Deliver one message into the Maildir++ tree at `dest` and return its path in cur/.

    `uid_hint` goes into the file name so that messages of one second read back in UID order.
    The file's mtime is `internal_date` (what Dovecot and Courier read as the internal date).
    """
    if internal_date is not None and internal_date.utcoffset() is None:
        raise ValueError(f"internal_date must be timezone-aware, got {internal_date!r}")
    dest = Path(dest)
    box = dest / _maildir_dirname(folder)
    _ensure_maildir(dest, subfolder=False)
    if box != dest:
        _ensure_maildir(box, subfolder=True)
    seconds = internal_date.timestamp() if internal_date is not None else time.time()
    letters = "".join(
        sorted({_FLAG_LETTERS[f.lower()] for f in flags if f.lower() in _FLAG_LETTERS})
    )
    unique = f"U{_safe_hint(uid_hint)}P{os.getpid()}Q{next(_sequence)}R{secrets.token_hex(4)}"
    base = f"{max(int(seconds), 0)}.{unique}.{_HOST}"
    tmp = box / "tmp" / base
    final = box / "cur" / f"{base}:2,{letters}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if internal_date is not None:
            os.utime(tmp, (seconds, seconds))
        os.rename(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)
    return final


def _maildir_dirname(folder: str) -> str:
    """The Maildir++ directory of a folder: "" for INBOX, ".Work.Projects" for "Work/Projects"."""
    parts = folder.split("/")
    if not all(parts):
        raise ValueError(f"folder name {folder!r} has an empty part")
    if parts[0].upper() == "INBOX":
        if len(parts) == 1:
            return ""
        parts[0] = "INBOX"
    # "." separates Maildir++ levels, so a "." inside a name is written in its UTF-7 form.
    return "." + ".".join(mutf7.encode(p, also=".") for p in parts)


def _ensure_maildir(d: Path, *, subfolder: bool) -> None:
    for part in _MAILDIR_PARTS:
        (d / part).mkdir(mode=0o700, parents=True, exist_ok=True)
    if subfolder:
        (d / "maildirfolder").touch(mode=0o600)  # Maildir++: marks a subfolder for Courier


def _safe_hint(hint: str) -> str:
    """A file-name-safe hint; numbers are zero-padded so that name order is numeric order."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", hint)[:64]
    return re.sub(r"\d+", lambda m: m.group().zfill(10), safe)


def _fsync_dir(d: Path) -> None:
    """Make the rename durable; some filesystems cannot fsync a directory, which is fine."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""Typed IMAP commands: what the parser produces and the session executes.

Values only; no I/O. Sequence sets keep ``*`` (None) and ``$`` (SEARCHRES, RFC 5182)
unresolved: only the session knows the mailbox size and the saved result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailstore import search as S


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """Ranges (low, high), inclusive; None stands for ``*``. ``saved``: the set is ``$``."""

    ranges: tuple[tuple[int | None, int | None], ...] = ()
    saved: bool = False

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Concrete ranges, low <= high, given the value ``*`` stands for (RFC 9051 §9)."""
        out = []
        for low, high in self.ranges:
            a = largest if low is None else low
            b = largest if high is None else high
            out.append((min(a, b), max(a, b)))
        return out


@dataclass(frozen=True, slots=True)
class Section:
    """BODY[...] section (RFC 9051 §6.4.5): part numbers, then a text specifier."""

    part: tuple[int, ...] = ()
    text: str = ""  # "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[str, ...] = ()

    def render(self) -> str:
        parts = [".".join(str(n) for n in self.part)] if self.part else []
        if self.text:
            parts.append(self.text)
        out = ".".join(parts)
        if self.fields:
            out += " (" + " ".join(self.fields) + ")"
        return out


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One FETCH data item; ``name`` is upper case without .PEEK (``peek`` says so)."""

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False


@dataclass(frozen=True, slots=True)
class SeqKey:
    """A sequence-number set inside SEARCH, resolved by the session to UIDs."""

    numbers: SequenceSet


@dataclass(frozen=True, slots=True)
class UidKey:
    """UID set inside SEARCH; ``*`` and ``$`` need the session to resolve them."""

    uids: SequenceSet


@dataclass(frozen=True, slots=True)
class RecentKey:
    """SEARCH RECENT (RFC 3501 §6.4.4): recent is per session, so the session resolves it."""


@dataclass(frozen=True, slots=True)
class Command:
    tag: str
    name: str  # upper case, e.g. NOOP, LOGIN; "UID FETCH" etc. carry uid=True instead


@dataclass(frozen=True, slots=True)
class Simple(Command):
    """CAPABILITY, NOOP, LOGOUT, STARTTLS, CHECK, CLOSE, UNSELECT, EXPUNGE, IDLE, NAMESPACE."""


@dataclass(frozen=True, slots=True)
class Login(Command):
    user: str
    password: str


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    mechanism: str
    initial: str | None  # SASL-IR (RFC 4959); "=" is an empty response


@dataclass(frozen=True, slots=True)
class Id(Command):
    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True, slots=True)
class Compress(Command):
    """RFC 4978 COMPRESS mechanism (upper case)."""

    mechanism: str


@dataclass(frozen=True, slots=True)
class Enable(Command):
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Select(Command):
    """SELECT or EXAMINE (name says which); ``condstore`` and ``qresync`` are RFC 7162's
    parameters; ``qresync`` is (uidvalidity, modseq, known UIDs or None)."""

    mailbox: str
    condstore: bool = False
    qresync: tuple[int, int, SequenceSet | None] | None = None


@dataclass(frozen=True, slots=True)
class MailboxCommand(Command):
    """CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE."""

    mailbox: str
    special_use: str | None = None


@dataclass(frozen=True, slots=True)
class Rename(Command):
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class List(Command):
    """LIST / LSUB, with RFC 5258 selection and return options."""

    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    status_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Status(Command):
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Quota(Command):
    """GETQUOTA (``target`` a quota root) or GETQUOTAROOT (a mailbox), RFC 9208 §4."""

    target: str


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    """RFC 9208 §4.1.3 SETQUOTA root (resource limit …)."""

    root: str
    limits: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of an APPEND: flags, internal date, bytes. ``utf8``: it came as RFC 6855
    §4 ``UTF8 (literal8)``."""

    flags: tuple[str, ...]
    date: datetime | None
    message: bytes
    utf8: bool = False


@dataclass(frozen=True, slots=True)
class Append(Command):
    """APPEND with one message, or several (RFC 3502 MULTIAPPEND), stored all or none."""

    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    uid: bool
    messages: SequenceSet
    items: tuple[FetchItem, ...]
    changed_since: int | None = None
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class Store(Command):
    uid: bool
    messages: SequenceSet
    mode: str  # add | remove | replace
    silent: bool
    flags: tuple[str, ...]
    unchanged_since: int | None = None


@dataclass(frozen=True, slots=True)
class Search(Command):
    uid: bool
    criteria: object  # a mailstore.search criterion tree with SeqKey/UidKey leaves
    returns: tuple[str, ...] | None = None  # ESEARCH RETURN options; None: plain SEARCH
    charset: str | None = None


@dataclass(frozen=True, slots=True)
class Sort(Command):
    """RFC 5256 SORT: ``keys`` are (key name, reverse) in order of precedence."""

    uid: bool
    keys: tuple[tuple[str, bool], ...]
    charset: str
    criteria: object  # as in Search
    returns: tuple[str, ...] | None = None  # RFC 5267 ESORT RETURN options; None: plain SORT


@dataclass(frozen=True, slots=True)
class Thread(Command):
    """RFC 5256 THREAD: ``algorithm`` is ORDEREDSUBJECT or REFERENCES."""

    uid: bool
    algorithm: str
    charset: str
    criteria: object  # as in Search


@dataclass(frozen=True, slots=True)
class CopyMove(Command):
    """COPY or MOVE (name says which)."""

    uid: bool
    messages: SequenceSet
    mailbox: str


@dataclass(frozen=True, slots=True)
class UidExpunge(Command):
    messages: SequenceSet


# SEARCH ALL: an empty conjunction matches every message.
ALL = S.And(())

__all__ = [
    "ALL", "Append", "AppendMessage", "Authenticate", "Command", "Compress", "CopyMove",
    "Enable", "Fetch", "FetchItem", "Id", "List", "Login", "MailboxCommand", "Quota",
    "RecentKey", "Rename", "Search", "SeqKey", "Section", "Select", "SequenceSet", "SetQuota",
    "Simple", "Sort", "Status", "Store", "Thread", "UidExpunge", "UidKey",
]

"""Plain values the store hands to the front doors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DomainInfo:
    id: int
    name: str
    accounts: int = 0


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    address: str
    is_admin: bool
    disabled: bool
    quota_bytes: int | None
    used_bytes: int


@dataclass(frozen=True, slots=True)
class FolderInfo:
    id: int
    account_id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None
    subscribed: bool
    messages: int
    unseen: int
    size: int


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """One row of a message list: everything from the parsed cache, no blob read."""

    uid: int
    modseq: int
    flags: int
    keywords: str
    internal_date: int
    size: int
    sent_date: int | None
    from_display: str
    from_addr: str
    subject: str
    preview: str
    has_attachments: bool

    @property
    def seen(self) -> bool:
        return bool(self.flags & 1)

    @property
    def flagged(self) -> bool:
        return bool(self.flags & 4)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message with its parsed cache, as FETCH and the message view need it."""

    folder_id: int
    uid: int
    modseq: int
    flags: int
    keywords: str
    internal_date: int
    size: int
    sha256: str
    envelope: str
    bodystructure: str
    body: str
    sections: str
    sent_date: int | None
    subject: str
    from_display: str
    from_addr: str
    search_to: str
    search_cc: str
    attachments: str
    parse_error: str | None


@dataclass(frozen=True, slots=True)
class FetchRow:
    """What IMAP FETCH needs of one message; the content fields are "" unless asked for."""

    uid: int
    modseq: int
    flags: int
    keywords: str
    internal_date: int
    size: int
    sha256: str
    envelope: str
    bodystructure: str
    body: str
    sections: str


@dataclass(frozen=True, slots=True)
class SortFields:
    """What IMAP SORT and THREAD (RFC 5256) need of one message, all parsed at delivery.

    ``sent_date`` is None when the Date header was missing or unparsable; ``references``
    holds the References msg-ids in header order.
    """

    uid: int
    internal_date: int
    size: int
    sent_date: int | None
    subject: str
    subject_base: str
    sort_from: str
    sort_to: str
    sort_cc: str
    from_display: str
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message about to be stored: its bytes and the IMAP state it starts with."""

    raw: bytes
    flags: frozenset[str] = frozenset()
    internal_date: int | None = None


@dataclass(frozen=True, slots=True)
class Appended:
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class FlagChange:
    uid: int
    flags: int
    keywords: str
    modseq: int


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed in a folder since a MODSEQ: changed/new messages and expunged UIDs."""

    highestmodseq: int
    changed: list[FlagChange]
    expunged: list[int]

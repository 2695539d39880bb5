"""The maildrop of one POP3 session: a numbered snapshot of INBOX taken at login.

Implementation notes:
- RFC 1939 §4: message numbers are fixed for the session and messages that arrive later are
  not shown; the snapshot is one query at login (``Messages.sizes_and_blobs``).
- UIDLs are "<UIDVALIDITY>.<UID>" of INBOX: both are stored, UIDs are never reused and INBOX
  cannot be renamed, so a UIDL names one message forever, across restarts and whatever else
  is deleted (RFC 1939 §7 UIDL: "the server should never reuse a unique-id").
- DELE only marks; RSET unmarks; the store sees nothing until QUIT (UPDATE state).
- Sizes are the stored octets. Mail that came by SMTP is stored with CRLF and is sent as
  stored (plus stuffing), so LIST, STAT and RETR agree (RFC 1939 §10 counts CRLF). Only a
  message imported with bare LF line ends is sent a little longer than LIST says (each LF
  becomes CRLF on the wire); computing that would mean reading every blob at each login.
- Messages flagged \\Deleted over IMAP are still shown: POP3 knows no flags, and an IMAP
  client's pending delete is not ours to carry out.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Entry:
    uid: int
    size: int
    sha256: str


class NoSuchMessage(Exception):
    """A message number outside the maildrop, or one marked deleted; the text says which."""


@dataclass
class Maildrop:
    folder_id: int
    uidvalidity: int
    entries: list[Entry]
    deleted: set[int] = field(default_factory=set)  # message numbers marked by DELE
    retrieved: set[int] = field(default_factory=set)  # message numbers sent by RETR

    def entry(self, number: int) -> Entry:
        """The message with this number, unless it does not exist or is marked deleted."""
        if not 1 <= number <= len(self.entries):
            raise NoSuchMessage(f"no such message: {number} (the maildrop has "
                                f"{len(self.entries)})")
        if number in self.deleted:
            raise NoSuchMessage(f"message {number} is already deleted")
        return self.entries[number - 1]

    def live(self) -> list[tuple[int, Entry]]:
        """(number, entry) of every message not marked deleted."""
        return [(n, e) for n, e in enumerate(self.entries, 1) if n not in self.deleted]

    def stat(self) -> tuple[int, int]:
        """(messages, octets) not marked deleted (RFC 1939 §5 STAT)."""
        live = self.live()
        return len(live), sum(e.size for _, e in live)

    def uidl(self, number: int) -> str:
        return f"{self.uidvalidity}.{self.entry(number).uid}"

    def delete(self, number: int) -> None:
        self.entry(number)
        self.deleted.add(number)

    def reset(self) -> None:
        self.deleted.clear()

    def deleted_uids(self) -> list[int]:
        return sorted(self.entries[n - 1].uid for n in self.deleted)

    def seen_uids(self) -> list[int]:
        """Retrieved and kept: they get \\Seen at QUIT, as Dovecot does."""
        return sorted(self.entries[n - 1].uid for n in self.retrieved - self.deleted)

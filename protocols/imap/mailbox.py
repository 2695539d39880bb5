r"""The selected mailbox of one session: its sequence-number map and what it has reported.

Implementation notes (invariants):
- ``uids`` is this session's view: message sequence number n is ``uids[n - 1]``. It changes
  only when the session tells the client (EXISTS adds at the end, EXPUNGE removes), so
  sequence numbers stay consistent per session whatever other sessions do (RFC 9051 §2.3.1.2).
- ``modseq`` is the folder's HIGHESTMODSEQ up to which changes were taken from the change log.
  Expunges by others that may not be announced yet (during FETCH, STORE, SEARCH: RFC 9051
  §7.5.1) wait in ``pending_expunge`` and stay in ``uids`` until announced.
- ``recent`` holds the UIDs that are \Recent to this session: claimed in the store
  (``folders.claim_recent``) at SELECT and when new mail is announced, so no other session
  sees them as recent. EXAMINE shows the unclaimed ones and leaves them unclaimed.
- ``own`` remembers (uid, modseq) of flag changes this session already reported in its own
  STORE responses, so that the change log does not echo them back.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from protocols.imap.commands import SequenceSet


class BadSequence(Exception):
    """A message sequence number beyond the mailbox size (the client is out of sync)."""


@dataclass
class Selected:
    folder_id: int
    name: str
    readonly: bool
    uidvalidity: int
    uids: list[int]
    modseq: int
    pending_expunge: set[int] = field(default_factory=set)
    own: set[tuple[int, int]] = field(default_factory=set)
    saved: list[int] = field(default_factory=list)  # RFC 5182 SEARCHRES "$", as UIDs
    recent: set[int] = field(default_factory=set)  # \Recent to this session (RFC 3501)

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        if i < len(self.uids) and self.uids[i] == uid:
            return i + 1
        return None

    def resolve(self, messages: SequenceSet, by_uid: bool) -> list[int]:
        """The UIDs a sequence set names, ascending and distinct.

        RFC 9051 §6.4.8: in a UID set, ``*`` is the highest UID in use and UIDs that do not
        exist are ignored; in a sequence-number set, a number beyond the mailbox is an error.
        """
        if messages.saved:
            present = set(self.uids)
            return [u for u in self.saved if u in present]
        uids = self.uids
        if not uids:
            if by_uid:
                return []
            if messages.ranges:
                raise BadSequence("the mailbox is empty: no message sequence numbers exist")
        picked: set[int] = set()
        if by_uid:
            for low, high in messages.resolve(uids[-1]):
                start = bisect.bisect_left(uids, low)
                end = bisect.bisect_right(uids, high)
                if end - start == len(uids):
                    return list(uids)
                picked.update(uids[start:end])
        else:
            count = len(uids)
            for low, high in messages.resolve(count):
                if high > count:
                    raise BadSequence(
                        f"message {high} does not exist (the mailbox has {count})")
                if low == 1 and high == count:
                    return list(uids)
                picked.update(uids[low - 1:high])
        return sorted(picked)

    def expunge(self, uid: int) -> int | None:
        """Remove a UID from the map; returns the sequence number it had."""
        seq = self.seq_of(uid)
        if seq is not None:
            del self.uids[seq - 1]
        self.pending_expunge.discard(uid)
        self.recent.discard(uid)
        return seq

    def add(self, new_uids: list[int]) -> None:
        if not new_uids:
            return
        if self.uids and new_uids[0] <= self.uids[-1]:
            self.uids = sorted(set(self.uids).union(new_uids))
        else:
            self.uids.extend(new_uids)

"""IMAP SORT (RFC 5256 §3) over the stored sort fields: a pure function, no I/O.

Implementation notes:
- Strings compare with a case fold standing in for the i;unicode-casemap collation
  (RFC 5256 §2.1 and RFC 5051); a missing field sorts as the empty string.
- ``REVERSE`` turns one key round; messages equal under every key keep mailbox order, also
  under REVERSE (RFC 5256 §3: "sorted according to the order in which they appear in the
  mailbox"). UIDs ascend with sequence numbers, so mailbox order is UID order. The sort is
  a chain of stable sorts, from the last key to the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailstore.values import SortFields


def sent_date(row: SortFields) -> int:
    """RFC 5256 §3 DATE: the Date header, or INTERNALDATE when it is missing or unparsable."""
    return row.internal_date if row.sent_date is None else row.sent_date


KEYS: dict[str, Callable[[SortFields], object]] = {
    "ARRIVAL": lambda r: r.internal_date,  # RFC 5256 §3: INTERNALDATE
    "CC": lambda r: r.sort_cc.casefold(),  # addr-mailbox of the first Cc address
    "DATE": sent_date,
    "FROM": lambda r: r.sort_from.casefold(),
    "SIZE": lambda r: r.size,  # RFC822.SIZE
    "SUBJECT": lambda r: r.subject_base.casefold(),  # base subject, RFC 5256 §2.1
    "TO": lambda r: r.sort_to.casefold(),
    # RFC 5957 §3: the display name of the first From address, else its address.
    "DISPLAYFROM": lambda r: r.from_display.casefold(),
}


@dataclass(frozen=True, slots=True)
class SortKey:
    """One RFC 5256 sort-criterion: a key of ``KEYS``, maybe REVERSE'd."""

    name: str
    reverse: bool = False


def sort_uids(rows: Sequence[SortFields], keys: Sequence[SortKey]) -> list[int]:
    """The rows' UIDs in SORT order (ties in mailbox order)."""
    ordered = sorted(rows, key=lambda r: r.uid)
    for key in reversed(keys):
        # Python's sort is stable also with reverse=True: equal rows keep their order.
        ordered.sort(key=KEYS[key.name], reverse=key.reverse)
    return [r.uid for r in ordered]

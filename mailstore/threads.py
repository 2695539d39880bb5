"""IMAP THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES, as pure functions, no I/O.

Implementation notes:
- Input: the stored sort fields of the messages to thread (``SortFields``), in any order.
  Output: a list of top-level ``Node``s; a node's ``uid`` is None for a dummy (a message
  that is referenced but not among the input). Mailbox order is UID order, so "sequence
  number" ties are broken by UID.
- "Sent date" is the Date header, or INTERNALDATE when it is missing (as for SORT DATE).
- Message-IDs compare as octets; base subjects with a case fold (i;unicode-casemap).
- Loops: a parent/child link is never made when the child is the parent or one of its
  ancestors (RFC 5256 §3 REFERENCES step 1), so the result is always a forest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mailstore.sorting import sent_date
from mailstore.values import SortFields


@dataclass(eq=False)
class Node:
    """One message (``uid``) or a dummy (``uid`` None) and its children, in thread order."""

    uid: int | None = None
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    row: SortFields | None = None

    def __repr__(self) -> str:  # the default would walk the whole tree and its parents
        return f"Node(uid={self.uid}, children={len(self.children)})"

    def shape(self) -> tuple:
        """(uid, (children's shapes…)): a plain value for comparisons in tests."""
        return (self.uid, tuple(c.shape() for c in self.children))


def ordered_subject(rows: Iterable[SortFields]) -> list[Node]:
    """RFC 5256 §3 ORDEREDSUBJECT: group by base subject; the first by sent date is the
    parent and every later message its child; threads ordered by their first message."""
    ordered = sorted(rows, key=lambda r: (r.subject_base.casefold(), sent_date(r), r.uid))
    threads: list[Node] = []
    current: Node | None = None
    subject: str | None = None
    for row in ordered:
        base = row.subject_base.casefold()
        if current is not None and base == subject:
            current.children.append(Node(row.uid, parent=current, row=row))
            continue
        current, subject = Node(row.uid, row=row), base
        threads.append(current)
    threads.sort(key=lambda n: _date_key(n.row))
    return threads


def _date_key(row: SortFields | None) -> tuple[int, int]:
    assert row is not None
    return (sent_date(row), row.uid)


# RFC 5256 §2.1 / §5 subj-refwd, subj-fwd-hdr, subj-fwd-trl: what marks a reply or forward.
_BLOB = r"(?:\[[^\[\]]*\]\s*)"
_REFWD = re.compile(rf"^\s*{_BLOB}*(?:re|fwd?)\s*{_BLOB}?:", re.I)
_FWD_TRAILER = re.compile(r"\(fwd\)\s*$", re.I)


def is_reply_or_forward(subject: str) -> bool:
    """Whether base-subject extraction would remove a reply/forward marker (RFC 5256 §2.1)."""
    return bool(_REFWD.match(subject) or _FWD_TRAILER.search(subject)
                or subject.lstrip().lower().startswith("[fwd:"))


def references(rows: Iterable[SortFields]) -> list[Node]:
    """RFC 5256 §3 REFERENCES (the algorithm of Jamie Zawinski's threader)."""
    rows = sorted(rows, key=lambda r: r.uid)
    table: dict[str, Node] = {}

    def container(msgid: str) -> Node:
        node = table.get(msgid)
        if node is None:
            node = table[msgid] = Node()
        return node

    for row in rows:
        # Step 1: a message without a Message-ID, or with one an earlier message already
        # has, gets a unique ID of its own (the "\0" keeps it apart from real msg-ids).
        msgid = row.message_id
        if not msgid or (msgid in table and table[msgid].row is not None):
            msgid = f"\0{row.uid}"
        node = container(msgid)
        node.uid, node.row = row.uid, row
        # Step 1A: References, else the first msg-id of In-Reply-To.
        refs: Sequence[str] = row.references or ((row.in_reply_to,) if row.in_reply_to else ())
        for parent_id, child_id in zip(refs, refs[1:], strict=False):
            parent, child = container(parent_id), container(child_id)
            # "If they are already linked, don't change the existing links."
            if child.parent is None and not _would_loop(parent, child):
                _link(parent, child)
        # Step 1B: the last reference is the parent; a parent guessed from another message's
        # References (probably truncated) gives way; with no references, no parent.
        parent = container(refs[-1]) if refs else None
        if node.parent is not None:
            _unlink(node)
        if parent is not None and not _would_loop(parent, node):
            _link(parent, node)

    # Step 2: the root set. Dicts keep insertion order; step 4 sorts anyway.
    root = Node()
    for node in table.values():
        if node.parent is None:
            root.children.append(node)
    # Step 3: prune dummies.
    root.children = _prune(root.children)
    for child in root.children:
        child.parent = None
    # Step 4: sort the top level by sent date (a dummy by its first child's).
    for child in root.children:
        child.children.sort(key=_node_key)
    root.children.sort(key=_node_key)
    # Step 5: gather top-level threads with the same base subject.
    root.children = _merge_subjects(root.children)
    # Step 6: sort every set of siblings by sent date, depth first.
    _sort_tree(root)
    for child in root.children:
        child.parent = None
    return root.children


def _would_loop(parent: Node, child: Node) -> bool:
    """Linking ``child`` under ``parent`` loops when ``child`` is ``parent`` or above it."""
    node: Node | None = parent
    while node is not None:
        if node is child:
            return True
        node = node.parent
    return False


def _link(parent: Node, child: Node) -> None:
    child.parent = parent
    parent.children.append(child)


def _unlink(child: Node) -> None:
    assert child.parent is not None
    child.parent.children.remove(child)
    child.parent = None


def _prune(top: list[Node]) -> list[Node]:
    """RFC 5256 §3 step 3: dummies without children go; dummies with children give way to
    them, except at the top level, where only a dummy with a single child does. Iterative
    (children before parents), so a reply chain thousands deep needs no recursion."""
    for node in reversed(_preorder(top)):
        node.children = _pruned(node.children, top=False)
        for child in node.children:
            child.parent = node
    return _pruned(top, top=True)


def _pruned(nodes: list[Node], top: bool) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        if node.uid is None:
            if not node.children:
                continue
            if not top or len(node.children) == 1:
                out.extend(node.children)
                continue
        out.append(node)
    return out


def _preorder(top: list[Node]) -> list[Node]:
    """Every node below ``top``, each before its descendants."""
    order: list[Node] = []
    stack = list(top)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    return order


def _node_key(node: Node) -> tuple[int, int]:
    """Sent date and mailbox order of a message, or of a dummy's first child."""
    while node.row is None:
        node = node.children[0]  # pruning left no childless dummy
    return _date_key(node.row)


def _subject_row(node: Node) -> SortFields:
    while node.row is None:
        node = node.children[0]
    return node.row


def _merge_subjects(top: list[Node]) -> list[Node]:
    """RFC 5256 §3 step 5: one thread per base subject among the top-level messages."""
    subjects: dict[str, Node] = {}
    for node in top:  # 5B: choose the thread each base subject gathers under
        row = _subject_row(node)
        base = row.subject_base.casefold()
        if not base:
            continue
        held = subjects.get(base)
        if (held is None
                or (node.uid is None and held.uid is not None)
                or (is_reply_or_forward(_subject_row(held).subject)
                    and not is_reply_or_forward(row.subject))):
            subjects[base] = node
    out: list[Node] = []
    for node in top:  # 5C: merge the others into it
        if node.parent is not None:
            continue  # already gathered under a new dummy
        row = _subject_row(node)
        base = row.subject_base.casefold()
        held = subjects.get(base) if base else None
        if held is None or held is node:
            out.append(node)
        elif held.uid is None and node.uid is None:
            for child in node.children:  # both dummies: one takes the other's children
                _link(held, child)
            node.children = []
        elif held.uid is None:
            _link(held, node)
        elif (is_reply_or_forward(row.subject)
                and not is_reply_or_forward(_subject_row(held).subject)):
            _link(held, node)
        else:
            dummy = Node()
            if held in out:
                out.remove(held)
            _link(dummy, held)
            _link(dummy, node)
            out.append(dummy)
            subjects[base] = dummy
    return out


def _sort_tree(node: Node) -> None:
    """Sort every set of siblings, children before parents (a dummy's key is its first
    child's, so that child must already be in place)."""
    for each in reversed(_preorder([node])):
        each.children.sort(key=_node_key)


def render(threads: Sequence[Node], number: dict[int, int] | None = None) -> str:
    """RFC 5256 §4 thread-list: ``(1 2 (3)(4 5))``; a dummy shows as its children's
    list. ``number`` maps UIDs to the numbers to show (sequence numbers); default UIDs.
    Iterative: a deeply nested thread needs no recursion."""
    out: list[str] = []
    stack: list[str | Node] = []
    for thread in reversed(threads):
        stack += [")", thread, "("]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, numbers = item, []
        while True:  # a chain of only children is one run of numbers
            if node.uid is not None:
                numbers.append(str(number[node.uid] if number is not None else node.uid))
            if len(node.children) != 1:
                break
            node = node.children[0]
        out.append(" ".join(numbers) + (" " if numbers and node.children else ""))
        for child in reversed(node.children):
            stack += [")", child, "("]
    return "".join(out)

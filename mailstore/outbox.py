"""Drafts and the "undo send" window: webmail messages on their way out.

Implementation notes (invariants a maintainer must keep):
- A draft lives in the account's \\Drafts folder (RFC 6154), flagged \\Draft, so IMAP
  clients see it. Saving appends the new version and then deletes the old one: a crash
  between the two leaves two versions, never none.
- Send does not send at once. The finished message is appended to Drafts with the keyword
  ``$Sending`` (its internal date is the moment Send was clicked) and the old draft version
  goes. From then on the message is durable: a timer dispatches it ``delay`` seconds later,
  and after a restart ``recover`` finds every held message and dispatches it when due.
  No table is needed, and an IMAP client sees the message as a draft meanwhile.
- Undo and dispatch race for the same thing, the ``$Sending`` keyword, and removing it is
  one transaction (``store_flags`` returns only rows it changed): whoever removes it wins.
  Undo leaves an ordinary draft behind, to edit again.
- Dispatch: claim (remove ``$Sending``), give the message a fresh Message-ID, deliver it
  (local mailboxes at once, other domains into the outbound queue, origin ``webmail``,
  Bcc removed), append the copy with Bcc to Sent (\\Seen), then delete the draft. A crash
  after the claim leaves the message in Drafts as a draft: not sent, but not lost.
- The held draft has no Message-ID on purpose: the delivery's duplicate guard would
  otherwise take a message sent to oneself for one already stored (it is, in Drafts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, make_msgid

from sqlalchemy import select

from mailstore.contacts import Contacts
from mailstore.database import Database
from mailstore.delivery import Delivery, LocalDelivery
from mailstore.errors import NotFound, StoreError
from mailstore.folders import Folders
from mailstore.identities import Identities
from mailstore.messages import Messages
from mailstore.models import Folder, Message
from mailstore.routing import Mailbox, NotLocal, Router
from mailstore.trace import RecipientVerdict, TraceRecord
from mailstore.values import FolderInfo

log = logging.getLogger("tidings.outbox")

F = Folder.__table__
M = Message.__table__

SENDING = "$Sending"
# On a reply held in Drafts: "<folder id> <uid>" of the message it answers, which gets
# \Answered once the reply has left (RFC 9051 §2.3.2). Removed before sending.
ANSWERS = "X-Tidings-Answers"
DRAFT_FLAGS = ("\\Draft", "\\Seen")
DRAFTS, SENT = "\\Drafts", "\\Sent"
ORIGIN = "webmail"


class SendRefused(StoreError):
    """The message cannot be sent as it is (a From the user may not use, no recipient)."""


@dataclass(frozen=True, slots=True)
class Held:
    """A message waiting out its undo window."""

    account_id: int
    folder_id: int
    uid: int
    due: int


@dataclass(frozen=True, slots=True)
class Dispatched:
    local: tuple[str, ...]
    queued: tuple[int, ...]
    sent_uid: int | None


def envelope_recipients(message: EmailMessage) -> list[tuple[str, str]]:
    """(name, address) of every To, Cc and Bcc recipient, each address once."""
    found: dict[str, str] = {}
    for name, addr in getaddresses([str(v) for h in ("To", "Cc", "Bcc")
                                    for v in message.get_all(h, [])]):
        if "@" in addr:
            found.setdefault(addr.lower(), name)
    return [(name, addr) for addr, name in found.items()]


def sender_address(message: EmailMessage) -> str:
    found = getaddresses([str(v) for v in message.get_all("From", [])])
    return found[0][1].lower() if found else ""


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


class Outbox:
    def __init__(self, db: Database, folders: Folders, messages: Messages, router: Router,
                 delivery: LocalDelivery, identities: Identities, contacts: Contacts,
                 hostname: str = "localhost", undo_seconds: int = 10) -> None:
        self.db = db
        self.folders = folders
        self.messages = messages
        self.router = router
        self.delivery = delivery
        self.identities = identities
        self.contacts = contacts
        self.hostname = hostname  # for Message-IDs; tidings serve sets the configured one
        self.undo_seconds = undo_seconds  # how long recover() assumes a held message waits
        self._timers: dict[tuple[int, int], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[object]] = set()

    # Folders ------------------------------------------------------------------------------
    async def special_folder(self, account_id: int, use: str) -> FolderInfo:
        """The account's Drafts or Sent folder (by special use), created if it has none."""
        name = "Drafts" if use == DRAFTS else "Sent"
        folders = await self.folders.list(account_id)
        found = next((f for f in folders if f.special_use == use), None) or \
            next((f for f in folders if f.name == name), None)
        if found is not None:
            return found
        return await self.folders.create(account_id, name, use)

    # Drafts -------------------------------------------------------------------------------
    async def save_draft(self, account_id: int, raw: bytes,
                         replaces: int | None = None) -> int:
        """Store a new version of a draft; returns its UID in Drafts."""
        drafts = await self.special_folder(account_id, DRAFTS)
        appended = await self.messages.append(drafts.id, raw, DRAFT_FLAGS)
        if replaces is not None:
            await self.messages.delete(drafts.id, [replaces])
        return appended.uid

    async def read_draft(self, account_id: int, uid: int) -> bytes:
        drafts = await self.special_folder(account_id, DRAFTS)
        message = await self.messages.get(drafts.id, uid)
        return await asyncio.to_thread(self.messages.read_raw, message.sha256)

    async def delete_draft(self, account_id: int, uid: int) -> None:
        drafts = await self.special_folder(account_id, DRAFTS)
        await self.messages.delete(drafts.id, [uid])

    # Sending ------------------------------------------------------------------------------
    async def check(self, account_id: int, message: EmailMessage) -> dict[str, str]:
        """What stops this message from being sent, by header ("from", "to"): empty if
        nothing does. Local recipients must exist; others go to the queue."""
        problems: dict[str, str] = {}
        sender = sender_address(message)
        if not sender or not await self.identities.may_send_as(account_id, sender):
            problems["from"] = f"You may not send as {sender or 'an empty address'}"
        recipients = envelope_recipients(message)
        if not recipients:
            problems["to"] = "Add at least one recipient"
        for _name, addr in recipients:
            try:
                await self.router.resolve(addr, sender)
            except NotLocal:
                continue
            except StoreError as exc:
                field = _field_of(message, addr)
                problems.setdefault(field, f"Cannot send to {addr}: {_reason(exc)}")
        return problems

    async def hold(self, account_id: int, raw: bytes, delay: float,
                   replaces: int | None = None) -> Held:
        """Keep the finished message in Drafts for ``delay`` seconds, then send it.

        Returns once the message is durable. With ``delay`` 0 it is sent before this
        returns."""
        message = parse(raw)
        problems = await self.check(account_id, message)
        if problems:
            raise SendRefused("; ".join(problems.values()))
        del message["Message-ID"]
        drafts = await self.special_folder(account_id, DRAFTS)
        now = int(time.time())
        appended = await self.messages.append(
            drafts.id, message.as_bytes(policy=policy.SMTP), (*DRAFT_FLAGS, SENDING), now)
        if replaces is not None:
            await self.messages.delete(drafts.id, [replaces])
        held = Held(account_id, drafts.id, appended.uid, now + int(delay))
        if delay <= 0:
            await self.dispatch(held)
        else:
            self._schedule(held, delay)
        return held

    async def undo(self, account_id: int, uid: int) -> bool:
        """Stop a held message (it becomes a draft again); False when it already left."""
        drafts = await self.special_folder(account_id, DRAFTS)
        changed = await self.messages.store_flags(drafts.id, [uid], [SENDING], "remove")
        timer = self._timers.pop((drafts.id, uid), None)
        if timer is not None:
            timer.cancel()
        return bool(changed)

    async def is_held(self, account_id: int, uid: int) -> bool:
        drafts = await self.special_folder(account_id, DRAFTS)
        try:
            message = await self.messages.get(drafts.id, uid)
        except NotFound:
            return False
        return SENDING in message.keywords.split()

    def _schedule(self, held: Held, delay: float) -> None:
        loop = asyncio.get_running_loop()
        key = (held.folder_id, held.uid)

        def fire() -> None:
            self._timers.pop(key, None)
            task = loop.create_task(self._dispatch_logged(held))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._timers[key] = loop.call_later(max(0.0, delay), fire)

    async def _dispatch_logged(self, held: Held) -> None:
        try:
            await self.dispatch(held)
        except Exception:
            log.exception("sending held message %s/%s failed; it stays in Drafts",
                          held.folder_id, held.uid)

    async def dispatch(self, held: Held) -> Dispatched | None:
        """Send a held message now, unless undo was quicker (then None)."""
        claimed = await self.messages.store_flags(held.folder_id, [held.uid], [SENDING],
                                                  "remove")
        if not claimed:
            return None
        stored = await self.messages.get(held.folder_id, held.uid)
        raw = await asyncio.to_thread(self.messages.read_raw, stored.sha256)
        message = parse(raw)
        sender = sender_address(message)
        if not await self.identities.may_send_as(held.account_id, sender):
            log.warning("held message %s not sent: %s may no longer send as %s",
                        held.uid, held.account_id, sender)
            return None
        answers = str(message.get(ANSWERS, ""))
        del message[ANSWERS]
        del message["Message-ID"]
        message["Message-ID"] = make_msgid(domain=self.hostname)
        recipients = envelope_recipients(message)
        mailboxes: dict[tuple[int, str], Mailbox] = {}
        external: dict[str, None] = {}
        verdicts: list[RecipientVerdict] = []
        for _name, addr in recipients:
            try:
                route = await self.router.resolve(addr, sender)
            except NotLocal:
                external[addr] = None
                verdicts.append(RecipientVerdict(addr, "accepted", "",
                                                 f"outbound queue for {addr}"))
                continue
            except StoreError as exc:
                log.warning("held message %s: recipient %s skipped: %s", held.uid, addr, exc)
                verdicts.append(RecipientVerdict(addr, "rejected", str(exc)))
                continue
            for mailbox in route.local:
                mailboxes.setdefault((mailbox.account_id, mailbox.folder), mailbox)
            external.update(dict.fromkeys(route.external))
            verdicts.append(RecipientVerdict(addr, "accepted", "", ", ".join(
                [f"{m.address}/{m.folder}" for m in route.local]
                + [f"outbound queue for {a}" for a in route.external])))
        sent_copy = message.as_bytes(policy=policy.SMTP)
        del message["Bcc"]  # RFC 5322 §3.6.3: Bcc recipients are not shown to the others
        outgoing = message.as_bytes(policy=policy.SMTP)
        trace = TraceRecord(at=int(time.time()), listener=ORIGIN, client_ip="",
                            verdict="accepted", auth_user=sender, mail_from=sender,
                            size=len(outgoing), message_id=str(message["Message-ID"]),
                            recipients=verdicts)
        result = await self.delivery.deliver(Delivery(
            outgoing, sender, tuple(mailboxes.values()), tuple(external), origin=ORIGIN,
            trace=trace))
        sent = await self.special_folder(held.account_id, SENT)
        appended = await self.messages.append(sent.id, sent_copy, ["\\Seen"])
        await self.messages.delete(held.folder_id, [held.uid])
        await self._mark_answered(held.account_id, answers)
        try:
            await self.contacts.record_sent(held.account_id, recipients)
        except Exception:  # autocomplete is a nicety; the message has left
            log.exception("could not record the recipients of a sent message")
        return Dispatched(tuple(m.address for m in mailboxes.values()), result.queued,
                          appended.uid)

    async def _mark_answered(self, account_id: int, answers: str) -> None:
        parts = answers.split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            return
        try:
            folder = await self.folders.get_by_id(int(parts[0]))
        except NotFound:
            return
        if folder.account_id == account_id:  # only the sender's own mail
            await self.messages.store_flags(folder.id, [int(parts[1])], ["\\Answered"], "add")

    async def recover(self, now: int | None = None) -> list[Held]:
        """After a restart: schedule every held message of every account (due ones now)."""
        now = int(time.time()) if now is None else now
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(F.c.account_id, M.c.folder_id, M.c.uid, M.c.internal_date)
                .select_from(M.join(F, F.c.id == M.c.folder_id))
                .where(F.c.special_use == DRAFTS, M.c.keywords.contains(SENDING)))).all()
        found = []
        for r in rows:
            held = Held(r.account_id, r.folder_id, r.uid, r.internal_date + self.undo_seconds)
            self._schedule(held, held.due - now)
            found.append(held)
        return found

    def close(self) -> None:
        """Stop the timers (the process is stopping; ``recover`` picks the messages up)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def idle(self) -> None:
        """Wait for dispatches already started (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _field_of(message: EmailMessage, addr: str) -> str:
    for header in ("To", "Cc", "Bcc"):
        values = [str(v) for v in message.get_all(header, [])]
        if any(a.lower() == addr for _n, a in getaddresses(values)):
            return header.lower()
    return "to"


def _reason(exc: StoreError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text

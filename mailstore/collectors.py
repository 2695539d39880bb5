"""Collector accounts: the ISP mailboxes Tidings downloads from, and what it took from them.

Used by the CLI (``tidings collector …``), the scheduler in ``tidings serve`` and, later, the
web admin. The network side lives in ``protocols.collector``.

Implementation notes:
- The ISP password is stored encrypted with Fernet (AES-128-CBC + HMAC). The key is the file
  ``collector.key`` in the data folder (beside ``blobs/``), created with mode 0600 on first
  use. It is not in the database, so a database dump alone does not reveal ISP passwords;
  several nodes on one PostgreSQL need the same key file (copy it with the TLS certificate).
- "What was fetched" (``collector_seen``) is written in the SAME transaction as the delivery
  of the message (``Delivery.collected``, inserted by ``LocalDelivery``): a crash leaves either
  both (the message is here and will never be fetched again) or neither (it is fetched again).
  A message is deleted at the ISP only after that transaction committed.
- One run per account at a time, across processes and nodes: ``claim`` is one conditional
  UPDATE (``lease_until`` NULL or past); the winner renews the lease while it runs.
- The admin is told once after ``alert_after`` consecutive failures; a success clears both
  the counter and the "told" flag, so the next series of failures is reported again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.audit import Actor, AuditLog
from mailstore.database import Database
from mailstore.errors import AlreadyExists, NotFound, StoreError
from mailstore.models import Collector, CollectorRun, CollectorSeen
from mailstore.names import normalise_address
from mailstore.routing import Router

CO = Collector.__table__
CS = CollectorSeen.__table__
CR = CollectorRun.__table__
RUNS_KEPT = 50  # per collector, newest first: the admin's error history

PROTOCOLS = ("pop3", "imap")
TLS_MODES = ("implicit", "starttls", "none")
DEFAULT_PORTS = {("pop3", "implicit"): 995, ("pop3", "starttls"): 110, ("pop3", "none"): 110,
                 ("imap", "implicit"): 993, ("imap", "starttls"): 143, ("imap", "none"): 143}
RULE_ACTIONS = ("skip", "delete")
RULE_FIELDS = ("size", "from", "to", "cc", "subject")
KEY_FILE = "collector.key"


class CollectorKeyError(StoreError):
    """The key file cannot decrypt a stored password (missing, replaced or unreadable)."""


class CollectorInvalid(StoreError):
    """A setting the store refuses; ``field`` names it, so a form can show the line there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CollectorTaken(AlreadyExists):
    """The name, or the ISP mailbox, is already used by another collector."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Rule:
    """A download rule, decided before the body is downloaded.

    ``size``: the message is larger than ``value`` bytes. ``from``/``to``/``cc``/``subject``:
    the header contains ``value`` (case-insensitive), or matches it as a glob when it holds
    ``*``/``?`` (for the address fields: one of the addresses does).
    ``skip`` leaves the message at the ISP; ``delete`` removes it there. Either way the
    intended recipient gets a short notice.
    """

    action: str
    field: str
    value: str

    def describe(self) -> str:
        return f"{self.action} {self.field} {'>' if self.field == 'size' else '~'} {self.value}"


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    """What an administrator chooses for an ISP mailbox."""

    name: str
    protocol: str
    host: str
    username: str
    password: str
    recipient: str  # the one local recipient, or the multi-drop default recipient
    port: int | None = None
    tls: str = "implicit"
    verify_tls: bool = True
    interval: int = 300
    timeout: int = 60
    enabled: bool = True
    multidrop: bool = False
    leave_on_server: bool = True
    delete_after_days: int | None = None
    folder: str = "INBOX"
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class CollectorAccount:
    id: int
    name: str
    protocol: str
    host: str
    port: int
    tls: str
    verify_tls: bool
    username: str
    interval: int
    timeout: int
    enabled: bool
    multidrop: bool
    recipient: str
    leave_on_server: bool
    delete_after_days: int | None
    folder: str
    rules: tuple[Rule, ...]
    next_run_at: int
    last_run_at: int | None
    last_success_at: int | None
    last_result: str
    last_error: str | None
    failures: int
    admin_notified: bool
    password: str = field(default="", repr=False)  # decrypted only by ``get(..., secret=True)``

    @property
    def where(self) -> str:
        return f"{self.protocol}://{self.username}@{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class CollectedRecord:
    """One message taken from an ISP mailbox (committed with its delivery)."""

    collector_id: int
    uid: str
    fetched_at: int
    action: str = "delivered"


def insert_collected(conn: Connection, records: Sequence[CollectedRecord]) -> None:
    """Inside the caller's transaction (``Database.write_sync`` or ``run_sync``)."""
    if records:
        conn.execute(insert(CS), [
            {"collector_id": r.collector_id, "uid": r.uid, "fetched_at": r.fetched_at,
             "action": r.action} for r in records])


class PasswordBox:
    """Encrypts ISP passwords with a key kept in a 0600 file, created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fernet: Fernet | None = None

    def _key(self, create: bool) -> Fernet:
        if self._fernet is None:
            try:
                key = self.path.read_bytes().strip()
            except FileNotFoundError:
                if not create:
                    raise CollectorKeyError(
                        f"the collector key file {self.path} is missing; set the ISP "
                        "password again (remove and add the collector)") from None
                key = Fernet.generate_key()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:  # another process made it first: use theirs
                    key = self.path.read_bytes().strip()
                else:
                    with os.fdopen(fd, "wb") as f:
                        f.write(key + b"\n")
                        f.flush()
                        os.fsync(f.fileno())
            except OSError as exc:
                raise CollectorKeyError(
                    f"cannot read the collector key file {self.path}: {exc.strerror}") from exc
            try:
                self._fernet = Fernet(key)
            except ValueError as exc:
                raise CollectorKeyError(
                    f"the collector key file {self.path} is not a Fernet key") from exc
        return self._fernet

    def encrypt(self, password: str) -> str:
        return self._key(create=True).encrypt(password.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._key(create=False).decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise CollectorKeyError(
                f"the collector key file {self.path} does not decrypt the stored ISP password "
                "(was it replaced?); set the password again") from exc


def rules_to_json(rules: Iterable[Rule]) -> str:
    return json.dumps([{"action": r.action, "field": r.field, "value": r.value} for r in rules])


def rules_from_json(text: str) -> tuple[Rule, ...]:
    return tuple(Rule(**r) for r in json.loads(text or "[]"))


def problems(settings: CollectorSettings) -> dict[str, str]:
    """Every setting that cannot be saved, by field name, with the line to show beside it."""
    out: dict[str, str] = {}
    name = settings.name.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        out["name"] = f"collector name {settings.name!r}: 1 to 100 characters, no spaces"
    if settings.protocol not in PROTOCOLS:
        out["protocol"] = f"protocol {settings.protocol!r}: use pop3 or imap"
    if settings.tls not in TLS_MODES:
        out["tls"] = f"TLS mode {settings.tls!r}: use implicit, starttls or none"
    host = settings.host.strip()
    if not host or any(c.isspace() for c in host) or len(host) > 255:
        out["host"] = f"host {settings.host!r} is not a host name"
    if "protocol" not in out and "tls" not in out:
        port = settings.port or DEFAULT_PORTS[(settings.protocol, settings.tls)]
        if not 0 < port < 65536:
            out["port"] = f"port {port} is out of range (1 to 65535)"
    if not settings.username:
        out["username"] = "the ISP user name is empty"
    if settings.interval < 10:
        out["interval"] = f"interval {settings.interval} s is too short (at least 10 s)"
    if settings.timeout < 1:
        out["timeout"] = "the timeout must be at least 1 second"
    if settings.delete_after_days is not None and (
            settings.delete_after_days < 0 or not settings.leave_on_server):
        out["delete_after_days"] = ("delete-after-days needs leave-on-server and a number "
                                    "of days >= 0")
    if not settings.folder.strip():
        out["folder"] = "the IMAP folder is empty (INBOX is the usual one)"
    try:
        normalise_address(settings.recipient)
    except StoreError as exc:
        out["recipient"] = str(exc)
    for rule in settings.rules:
        if rule.action not in RULE_ACTIONS or rule.field not in RULE_FIELDS or not rule.value:
            out.setdefault("rules", f"rule {rule.describe()!r}: action skip|delete, field "
                           f"{'|'.join(RULE_FIELDS)} and a value")
        elif rule.field == "size" and not rule.value.isdigit():
            out.setdefault("rules", f"rule {rule.describe()!r}: the size is a number of bytes")
    return out


def validate(settings: CollectorSettings) -> CollectorSettings:
    """The settings with defaults filled in, or a CollectorInvalid that names the bad one."""
    found = problems(settings)
    if found:
        field_name, message = next(iter(found.items()))
        raise CollectorInvalid(field_name, message)
    port = settings.port or DEFAULT_PORTS[(settings.protocol, settings.tls)]
    return CollectorSettings(**{
        **{f: getattr(settings, f) for f in settings.__dataclass_fields__},
        "name": settings.name.strip(), "host": settings.host.strip().lower(), "port": port,
        "folder": settings.folder.strip(), "recipient": normalise_address(settings.recipient)})


def public(settings: CollectorSettings | CollectorAccount) -> dict[str, object]:
    """The settings as the audit log keeps them: everything but the password."""
    return {f: getattr(settings, f) for f in CollectorSettings.__dataclass_fields__
            if f not in ("password", "rules")} | {
        "rules": [r.describe() for r in settings.rules]}


@dataclass(frozen=True, slots=True)
class CollectorRunRecord:
    """One finished run, for the admin's history."""

    started_at: int
    finished_at: int
    result: str
    error: str | None


def _account(row: object, password: str = "") -> CollectorAccount:
    m = row._mapping
    return CollectorAccount(
        **{k: m[k] for k in CollectorAccount.__dataclass_fields__
           if k not in ("rules", "password", "verify_tls", "enabled", "multidrop",
                        "leave_on_server", "admin_notified")},
        verify_tls=bool(m["verify_tls"]), enabled=bool(m["enabled"]),
        multidrop=bool(m["multidrop"]), leave_on_server=bool(m["leave_on_server"]),
        admin_notified=bool(m["admin_notified"]), rules=rules_from_json(m["rules"]),
        password=password)


class Collectors:
    def __init__(self, db: Database, key_path: Path, alert_after: int = 3) -> None:
        self.db = db
        self.box = PasswordBox(key_path)
        self.alert_after = alert_after

    # Accounts --------------------------------------------------------------------------
    async def add(self, settings: CollectorSettings, actor: Actor | None = None
                  ) -> CollectorAccount:
        """Saves a new ISP mailbox (audited with ``actor``, in the same transaction)."""
        s = validate(settings)
        await self._check_recipient(s.recipient)
        async with self.db.write() as conn:
            await self._check_unique(conn, s, None)
            try:
                await conn.execute(insert(CO).values(
                    **self._columns(s), password=self.box.encrypt(s.password),
                    created_at=int(time.time()), next_run_at=0, last_result="", failures=0,
                    admin_notified=False))
            except IntegrityError as exc:
                raise CollectorTaken("name", f"a collector called {s.name} already exists"
                                     ) from exc
            if actor is not None:
                await AuditLog.record_in(conn, actor, "collector.add", f"collector {s.name}",
                                         new=public(s))
        return await self.get(s.name)

    async def change(self, name: str, settings: CollectorSettings, actor: Actor | None = None,
                     new_password: bool = False) -> CollectorAccount:
        """Replaces every setting of collector ``name`` (its name included); the password
        only when ``new_password``. What was already fetched stays recorded."""
        current = await self.get(name)
        s = validate(settings)
        await self._check_recipient(s.recipient)
        values = self._columns(s)
        if new_password:
            values["password"] = self.box.encrypt(s.password)
        async with self.db.write() as conn:
            await self._check_unique(conn, s, current.id)
            try:
                await conn.execute(update(CO).where(CO.c.id == current.id).values(
                    **values, next_run_at=0))
            except IntegrityError as exc:
                raise CollectorTaken("name", f"a collector called {s.name} already exists"
                                     ) from exc
            if actor is not None:
                old, new = public(current), public(s)
                changed = sorted(k for k in new if old.get(k) != new[k])
                if new_password:
                    changed.append("password")
            if actor is not None and changed:
                await AuditLog.record_in(
                    conn, actor, "collector.change", f"collector {s.name}",
                    old={k: old.get(k) for k in changed if k != "password"},
                    new={k: new[k] if k != "password" else "changed" for k in changed})
        return await self.get(s.name)

    @staticmethod
    def _columns(s: CollectorSettings) -> dict[str, object]:
        return dict(
            name=s.name, protocol=s.protocol, host=s.host, port=s.port, tls=s.tls,
            verify_tls=s.verify_tls, username=s.username, interval=s.interval,
            timeout=s.timeout, enabled=s.enabled, multidrop=s.multidrop,
            recipient=s.recipient, leave_on_server=s.leave_on_server,
            delete_after_days=s.delete_after_days, folder=s.folder,
            rules=rules_to_json(s.rules))

    async def _check_recipient(self, recipient: str) -> None:
        try:  # mail must have somewhere to go before the first run
            await Router(self.db).resolve(recipient)
        except StoreError as exc:
            raise CollectorInvalid(
                "recipient", f"the recipient is not deliverable here: {exc}") from exc

    @staticmethod
    async def _check_unique(conn: AsyncConnection, s: CollectorSettings,
                            own_id: int | None) -> None:
        same = select(CO.c.name).where(CO.c.name == s.name)
        if own_id is not None:
            same = same.where(CO.c.id != own_id)
        if await conn.scalar(same):
            raise CollectorTaken("name", f"a collector called {s.name} already exists")
        # Two collectors on one ISP mailbox download everything twice (and fight over
        # the POP3 lock): refuse them.
        query = select(CO.c.name).where(
            CO.c.protocol == s.protocol, CO.c.host == s.host,
            CO.c.username == s.username, CO.c.folder == s.folder)
        if own_id is not None:
            query = query.where(CO.c.id != own_id)
        twin = await conn.scalar(query)
        if twin:
            raise CollectorTaken("username", f"collector {twin} already downloads "
                                 f"{s.username} at {s.host}")

    async def get(self, name: str, secret: bool = False) -> CollectorAccount:
        async with self.db.read() as conn:
            row = (await conn.execute(select(CO).where(CO.c.name == name))).first()
        if row is None:
            raise NotFound(f"no collector called {name}")
        return _account(row, self.box.decrypt(row.password) if secret else "")

    async def get_by_id(self, collector_id: int, secret: bool = False) -> CollectorAccount:
        async with self.db.read() as conn:
            row = (await conn.execute(select(CO).where(CO.c.id == collector_id))).first()
        if row is None:
            raise NotFound(f"no collector #{collector_id}")
        return _account(row, self.box.decrypt(row.password) if secret else "")

    async def list(self) -> list[CollectorAccount]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(CO).order_by(CO.c.name))).all()
        return [_account(r) for r in rows]

    async def remove(self, name: str, actor: Actor | None = None) -> None:
        async with self.db.write() as conn:
            row = (await conn.execute(select(CO).where(CO.c.name == name))).first()
            if row is None:
                raise NotFound(f"no collector called {name}")
            await conn.execute(delete(CS).where(CS.c.collector_id == row.id))
            await conn.execute(delete(CR).where(CR.c.collector_id == row.id))
            await conn.execute(delete(CO).where(CO.c.id == row.id))
            if actor is not None:
                await AuditLog.record_in(conn, actor, "collector.remove", f"collector {name}",
                                         old=public(_account(row)))

    async def run_now(self, name: str, actor: Actor | None = None) -> CollectorAccount:
        """Makes the collector due at once: the scheduler of whichever node looks first
        (every few seconds) runs it; the lease keeps it to one run."""
        async with self.db.write() as conn:
            done = await conn.execute(update(CO).where(CO.c.name == name).values(
                next_run_at=0))
            if done.rowcount == 0:
                raise NotFound(f"no collector called {name}")
            if actor is not None:
                await AuditLog.record_in(conn, actor, "collector.run_now", f"collector {name}")
        return await self.get(name)

    async def runs(self, collector_id: int, limit: int = RUNS_KEPT) -> list[CollectorRunRecord]:
        """The latest runs, newest first."""
        async with self.db.read() as conn:
            rows = await conn.execute(select(CR).where(CR.c.collector_id == collector_id)
                                      .order_by(CR.c.id.desc()).limit(limit))
            return [CollectorRunRecord(r.started_at, r.finished_at, r.result, r.error)
                    for r in rows]

    async def set_password(self, name: str, password: str) -> None:
        """The ISP changed the password: only the collector needs the new one."""
        async with self.db.write() as conn:
            done = await conn.execute(update(CO).where(CO.c.name == name).values(
                password=self.box.encrypt(password), next_run_at=0))
        if done.rowcount == 0:
            raise NotFound(f"no collector called {name}")

    async def update(self, name: str, **changes: object) -> CollectorAccount:
        """Changes connection settings (host, port, tls, verify_tls, interval, timeout)."""
        allowed = {"host", "port", "tls", "verify_tls", "interval", "timeout"}
        if not changes or set(changes) - allowed:
            raise StoreError(f"cannot change {', '.join(sorted(set(changes) - allowed))}")
        current = await self.get(name)
        merged = validate(CollectorSettings(
            name=name, protocol=current.protocol, host=str(changes.get("host", current.host)),
            username=current.username, password="", recipient=current.recipient,
            port=changes.get("port", current.port), tls=changes.get("tls", current.tls),
            interval=changes.get("interval", current.interval),
            timeout=changes.get("timeout", current.timeout)))
        values = {k: getattr(merged, k) if k != "verify_tls" else bool(v)
                  for k, v in changes.items()}
        async with self.db.write() as conn:
            await conn.execute(update(CO).where(CO.c.name == name).values(
                **values, next_run_at=0))
        return await self.get(name)

    async def set_enabled(self, name: str, enabled: bool, actor: Actor | None = None) -> None:
        async with self.db.write() as conn:
            done = await conn.execute(update(CO).where(CO.c.name == name).values(
                enabled=enabled, next_run_at=0))
            if done.rowcount == 0:
                raise NotFound(f"no collector called {name}")
            if actor is not None:
                await AuditLog.record_in(conn, actor, "collector.enabled", f"collector {name}",
                                         old=not enabled, new=enabled)

    # What was fetched ------------------------------------------------------------------
    async def seen(self, collector_id: int) -> dict[str, tuple[int, str]]:
        """uid → (when it was fetched, what was done: delivered / skipped / deleted)."""
        async with self.db.read() as conn:
            rows = await conn.execute(select(CS.c.uid, CS.c.fetched_at, CS.c.action).where(
                CS.c.collector_id == collector_id))
            return {r.uid: (r.fetched_at, r.action) for r in rows}

    async def mark(self, records: Sequence[CollectedRecord]) -> None:
        """Records messages taken without a delivery of their own (skipped by a rule)."""
        async with self.db.write() as conn:
            await conn.run_sync(insert_collected, records)

    async def forget(self, collector_id: int, uids: Iterable[str]) -> None:
        """Drops records of messages that are gone from the ISP mailbox."""
        uids = list(uids)
        async with self.db.write() as conn:
            for start in range(0, len(uids), 500):
                await conn.execute(delete(CS).where(
                    CS.c.collector_id == collector_id, CS.c.uid.in_(uids[start:start + 500])))

    # Runs ------------------------------------------------------------------------------
    async def due(self, now: int) -> list[int]:
        """Enabled accounts whose next run time has come and that nobody is running."""
        async with self.db.read() as conn:
            rows = await conn.execute(select(CO.c.id).where(
                CO.c.enabled.is_(True), CO.c.next_run_at <= now,
                or_(CO.c.lease_until.is_(None), CO.c.lease_until < now)).order_by(CO.c.id))
            return [r.id for r in rows]

    async def claim(self, collector_id: int, node: str, lease: int, now: int) -> bool:
        """Takes the account for one run; False when another run holds it."""
        async with self.db.write() as conn:
            done = await conn.execute(update(CO).where(
                CO.c.id == collector_id,
                or_(CO.c.lease_until.is_(None), CO.c.lease_until < now),
            ).values(claimed_by=node, lease_until=now + lease))
        return done.rowcount == 1

    async def renew(self, collector_id: int, node: str, lease: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(CO).where(
                CO.c.id == collector_id, CO.c.claimed_by == node,
            ).values(lease_until=int(time.time()) + lease))

    async def finish(self, collector_id: int, node: str, error: str | None, result: str,
                     now: int, started: int | None = None) -> bool:
        """Records a run (and its line in the history) and releases the account; True when
        the admin must be told now."""
        async with self.db.write() as conn:
            row = (await conn.execute(select(CO.c.interval, CO.c.failures, CO.c.admin_notified)
                                      .where(CO.c.id == collector_id))).first()
            if row is None:
                return False
            values: dict[str, object] = {
                "last_run_at": now, "next_run_at": now + row.interval, "last_result": result,
                "claimed_by": None, "lease_until": None}
            if error is None:
                values.update(last_error=None, failures=0, admin_notified=False,
                              last_success_at=now)
                tell = False
            else:
                failures = row.failures + 1
                values.update(last_error=error, failures=failures)
                tell = failures >= self.alert_after and not row.admin_notified
            await conn.execute(update(CO).where(
                CO.c.id == collector_id, or_(CO.c.claimed_by == node,
                                             CO.c.claimed_by.is_(None))).values(**values))
            await conn.execute(insert(CR).values(
                collector_id=collector_id, started_at=started if started is not None else now,
                finished_at=now, result=result, error=error))
            oldest_kept = await conn.scalar(
                select(CR.c.id).where(CR.c.collector_id == collector_id)
                .order_by(CR.c.id.desc()).offset(RUNS_KEPT - 1).limit(1))
            if oldest_kept is not None:
                await conn.execute(delete(CR).where(CR.c.collector_id == collector_id,
                                                    CR.c.id < oldest_kept))
        return tell

    async def mark_admin_notified(self, collector_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(CO).where(CO.c.id == collector_id).values(
                admin_notified=True))

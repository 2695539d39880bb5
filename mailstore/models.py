"""The metadata schema. The schema only ever changes through Alembic migrations.

Times are stored as integer Unix seconds (UTC): both engines sort and compare them
natively, and IMAP dates are rendered from them without timezone guessing.
System flags are a bit mask (see ``mailstore.flags``), keywords a space-joined string.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Domain(Base):
    __tablename__ = "domains"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Alias(Base):
    """One address delivered to one target; several rows give one-to-many aliases."""

    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("address", "target"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
    target: Mapped[str] = mapped_column(String(320))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)


class Folder(Base):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1000))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uidnext: Mapped[int] = mapped_column(BigInteger, default=1)
    highestmodseq: Mapped[int] = mapped_column(BigInteger, default=1)
    special_use: Mapped[str | None] = mapped_column(String(20), nullable=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    unseen_count: Mapped[int] = mapped_column(Integer, default=0)
    total_size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # IMAP \Recent (RFC 3501 §2.3.2), as Dovecot keeps it: the highest UID some session has
    # seen with the folder selected read-write; UIDs above it are recent to the next one.
    recent_uid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Content(Base):
    """One stored blob and everything parsed from it once, at delivery.

    Shared by every copy of the message (several folders, several recipients);
    ``refcount`` counts the messages rows that point here. Rows at refcount 0 are
    removed, with their blob file, by the garbage collector.
    """

    __tablename__ = "contents"
    __table_args__ = (Index("ix_contents_message_id", "message_id"),
                      Index("ix_contents_size", "size"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    refcount: Mapped[int] = mapped_column(Integer, default=0)
    envelope: Mapped[str] = mapped_column(Text)
    bodystructure: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    sections: Mapped[str] = mapped_column(Text)
    sent_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    subject_base: Mapped[str] = mapped_column(Text)
    from_display: Mapped[str] = mapped_column(Text)
    from_addr: Mapped[str] = mapped_column(Text)
    sort_from: Mapped[str] = mapped_column(Text)
    sort_to: Mapped[str] = mapped_column(Text)
    sort_cc: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text)
    in_reply_to: Mapped[str] = mapped_column(Text)
    references: Mapped[str] = mapped_column(Text)
    preview: Mapped[str] = mapped_column(Text)
    attachments: Mapped[str] = mapped_column(Text)
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    parse_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    header_text: Mapped[str] = mapped_column(Text)
    # The searchable text; indexed by FTS5 trigram (SQLite) or pg_trgm GIN (PostgreSQL).
    search_from: Mapped[str] = mapped_column(Text)
    search_to: Mapped[str] = mapped_column(Text)
    search_cc: Mapped[str] = mapped_column(Text)
    search_bcc: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    search_body: Mapped[str] = mapped_column(Text)


class Message(Base):
    """A message in a folder: the IMAP view (UID, MODSEQ, flags) of one Content."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("folder_id", "uid"),
        Index("ix_messages_folder_date", "folder_id", "internal_date", "uid"),
        Index("ix_messages_folder_modseq", "folder_id", "modseq"),
        # Covers a search's lookup from content (FTS5 rowid) to (folder, UID) without
        # reading the table row: 96k hits in 100k messages, 54 ms -> 31 ms on SQLite.
        Index("ix_messages_content_folder_uid", "content_id", "folder_id", "uid"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    modseq: Mapped[int] = mapped_column(BigInteger)
    content_id: Mapped[int] = mapped_column(ForeignKey("contents.id"))
    flags: Mapped[int] = mapped_column(Integer, default=0)
    keywords: Mapped[str] = mapped_column(Text, default="")
    internal_date: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)


class Expunged(Base):
    """Tombstones: which UIDs left a folder at which MODSEQ (for QRESYNC and other sessions)."""

    __tablename__ = "expunged"
    __table_args__ = (Index("ix_expunged_folder_modseq", "folder_id", "modseq"),)
    folder_id: Mapped[int] = mapped_column(
        ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    modseq: Mapped[int] = mapped_column(BigInteger)


class Trace(Base):
    """One SMTP transaction (accepted or rejected): the message-trace log.

    ``recipients`` is JSON: a list of {"address", "verdict", "reply", "destination"}.
    """

    __tablename__ = "trace"
    __table_args__ = (
        # Migration 0012 adds search-only indexes (ix_trace_search on SQLite, pg_trgm on
        # PostgreSQL) for the admin's substring search, as 0001 does for contents.
        Index("ix_trace_at", "at"),
        Index("ix_trace_verdict_at", "verdict", "at", "listener"),
        Index("ix_trace_message_id", "message_id"),
        Index("ix_trace_client_ip_at", "client_ip", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger)
    listener: Mapped[str] = mapped_column(String(20))
    client_ip: Mapped[str] = mapped_column(String(64))
    helo: Mapped[str] = mapped_column(Text, default="")
    tls: Mapped[str] = mapped_column(Text, default="")
    auth_user: Mapped[str] = mapped_column(String(320), default="")
    mail_from: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    message_id: Mapped[str] = mapped_column(Text, default="")
    verdict: Mapped[str] = mapped_column(String(20))
    reply: Mapped[str] = mapped_column(Text, default="")
    recipients: Mapped[str] = mapped_column(Text, default="[]")


class Outbound(Base):
    """A message waiting to leave the server (relayed submission, forward, bounce).

    The bytes live in the row, so a queue entry is self-contained and committed in the same
    transaction as everything else the delivery did. ``recipients`` and ``dsn`` are JSON.
    """

    __tablename__ = "outbound"
    __table_args__ = (Index("ix_outbound_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    origin: Mapped[str] = mapped_column(String(20))
    mail_from: Mapped[str] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text)
    dsn: Mapped[str] = mapped_column(Text, default="{}")
    message: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A runner that took the entry (status "sending") owns it until lease_until; after a
    # crash the lease runs out and another runner takes it again.
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    delay_notified: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())
    history: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    # An administrator asked to return the message to its sender (who asked): the runner
    # that next claims the entry fails its pending recipients and sends the bounce.
    bounce_requested: Mapped[str | None] = mapped_column(Text, nullable=True)


class DkimKey(Base):
    """A domain's DKIM signing key; the public half is published as selector._domainkey."""

    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("domain", "selector"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255))
    selector: Mapped[str] = mapped_column(String(63))
    algorithm: Mapped[str] = mapped_column(String(20))
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MailingList(Base):
    """A distribution list: mail to its address goes to every member.

    ``policy`` says who may post: anyone, members, domain (senders in the list's domain) or
    senders (the addresses in ``list_senders``).
    """

    __tablename__ = "lists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    policy: Mapped[str] = mapped_column(String(20), default="anyone")
    subject_prefix: Mapped[str] = mapped_column(Text, default="")
    reply_to_list: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ListMember(Base):
    __tablename__ = "list_members"
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"),
                                         primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    # member: receives the list's mail; sender: may post under the "senders" policy only
    role: Mapped[str] = mapped_column(String(10), primary_key=True, default="member")


class Collector(Base):
    """An ISP mailbox the collector downloads from (POP3 or IMAP) and where its mail goes.

    ``password`` is Fernet-encrypted (see ``mailstore.collectors``). ``recipient`` is the one
    local address in single-drop mode; in multi-drop mode (``multidrop``) mail is routed by
    its headers and ``recipient`` takes what no header names. ``rules`` is JSON (a list of
    download rules). ``lease_until``/``claimed_by`` make one run per account at a time, across
    nodes. Times are Unix seconds.
    """

    __tablename__ = "collectors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    protocol: Mapped[str] = mapped_column(String(10))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    tls: Mapped[str] = mapped_column(String(10))
    verify_tls: Mapped[bool] = mapped_column(Boolean, default=True)
    username: Mapped[str] = mapped_column(String(320))
    password: Mapped[str] = mapped_column(Text)
    interval: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    multidrop: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient: Mapped[str] = mapped_column(String(320))
    leave_on_server: Mapped[bool] = mapped_column(Boolean, default=True)
    delete_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    folder: Mapped[str] = mapped_column(String(1000), default="INBOX")
    rules: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[int] = mapped_column(BigInteger)
    next_run_at: Mapped[int] = mapped_column(BigInteger, default=0)
    last_run_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_success_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_result: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    admin_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class CollectorSeen(Base):
    """What a collector already took from its ISP mailbox, so nothing is fetched twice.

    ``uid`` is the POP3 UIDL, or ``UIDVALIDITY:UID`` for IMAP. ``action`` says what happened
    (delivered, skipped or deleted by a rule); ``fetched_at`` drives "delete after N days".
    """

    __tablename__ = "collector_seen"
    collector_id: Mapped[int] = mapped_column(
        ForeignKey("collectors.id", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[str] = mapped_column(String(255), primary_key=True)
    fetched_at: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(20), default="delivered")


class CollectorRun(Base):
    """One finished run of a collector: what it did, or the one line saying why it failed.

    The admin's error history; only the newest ``RUNS_KEPT`` per collector are kept.
    """

    __tablename__ = "collector_runs"
    __table_args__ = (Index("ix_collector_runs_collector", "collector_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collector_id: Mapped[int] = mapped_column(
        ForeignKey("collectors.id", ondelete="CASCADE"))
    started_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Preferences(Base):
    """A user's webmail settings (density, thread view, reading pane, page size…) as JSON.

    One JSON document rather than a column per setting: settings come and go with the
    webmail, and none of them is ever searched for.
    """

    __tablename__ = "preferences"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[str] = mapped_column(Text, default="{}")


class Identity(Base):
    """An address a user may send as, with its display name and signature."""

    __tablename__ = "identities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(Text, default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    signature_is_html: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Contact(Base):
    """Someone in a user's address book, or someone the user has written to.

    ``saved`` tells the two apart: people written to are remembered (``times_used``,
    ``last_used_at``) so that autocomplete offers them first, but only saved contacts make
    the address book.
    """

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("account_id", "address"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(Text, default="")
    saved: Mapped[bool] = mapped_column(Boolean, default=False)
    times_used: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[int] = mapped_column(BigInteger, default=0)


class TrustedSender(Base):
    """A sender whose remote images a user always wants shown."""

    __tablename__ = "trusted_senders"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)


class AuditEntry(Base):
    """One change an administrator made: who, what, when, the old and the new value.

    ``old_value`` and ``new_value`` are JSON (null when there was nothing before or after);
    secrets such as passwords are never written here, only that they changed.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(320))
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text, default="")
    old_value: Mapped[str] = mapped_column(Text, default="null")
    new_value: Mapped[str] = mapped_column(Text, default="null")


class ServerSetting(Base):
    """A setting changed in the web admin, over the value in ``tidings.toml``.

    ``name`` is the dotted TOML path (``smtp.max_message_size``), ``value`` its JSON. The
    database, not the file, holds these so that every node of a cluster sees one truth.
    """

    __tablename__ = "server_settings"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[int] = mapped_column(BigInteger)

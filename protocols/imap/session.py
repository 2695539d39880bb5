r"""One IMAP connection: framing, the state machine (RFC 9051 §3) and every command.

Implementation notes (invariants a maintainer must keep):
- The session owns the socket; the parser (``parser.py``) is pure; the store owns policy and
  truth. The session never touches SQL: it calls ``Store`` operations only.
- Framing: a command is read line by line; a line ending in ``{n}`` announces a literal.
  Limits are checked *before* a literal is read: a synchronising literal that is too big is
  refused with ``BAD [TOOBIG]`` before the client sends it; a non-synchronising one too big
  ends the connection after the BAD (RFC 7888 §4), as the bytes are already on their way.
  Lines longer than ``MAX_LINE`` are discarded as they arrive, never buffered whole.
- Other sessions' changes come from the store's change log (``changes_since``) at NOOP,
  CHECK, IDLE and after each command. EXPUNGE is never sent during FETCH, STORE or SEARCH
  (RFC 9051 §7.5.1); those expunges wait until a command that allows them.
- IDLE waits on the store's per-folder notifier (``store.events``), which every writer fires
  after it commits, so mail delivered by SMTP, webmail or another IMAP session is pushed.
- No exception reaches the client as a traceback: store refusals become ``NO`` with the
  store's one-line reason; anything unexpected is logged and answered ``NO [SERVERBUG]``.
- A message is acknowledged by APPEND only after the store committed it (durability rule).
- SORT and THREAD (RFC 5256) reuse the SEARCH translation, then order or thread the
  stored sort fields (``mailstore.sorting``/``mailstore.threads``); no blob is read.
- QRESYNC (RFC 7162 §3.2): once enabled, every expunge the session announces is one
  ``VANISHED uid-set`` instead of ``n EXPUNGE``. ``VANISHED (EARLIER)`` (SELECT with QRESYNC,
  UID FETCH … VANISHED) only names UIDs no longer in the session's map: an expunge that is
  still pending is announced later as a plain VANISHED, so sequence numbers stay consistent.
- \Recent (RFC 3501 §2.3.2) as Dovecot does it: a message is recent to the first session
  that has its folder selected read-write after it arrived; the store keeps the highest
  claimed UID per folder (``folders.claim_recent``). IMAP4rev2 sessions never see \Recent.
- COMPRESS=DEFLATE (RFC 4978, ``compress.py``): after ``OK DEFLATE active`` ``self.reader``
  is an inflating reader and ``flush()`` (the only writer, with the shutdown BYE) deflates
  with a sync flush, so every response, IDLE pushes included, is decodable on arrival.
- QUOTA (RFC 9208): one quota root "" per account with a limit, STORAGE in KiB, read fresh
  from the account row at each request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import logging
import re
import ssl
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mailstore import search as S
from mailstore import sorting, threads
from mailstore.errors import (
    AlreadyExists,
    InvalidName,
    NotFound,
    QuotaExceeded,
    StoreError,
)
from mailstore.names import DELIMITER
from mailstore.values import AccountInfo, FetchRow, FolderInfo, NewMessage
from protocols.imap import commands as C
from protocols.imap import fetch as FETCH
from protocols.imap import responses as R
from protocols.imap.compress import CorruptStream, Deflater, Inflater
from protocols.imap.mailbox import BadSequence, Selected
from protocols.imap.parser import (
    ParseError,
    command_tag_and_name,
    literal_at_end,
    parse_command,
)
from protocols.listener import Peer

if TYPE_CHECKING:
    from protocols.imap.server import ImapServer

log = logging.getLogger("tidings.imap")

MAX_LINE = 64 * 1024  # one line of a command, literals excluded
MAX_COMMAND = 1024 * 1024  # a whole command other than APPEND, literals included
IDLE_TIMEOUT = 30 * 60  # RFC 9051 §5.4: the autologout timer is at least 30 minutes
PREAUTH_TIMEOUT = 120
FLUSH_AT = 256 * 1024

SYSTEM_FLAGS = b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft)"


class Disconnect(Exception):
    """The connection must end (client gone, LOGOUT, or a protocol violation)."""


class LineTooLong(Exception):
    def __init__(self, tag: str | None) -> None:
        super().__init__("line too long")
        self.tag = tag


class Session:
    def __init__(
        self, server: ImapServer, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter, tls: bool,
    ) -> None:
        self.server = server
        self.store = server.store
        self.reader = reader
        self.writer = writer
        self.tls = tls
        peer = Peer.of(writer)
        self.peer, self.peer_ip, self.loopback = peer.text, peer.ip, peer.loopback
        self.account: AccountInfo | None = None
        self.selected: Selected | None = None
        self.utf8 = False
        self.rev2 = False
        self.condstore = False
        self.qresync = False  # RFC 7162 §3.2.3: ENABLE QRESYNC (implies CONDSTORE)
        self.out: list[bytes] = []
        self.out_size = 0
        self.ending = False
        self.deflater: Deflater | None = None  # RFC 4978 COMPRESS=DEFLATE, once active
        self.inflater: Inflater | None = None

    # --- I/O -------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.out.append(data)
        self.out_size += len(data)

    def untagged(self, text: str | bytes) -> None:
        self.send(b"* " + (text.encode() if isinstance(text, str) else text) + b"\r\n")

    async def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.out.clear()
            self.out_size = 0
            self.writer.write(self._wire(data))
            await self.writer.drain()

    def _wire(self, data: bytes) -> bytes:
        """The bytes as they go out: compressed and sync-flushed once COMPRESS is active."""
        return self.deflater.compress(data) if self.deflater is not None else data

    async def maybe_flush(self) -> None:
        if self.out_size >= FLUSH_AT:
            await self.flush()

    @property
    def secure(self) -> bool:
        """TLS, or loopback (counted as secure, as Dovecot does)."""
        return self.tls or (self.loopback and self.server.loopback_is_secure)

    async def _readline(self) -> bytes:
        """One line up to CRLF, at most MAX_LINE bytes; longer lines are discarded."""
        timeout = IDLE_TIMEOUT if self.account else PREAUTH_TIMEOUT
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\n"), timeout)
        except asyncio.IncompleteReadError as exc:
            raise Disconnect("client closed the connection") from exc
        except asyncio.LimitOverrunError as exc:
            # Drain the over-long line piece by piece without keeping it (no memory blow-up).
            first = await self.reader.readexactly(min(exc.consumed, MAX_LINE) or 1)
            tag, _ = command_tag_and_name(first)
            while True:
                try:
                    await self.reader.readuntil(b"\n")
                    break
                except asyncio.LimitOverrunError as more:
                    await self.reader.readexactly(more.consumed or 1)
                except asyncio.IncompleteReadError:
                    raise Disconnect("client closed the connection") from None
            raise LineTooLong(tag) from None
        except TimeoutError:
            self.untagged("BYE Autologout; idle for too long")
            await self.flush()
            raise Disconnect("timeout") from None
        if not line.endswith(b"\r\n"):
            line = line[:-1] + b"\r\n"  # be lenient with bare LF clients
        return line

    async def read_command(self) -> bytes | None:
        """The bytes of one whole command, literals included; None if it was refused."""
        line = await self._readline()
        tag, name = command_tag_and_name(line)
        append = name == "APPEND"
        # RFC 7889 APPENDLIMIT is per message; a MULTIAPPEND (RFC 3502) is held in memory
        # until it is stored, so the messages together have a limit too.
        limit = self.server.append_total_limit if append else MAX_COMMAND
        parts = [line]
        total = len(line)
        while True:
            lit = literal_at_end(parts[-1])
            if lit is None:
                return b"".join(parts)
            size, nonsync = lit
            refusal = None
            if append and size > self.server.append_limit:
                refusal = (f"message too big: {size} bytes, the limit is "
                           f"{self.server.append_limit}")
            elif total + size > limit:
                refusal = (f"command too big: {total + size} bytes, the limit is {limit}"
                           if not append else f"messages too big together: {total + size} "
                           f"bytes in one APPEND, the limit is {limit}")
            if refusal is not None:
                self.send(f"{tag or '*'} BAD [TOOBIG] {refusal}\r\n".encode())
                if nonsync:
                    # RFC 7888 §4: the literal is already on its way; we must not read it.
                    self.untagged("BYE Literal too big")
                    await self.flush()
                    raise Disconnect("literal too big")
                await self.flush()
                return None
            if not nonsync:
                self.send(b"+ Ready for literal data\r\n")
                await self.flush()
            try:
                data = await self.reader.readexactly(size)
            except asyncio.IncompleteReadError as exc:
                raise Disconnect("client closed the connection") from exc
            parts.append(data)
            total += size
            parts.append(await self._readline())
            total += len(parts[-1])
            if total > limit:
                self.send(f"{tag or '*'} BAD [TOOBIG] command too long\r\n".encode())
                return None

    # --- main loop ---------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            caps = self.capabilities()
            self.untagged(f"OK [CAPABILITY {caps}] {self.server.hostname} Tidings IMAP ready")
            await self.flush()
            while not self.ending:
                try:
                    data = await self.read_command()
                except LineTooLong as exc:
                    self.send(f"{exc.tag or '*'} BAD [TOOBIG] line too long (limit "
                              f"{MAX_LINE} bytes)\r\n".encode())
                    await self.flush()
                    continue
                if data is None:
                    await self.flush()
                    continue
                try:
                    command = parse_command(data)
                except ParseError as exc:
                    self.send(f"{exc.tag or '*'} BAD {exc}\r\n".encode())
                    await self.flush()
                    continue
                except Exception:  # a parser bug must not cost the client its connection
                    log.exception("IMAP parser failed on input from %s", self.peer)
                    tag, _ = command_tag_and_name(data)
                    self.send(f"{tag or '*'} BAD Command not understood\r\n".encode())
                    await self.flush()
                    continue
                await self.execute(command)
                await self.flush()
        except CorruptStream as exc:
            log.info("IMAP session of %s ended: %s", self.peer, exc)
            with contextlib.suppress(Exception):
                self.out.clear()
                self.untagged("BYE Compressed data is corrupt")
                await asyncio.wait_for(self.flush(), 2)
        except (Disconnect, ConnectionError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self.writer.write(self._wire(b"* BYE Server shutting down\r\n"))
            raise
        finally:
            if self.inflater is not None:
                self.inflater.close()
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2)

    async def execute(self, command: C.Command) -> None:
        name = command.name
        handler = getattr(self, "cmd_" + name.replace(" ", "_").lower(), None)
        state_ok = name in _ANY_STATE or (
            name in _NOT_AUTH and self.account is None) or (
            name in _AUTH and self.account is not None) or (
            name in _SELECTED and self.selected is not None)
        if handler is None or not state_ok:
            if name in _NOT_AUTH:
                reason = "already authenticated"
            elif self.account is None:
                reason = "log in first"
            else:
                reason = "select a mailbox first"
            self.send(f"{command.tag} BAD {name} is not allowed now: {reason}\r\n".encode())
            return
        try:
            result = await handler(command)
        except (BadSequence, ParseError) as exc:
            result = f"BAD {exc}"
        except QuotaExceeded as exc:
            result = f"NO [OVERQUOTA] {exc}"  # RFC 9208 §4
        except AlreadyExists as exc:
            result = f"NO [ALREADYEXISTS] {exc}"  # RFC 5530
        except NotFound as exc:
            result = f"NO [NONEXISTENT] {exc}"
        except InvalidName as exc:
            result = f"NO [CANNOT] {exc}"
        except StoreError as exc:
            result = f"NO {exc}"
        except FETCH.FetchFailed as exc:
            result = f"NO [{exc.code}] {exc}"
        except (Disconnect, ConnectionError, asyncio.CancelledError, ssl.SSLError):
            raise
        except Exception:
            log.exception("IMAP %s from %s failed", name, self.peer)
            result = "NO [SERVERBUG] Internal error; the problem was logged"
        if result is None:
            return
        if self.selected is not None and name not in _NO_SYNC:
            try:
                await self.sync(allow_expunge=name not in _NO_EXPUNGE)
            except Exception:  # the command itself is done; updates come at the next sync
                log.exception("IMAP update check for %s failed", self.peer)
        self.send(f"{command.tag} {result}\r\n".encode())

    # --- capabilities ------------------------------------------------------------------------
    def capabilities(self) -> str:
        caps = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"]
        if self.account is None:
            if not self.tls and self.server.tls_context is not None:
                caps.append("STARTTLS")
            if self.secure:
                caps.append("AUTH=PLAIN")
            else:
                caps.append("LOGINDISABLED")  # RFC 9051 §6.2.3: no cleartext passwords
            return " ".join(caps)
        caps += ["NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED",
                 "LIST-STATUS", "SPECIAL-USE", "STATUS=SIZE", "CONDSTORE", "QRESYNC", "ESEARCH",
                 "SEARCHRES", "SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT",
                 "THREAD=REFERENCES",
                 "QUOTA", "QUOTA=RES-STORAGE", f"APPENDLIMIT={self.server.append_limit}",
                 "UTF8=ACCEPT", "BINARY", "MULTIAPPEND", "COMPRESS=DEFLATE"]
        return " ".join(caps)

    # --- any state ----------------------------------------------------------------------------
    async def cmd_capability(self, cmd: C.Command) -> str:
        self.untagged("CAPABILITY " + self.capabilities())
        return "OK CAPABILITY completed"

    async def cmd_noop(self, cmd: C.Command) -> str:
        return "OK NOOP completed"

    async def cmd_logout(self, cmd: C.Command) -> None:
        self.untagged("BYE Logging out")
        self.send(f"{cmd.tag} OK LOGOUT completed\r\n".encode())
        self.ending = True
        return None

    async def cmd_id(self, cmd: C.Id) -> str:
        # RFC 2971: tell the client who we are; what it says about itself is not needed.
        self.untagged('ID ("name" "Tidings" "vendor" "Tidings")')
        return "OK ID completed"

    # --- not authenticated -------------------------------------------------------------------
    async def cmd_starttls(self, cmd: C.Command) -> str | None:
        if self.tls or self.server.tls_context is None:
            return "BAD TLS is already active" if self.tls else "NO TLS is not configured"
        # RFC 9051 §6.2.1: anything the client pipelined after STARTTLS must be discarded;
        # data already buffered here is a plaintext injection attempt, so end the connection.
        if getattr(self.reader, "_buffer", b""):
            self.send(f"{cmd.tag} BAD data after STARTTLS\r\n".encode())
            self.ending = True
            return None
        self.send(f"{cmd.tag} OK Begin TLS negotiation now\r\n".encode())
        data = b"".join(self.out)
        self.out.clear()
        self.out_size = 0
        # No await between this write and start_tls (a drain would let the loop read the
        # client's ClientHello into the plain-text buffer, where the handshake never sees
        # it and both sides wait for each other).
        self.writer.write(data)
        await self.writer.start_tls(self.server.tls_context, ssl_handshake_timeout=60)
        self.tls = True
        return None

    async def cmd_login(self, cmd: C.Login) -> str:
        if not self.secure:
            return "NO [PRIVACYREQUIRED] Use STARTTLS (or port 993) before logging in"
        return await self._authenticate(cmd.user, cmd.password)

    async def cmd_authenticate(self, cmd: C.Authenticate) -> str | None:
        if cmd.mechanism != "PLAIN":
            return "NO [CANNOT] Only AUTHENTICATE PLAIN is supported"
        if not self.secure:
            return "NO [PRIVACYREQUIRED] Use STARTTLS (or port 993) before logging in"
        response = cmd.initial
        if response is None:
            self.send(b"+ \r\n")  # RFC 9051 §6.2.2: empty challenge
            await self.flush()
            response = (await self._readline()).rstrip(b"\r\n").decode("ascii", "replace")
            if response == "*":
                return "BAD AUTHENTICATE cancelled"
        try:
            decoded = b"" if response == "=" else base64.b64decode(response, validate=True)
            authzid, authcid, password = decoded.decode("utf-8").split("\0")
        except (binascii.Error, ValueError):
            return "BAD AUTHENTICATE PLAIN needs base64 of authzid NUL user NUL password"
        if authzid and authzid.lower() != authcid.lower():
            return "NO [AUTHORIZATIONFAILED] Logging in as another user is not allowed"
        return await self._authenticate(authcid, password)

    async def _authenticate(self, user: str, password: str) -> str:
        logins, ip = self.store.logins, self.peer_ip
        if logins.locked(ip):
            # RFC 5530 §3: UNAVAILABLE, a temporary refusal; the limiter is shared by every
            # front door, so failures over SMTP count here too.
            return "NO [UNAVAILABLE] Too many failed logins from your address; try later"
        account = await self.store.accounts.authenticate(user, password)
        if account is None:
            logins.fail(ip)
            await asyncio.sleep(self.server.failure_delay)
            return "NO [AUTHENTICATIONFAILED] Invalid user name or password"
        logins.succeed(ip)
        self.account = account
        return f"OK [CAPABILITY {self.capabilities()}] Logged in"

    # --- authenticated ------------------------------------------------------------------------
    async def cmd_enable(self, cmd: C.Enable) -> str:
        enabled = []
        for cap in cmd.capabilities:
            if cap == "CONDSTORE":
                self.condstore = True
            elif cap == "QRESYNC":
                self.condstore = self.qresync = True  # RFC 7162 §3.2.3
            elif cap == "UTF8=ACCEPT":
                self.utf8 = True
            elif cap == "IMAP4REV2":
                self.rev2 = True
            else:
                continue  # RFC 5161 §3.1: unknown capabilities are ignored
            enabled.append(cap if cap != "IMAP4REV2" else "IMAP4rev2")
        self.untagged("ENABLED" + "".join(" " + c for c in enabled))
        return "OK ENABLE completed"

    async def cmd_compress(self, cmd: C.Compress) -> str | None:
        # RFC 4978 §3: BAD for an unknown mechanism, NO [COMPRESSIONACTIVE] for a second one.
        if cmd.mechanism != "DEFLATE":
            return f"BAD Unknown compression mechanism {cmd.mechanism[:40]}; use DEFLATE"
        if self.deflater is not None:
            return "NO [COMPRESSIONACTIVE] DEFLATE is already active"
        self.send(f"{cmd.tag} OK DEFLATE active\r\n".encode())
        await self.flush()
        # From here both directions are raw DEFLATE; what the client sent after the command
        # is already compressed, and the inflater reads it from the old reader's buffer.
        self.deflater = Deflater()
        self.inflater = Inflater(self.reader, MAX_LINE)
        self.reader = self.inflater.reader
        return None

    async def cmd_namespace(self, cmd: C.Command) -> str:
        # RFC 2342: personal namespace only; "Other Users" and "Shared Folders" come with ACLs.
        # Personal folders have no prefix; the other two are kept for sharing (still empty).
        self.untagged('NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared Folders/" "/"))')
        return "OK NAMESPACE completed"

    def mailbox_name(self, wire: str) -> str:
        """A client's mailbox name as stored: modified UTF-7 decoded unless UTF-8 is on."""
        return wire if (self.utf8 or self.rev2) else R.decode_mutf7(wire)

    def wire_name(self, name: str) -> bytes:
        if self.utf8 or self.rev2:
            return R.string(name)
        return R.string(R.encode_mutf7(name))

    async def folder(self, wire: str) -> FolderInfo:
        return await self.store.folders.get(self.account.id, self.mailbox_name(wire))

    async def cmd_select(self, cmd: C.Select) -> str:
        if self.selected is not None:
            self.selected = None
            self.untagged("OK [CLOSED] Previous mailbox closed")  # RFC 7162 §3.2.11
        readonly = cmd.name == "EXAMINE"
        if cmd.qresync is not None and not self.qresync:
            # RFC 7162 §3.2.5: the QRESYNC parameter needs ENABLE QRESYNC first.
            return "BAD Use ENABLE QRESYNC before SELECT with the QRESYNC parameter"
        info = await self.folder(cmd.mailbox)
        # HIGHESTMODSEQ before the UID list: a change in between is reported again, never lost.
        uids = await self.store.messages.uids(info.id)
        if cmd.condstore:
            self.condstore = True
        self.selected = Selected(info.id, info.name, readonly, info.uidvalidity, uids,
                                 info.highestmodseq)
        await self._take_recent(uids)
        self.send(b"* FLAGS " + SYSTEM_FLAGS + b"\r\n")
        if readonly:
            self.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox")
        else:
            self.untagged("OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
                          "\\*)] Flags permitted")
        self.untagged(f"{len(uids)} EXISTS")
        if not self.rev2:
            self.untagged(f"{len(self.selected.recent)} RECENT")  # RFC 3501 §7.3.2
            # RFC 3501 §6.3.1: OK [UNSEEN n] names the first unseen message (not in rev2).
            first = await self.store.messages.first_unseen(info.id) if info.unseen else None
            seq = self.selected.seq_of(first) if first is not None else None
            if seq is not None:
                self.untagged(f"OK [UNSEEN {seq}] First unseen")
        self.untagged(f"OK [UIDVALIDITY {info.uidvalidity}] UIDs valid")
        self.untagged(f"OK [UIDNEXT {info.uidnext}] Predicted next UID")
        self.untagged(f"OK [HIGHESTMODSEQ {info.highestmodseq}] Highest")  # RFC 7162 §3.1.2.1
        if self.rev2:
            # RFC 9051 §6.3.2: "The list of mailbox attributes MUST be accurate": the same
            # ones LIST gives (mbsync's transcript showed `LIST () "/" "Drafts"`).
            names = {f.name for f in await self.store.folders.list(self.account.id)}
            attrs = " ".join(_list_attributes(info.name, info, names, subscribed=False))
            self.send(f'* LIST ({attrs}) "/" '.encode() + self.wire_name(info.name) + b"\r\n")
        if cmd.qresync is not None and cmd.qresync[0] == info.uidvalidity:
            await self._resync(cmd.qresync[1], cmd.qresync[2])
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        return f"OK [{mode}] {cmd.name} completed"

    cmd_examine = cmd_select

    async def _take_recent(self, new_uids: list[int]) -> None:
        """Mark the session's \\Recent messages among ``new_uids`` (ascending), just shown.

        RFC 3501 §2.3.2: recent to this session and no other; SELECT claims them in the
        store. RFC 3501 §6.3.2: EXAMINE must not take \\Recent away, so it only looks.
        """
        sel = self.selected
        if not new_uids:
            return
        if sel.readonly:
            mark = await self.store.folders.recent_mark(sel.folder_id)
        else:
            mark = await self.store.folders.claim_recent(sel.folder_id, new_uids[-1])
        sel.recent.update(new_uids[bisect.bisect_right(new_uids, mark):])

    @property
    def recent(self) -> set[int] | tuple[()]:
        """UIDs to flag \\Recent in FLAGS; IMAP4rev2 (RFC 9051 §E) has no \\Recent."""
        return self.selected.recent if self.selected is not None and not self.rev2 else ()

    async def _resync(self, modseq: int, known: C.SequenceSet | None) -> None:
        """RFC 7162 §3.2.5.1: what changed since the client's MODSEQ, for a matching
        UIDVALIDITY: VANISHED (EARLIER) for expunged known UIDs, then FETCH for changes."""
        sel = self.selected
        changes = await self.store.messages.changes_since(sel.folder_id, modseq)
        gone = [u for u in changes.expunged
                if sel.seq_of(u) is None and (known is None or _in_set(u, known))]
        if gone:
            self.untagged("VANISHED (EARLIER) " + R.sequence_set(gone))
        for c in changes.changed:
            seq = sel.seq_of(c.uid)
            if seq is None:
                continue  # added after our UID list: the next update announces it
            self.send(f"* {seq} FETCH (UID {c.uid} FLAGS ".encode()
                      + R.flag_list(c.flags, c.keywords, c.uid in self.recent)
                      + f" MODSEQ ({c.modseq}))\r\n".encode())

    async def cmd_create(self, cmd: C.MailboxCommand) -> str:
        name = self.mailbox_name(cmd.mailbox).rstrip(DELIMITER)
        special = cmd.special_use
        if special is not None and special.lower() not in (
                "\\drafts", "\\sent", "\\junk", "\\trash", "\\archive", "\\all", "\\flagged"):
            return "NO [USEATTR] Unknown special-use attribute"
        await self.store.folders.create(self.account.id, name, special)
        return "OK CREATE completed"

    async def cmd_delete(self, cmd: C.MailboxCommand) -> str:
        name = self.mailbox_name(cmd.mailbox)
        folders = await self.store.folders.list(self.account.id)
        target = await self.folder(cmd.mailbox)
        if any(f.name.startswith(target.name + DELIMITER) for f in folders):
            # RFC 9051 §6.3.5: a mailbox with inferiors cannot simply vanish; we keep it.
            return "NO [INUSE] Delete the subfolders of this folder first"
        if self.selected is not None and self.selected.folder_id == target.id:
            self.selected = None
            self.untagged("OK [CLOSED] Deleted the selected mailbox")
        await self.store.folders.delete(self.account.id, name)
        return "OK DELETE completed"

    async def cmd_rename(self, cmd: C.Rename) -> str:
        await self.store.folders.rename(self.account.id, self.mailbox_name(cmd.old),
                                        self.mailbox_name(cmd.new))
        return "OK RENAME completed"

    async def cmd_subscribe(self, cmd: C.MailboxCommand) -> str:
        await self.store.folders.subscribe(self.account.id, self.mailbox_name(cmd.mailbox), True)
        return "OK SUBSCRIBE completed"

    async def cmd_unsubscribe(self, cmd: C.MailboxCommand) -> str:
        await self.store.folders.subscribe(self.account.id, self.mailbox_name(cmd.mailbox),
                                           False)
        return "OK UNSUBSCRIBE completed"

    async def cmd_list(self, cmd: C.List) -> str:
        lsub = cmd.name == "LSUB"
        if not lsub and cmd.patterns == ("",):
            # RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
            self.untagged('LIST (\\Noselect) "/" ""')
            return "OK LIST completed"
        folders = await self.store.folders.list(self.account.id)
        by_name = {f.name: f for f in folders}
        names = set(by_name)
        for name in list(names):  # parents that do not exist are listed as \NonExistent
            parts = name.split(DELIMITER)
            names.update(DELIMITER.join(parts[:i]) for i in range(1, len(parts)))
        matchers = [_pattern(self.mailbox_name(cmd.reference) + self.mailbox_name(p))
                    for p in cmd.patterns]
        subscribed_only = lsub or "SUBSCRIBED" in cmd.selection
        special_only = "SPECIAL-USE" in cmd.selection
        show_subscribed = subscribed_only or "SUBSCRIBED" in cmd.returns
        for name in sorted(names, key=lambda n: (n != "INBOX", n)):
            if not any(m.fullmatch(name) for m in matchers):
                continue
            folder = by_name.get(name)
            if subscribed_only and (folder is None or not folder.subscribed):
                continue
            if special_only and (folder is None or not folder.special_use):
                continue
            if lsub:
                attrs = [] if folder is not None else ["\\Noselect"]
            else:
                attrs = _list_attributes(name, folder, names, show_subscribed)
            self.send(f"* {cmd.name} ({' '.join(attrs)}) \"/\" ".encode()
                      + self.wire_name(name) + b"\r\n")
            if cmd.status_items and folder is not None:
                self.send(await self._status_line(folder, cmd.status_items))  # RFC 5819
        return f"OK {cmd.name} completed"

    cmd_lsub = cmd_list

    async def _status_line(self, folder: FolderInfo, items: Sequence[str]) -> bytes:
        values = {
            "MESSAGES": folder.messages, "UIDNEXT": folder.uidnext,
            "UIDVALIDITY": folder.uidvalidity, "UNSEEN": folder.unseen,
            "SIZE": folder.size, "HIGHESTMODSEQ": folder.highestmodseq,
        }
        if "RECENT" in items:  # RFC 3501 §6.3.10: recent to whoever selects it next
            values["RECENT"] = await self.store.folders.recent_count(folder.id)
        if "DELETED" in items or "DELETED-STORAGE" in items:
            count, size = await self.store.messages.deleted_usage(folder.id)
            values["DELETED"] = count  # RFC 9051 §6.3.11
            values["DELETED-STORAGE"] = _kib(size)  # RFC 9208 §4.3: in units of 1024 octets
        out = []
        for item in items:
            value = values.get(item)
            if value is None:
                raise ParseError(f"unknown STATUS item {item[:40]!r}")
            out.append(f"{item} {value}")
        return (b"* STATUS " + self.wire_name(folder.name) + b" ("
                + " ".join(out).encode() + b")\r\n")

    async def cmd_status(self, cmd: C.Status) -> str:
        folder = await self.folder(cmd.mailbox)
        try:
            self.send(await self._status_line(folder, cmd.items))
        except ParseError as exc:
            return f"BAD {exc}"
        return "OK STATUS completed"

    # --- QUOTA (RFC 9208) ---------------------------------------------------------------------
    # One quota root per account, named "" (RFC 9208 §3.2 lets the server choose the name),
    # governing every folder, with the STORAGE resource only. An account without a limit has
    # no quota root at all (§4.1.2: GETQUOTAROOT then lists none).
    async def _quota_line(self) -> str | None:
        account = await self.store.accounts.get_by_id(self.account.id)
        if account.quota_bytes is None:
            return None
        # RFC 9208 §5.1: STORAGE is in units of 1024 octets. Usage rounds up (a byte used
        # shows), the limit down (the client never thinks it has room it does not have).
        used, limit = _kib(account.used_bytes), account.quota_bytes // 1024
        return f'QUOTA "" (STORAGE {used} {limit})'

    async def cmd_getquotaroot(self, cmd: C.Quota) -> str:
        folder = await self.folder(cmd.target)
        line = await self._quota_line()
        # RFC 9208 §4.1.2: QUOTAROOT mailbox *(SP root), then a QUOTA response per root.
        self.send(b"* QUOTAROOT " + self.wire_name(folder.name)
                  + (b' ""' if line is not None else b"") + b"\r\n")
        if line is not None:
            self.untagged(line)
        return "OK GETQUOTAROOT completed"

    async def cmd_getquota(self, cmd: C.Quota) -> str:
        line = await self._quota_line() if cmd.target == "" else None
        if line is None:
            return "NO [NONEXISTENT] No such quota root"  # RFC 9208 §4.1.1
        self.untagged(line)
        return "OK GETQUOTA completed"

    async def cmd_setquota(self, cmd: C.SetQuota) -> str:
        # RFC 9208 §4.1.3: a server may refuse; limits are the administrator's business.
        return ("NO [NOPERM] Quotas are set by the administrator "
                "(tidings user add ADDRESS --quota SIZE)")

    async def cmd_append(self, cmd: C.Append) -> str:
        try:
            folder = await self.folder(cmd.mailbox)
        except NotFound:
            return "NO [TRYCREATE] The folder does not exist; create it first"  # §6.3.12
        if any(not m.message for m in cmd.messages):
            return "NO An empty message cannot be appended"
        if any(m.utf8 for m in cmd.messages) and not (self.utf8 or self.rev2):
            # RFC 6855 §4: the UTF8 data item is for clients that enabled UTF8=ACCEPT.
            return "BAD Use ENABLE UTF8=ACCEPT before APPEND with UTF8"
        # RFC 3502: every message is stored, or none (one transaction); quota and
        # the folder are checked for all of them together.
        appended = await self.store.messages.append_many(folder.id, [NewMessage(
            m.message, frozenset(f for f in m.flags if f.lower() != "\\recent"),
            int(m.date.timestamp()) if m.date is not None else None) for m in cmd.messages])
        # RFC 4315 §3: APPENDUID uidvalidity uid-set (a set for MULTIAPPEND)
        uids = R.sequence_set(a.uid for a in appended)
        return f"OK [APPENDUID {appended[0].uidvalidity} {uids}] APPEND completed"

    async def cmd_idle(self, cmd: C.Command) -> str | None:
        # RFC 2177 / RFC 9051 §6.3.13: push changes until the client says DONE.
        waiter = None
        if self.selected is not None:
            waiter = self.store.events.subscribe(self.selected.folder_id)
        try:
            if self.selected is not None:
                await self.sync(allow_expunge=True)
            self.send(b"+ idling\r\n")
            await self.flush()
            reading = asyncio.ensure_future(self._readline())
            try:
                while True:
                    waits = {reading}
                    woken = None
                    if waiter is not None and self.selected is not None:
                        woken = asyncio.ensure_future(waiter.wait())
                        waits.add(woken)
                    done, _ = await asyncio.wait(waits, timeout=IDLE_TIMEOUT,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if woken is not None and woken not in done:
                        woken.cancel()
                    if not done:
                        self.untagged("BYE Autologout; idle for too long")
                        raise Disconnect("idle timeout")
                    if woken is not None and woken in done and self.selected is not None:
                        await self.sync(allow_expunge=True)
                        await self.flush()
                        if self.ending:  # the selected mailbox went away: BYE was sent
                            raise Disconnect("selected mailbox deleted")
                    if reading in done:
                        line = reading.result()
                        if line.strip().upper() == b"DONE":
                            return "OK IDLE terminated"
                        return "BAD Expected DONE to end IDLE"
            finally:
                if not reading.done():
                    reading.cancel()
                    with contextlib.suppress(BaseException):
                        await reading
        except LineTooLong:
            return "BAD Expected DONE to end IDLE"
        finally:
            if waiter is not None:
                waiter.close()

    # --- selected -------------------------------------------------------------------------------
    async def cmd_check(self, cmd: C.Command) -> str:
        return "OK CHECK completed"

    async def cmd_close(self, cmd: C.Command) -> str:
        selected = self.selected
        self.selected = None
        if not selected.readonly:
            # RFC 9051 §6.4.1: silently expunge \Deleted messages.
            await self.store.messages.expunge(selected.folder_id)
        return "OK CLOSE completed"

    async def cmd_unselect(self, cmd: C.Command) -> str:
        self.selected = None
        return "OK UNSELECT completed"

    async def cmd_expunge(self, cmd: C.Command) -> str:
        return await self._expunge(None)

    async def cmd_uid_expunge(self, cmd: C.UidExpunge) -> str:
        return await self._expunge(self.selected.resolve(cmd.messages, True))

    async def _expunge(self, uids: list[int] | None) -> str:
        sel = self.selected
        if sel.readonly:
            return "NO [READ-ONLY] The mailbox is read-only"
        removed = await self.store.messages.expunge(sel.folder_id, uids)
        self._announce_expunged(removed)
        return "OK EXPUNGE completed"

    def _announce_expunged(self, uids: Sequence[int]) -> None:
        sel = self.selected
        if self.qresync:
            # RFC 7162 §3.2.10: once QRESYNC is enabled, VANISHED replaces EXPUNGE.
            gone = [u for u in uids if sel.expunge(u) is not None]
            if gone:
                self.untagged("VANISHED " + R.sequence_set(gone))
            return
        for uid in sorted(uids, reverse=True):
            seq = sel.expunge(uid)
            if seq is not None:
                self.untagged(f"{seq} EXPUNGE")

    async def cmd_fetch(self, cmd: C.Fetch) -> str:
        sel = self.selected
        if cmd.vanished and (not self.qresync or cmd.changed_since is None):
            # RFC 7162 §3.2.6: VANISHED needs QRESYNC enabled and CHANGEDSINCE.
            return "BAD The VANISHED modifier needs ENABLE QRESYNC and CHANGEDSINCE"
        uids = sel.resolve(cmd.messages, cmd.uid)
        if cmd.vanished:
            # RFC 7162 §3.2.6: expunged UIDs of the set, changed since, before the FETCHes.
            changes = await self.store.messages.changes_since(sel.folder_id, cmd.changed_since)
            gone = [u for u in changes.expunged
                    if sel.seq_of(u) is None and _in_set(u, cmd.messages, sel)]
            if gone:
                self.untagged("VANISHED (EARLIER) " + R.sequence_set(gone))
        items = list(cmd.items)
        set_seen = FETCH.sets_seen(items) and not sel.readonly
        if set_seen:
            # RFC 9051 §6.4.5: reading a body sets \Seen; FLAGS is then returned too.
            changes = await self.store.messages.store_flags(sel.folder_id, uids, ["\\Seen"])
            sel.own.update((c.uid, c.modseq) for c in changes)
            if not any(i.name == "FLAGS" for i in items):
                items.append(C.FetchItem("FLAGS"))
        contents = FETCH.needs_contents(items)
        blob = FETCH.needs_blob(items)
        modseq = self.condstore
        recent = self.recent
        changed_since = cmd.changed_since
        if changed_since is not None:
            self.condstore = modseq = True
        if FETCH.flags_only(items):
            # UID/FLAGS/MODSEQ only (a client resynchronising a whole folder): plain rows
            # of four columns, each batch rendered into one bytes.
            template = FETCH.flags_template(items, modseq)
            async for batch in self.store.messages.flag_rows(sel.folder_id, uids):
                self.send(FETCH.render_flags(batch, sel.uids, template, recent,
                                             changed_since))
                await self.maybe_flush()
            return f"OK {'UID ' if cmd.uid else ''}FETCH completed"
        async for rows in self.store.messages.fetch_rows(sel.folder_id, uids, contents):
            for row in rows:
                if changed_since is not None and row.modseq <= changed_since:
                    continue
                seq = sel.seq_of(row.uid)
                if seq is None:
                    continue
                self.send(FETCH.render(seq, row, items, _blob_reader(self, row) if blob
                                       else _no_blob, modseq, recent))
                if blob:
                    await self.maybe_flush()  # bodies: never hold more than ~FLUSH_AT
            await self.maybe_flush()
        return f"OK {'UID ' if cmd.uid else ''}FETCH completed"

    async def cmd_store(self, cmd: C.Store) -> str:
        sel = self.selected
        if sel.readonly:
            return "NO [READ-ONLY] The mailbox is read-only"
        uids = sel.resolve(cmd.messages, cmd.uid)
        if cmd.unchanged_since is not None:
            self.condstore = True
        flags = [f for f in cmd.flags if f.lower() != "\\recent"]
        changes = await self.store.messages.store_flags(
            sel.folder_id, uids, flags, cmd.mode, cmd.unchanged_since)
        sel.own.update((c.uid, c.modseq) for c in changes)
        changed = {c.uid for c in changes}
        modified: list[int] = []
        report = not cmd.silent
        if report or cmd.unchanged_since is not None:
            async for rows in self.store.messages.fetch_rows(sel.folder_id, uids):
                for row in rows:
                    if (cmd.unchanged_since is not None and row.uid not in changed
                            and row.modseq > cmd.unchanged_since):
                        modified.append(row.uid)  # RFC 7162 §3.1.3: failed the condition
                        continue
                    seq = sel.seq_of(row.uid)
                    if seq is None or (cmd.silent and row.uid not in changed):
                        continue
                    if cmd.silent and not self.condstore:
                        continue
                    parts = [] if cmd.silent else [b"FLAGS " + R.flag_list(
                        row.flags, row.keywords, row.uid in self.recent)]
                    if cmd.uid:
                        parts.insert(0, f"UID {row.uid}".encode())
                    if self.condstore:
                        parts.append(f"MODSEQ ({row.modseq})".encode())
                    self.send(f"* {seq} FETCH (".encode() + b" ".join(parts) + b")\r\n")
                await self.maybe_flush()
        if modified:
            numbers = modified if cmd.uid else [sel.seq_of(u) for u in modified]
            return f"OK [MODIFIED {R.sequence_set(numbers)}] Conditional STORE failed for some"
        return f"OK {'UID ' if cmd.uid else ''}STORE completed"

    async def cmd_search(self, cmd: C.Search) -> str:
        sel = self.selected
        if cmd.charset not in (None, "UTF-8", "US-ASCII"):
            return "NO [BADCHARSET (UTF-8 US-ASCII)] Only UTF-8 and US-ASCII are supported"
        criteria = self._resolve_criteria(cmd.criteria)
        hits = await self.store.search.folder(sel.folder_id, criteria)
        present = [u for u in hits if sel.seq_of(u) is not None]
        numbers = present if cmd.uid else [sel.seq_of(u) for u in present]
        uses_modseq = _uses_modseq(cmd.criteria)
        highest = 0
        if uses_modseq and present:
            self.condstore = True
            async for rows in self.store.messages.fetch_rows(sel.folder_id, present):
                highest = max([highest, *(r.modseq for r in rows)])
        returns = cmd.returns
        if returns is None and self.rev2:
            returns = ("ALL",)  # RFC 9051 §6.4.4: IMAP4rev2 answers SEARCH with ESEARCH
        if returns is None:
            text = "SEARCH" + "".join(f" {n}" for n in numbers)
            if uses_modseq and numbers:
                text += f" (MODSEQ {highest})"
            self.untagged(text)
        else:
            options = set(returns) or {"ALL"}
            if "SAVE" in options:
                sel.saved = present  # RFC 5182
                options.discard("SAVE")
                if not (set(returns) - {"SAVE"}):
                    options = set()
            parts = _esearch(cmd.tag, cmd.uid, numbers, options, R.sequence_set)
            if uses_modseq and numbers:
                parts.append(f"MODSEQ {highest}")
            if options or not returns:
                self.untagged("ESEARCH " + " ".join(parts))
        return f"OK {'UID ' if cmd.uid else ''}SEARCH completed"

    async def _matching(self, charset: str | None, criteria: object) -> list[int] | str:
        """UIDs in this session's view matching SEARCH criteria, or a NO answer."""
        if charset not in (None, "UTF-8", "US-ASCII"):
            return "NO [BADCHARSET (UTF-8 US-ASCII)] Only UTF-8 and US-ASCII are supported"
        hits = await self.store.search.folder(self.selected.folder_id,
                                              self._resolve_criteria(criteria))
        return [u for u in hits if self.selected.seq_of(u) is not None]

    async def cmd_sort(self, cmd: C.Sort) -> str:
        # RFC 5256 §3: the matching messages in the order the sort criteria give.
        sel = self.selected
        present = await self._matching(cmd.charset, cmd.criteria)
        if isinstance(present, str):
            return present
        rows = await self.store.messages.sort_fields(sel.folder_id, present)
        keys = [sorting.SortKey(name, reverse) for name, reverse in cmd.keys]
        to_displays = None
        if any(k.name == sorting.DISPLAYTO for k in keys):
            to_displays = await self.store.messages.to_displays(sel.folder_id, present)
        ordered = sorting.sort_uids(rows, keys, to_displays)
        numbers = ordered if cmd.uid else [sel.seq_of(u) for u in ordered]
        if cmd.returns is None:
            self.untagged("SORT" + "".join(f" {n}" for n in numbers))  # RFC 5256 §4
        else:
            # RFC 5267 §3.2: ESEARCH in sort order; MIN and MAX are the first and the last
            # in that order; RETURN () means ALL. ALL lists the numbers one by one (commas),
            # since a range would say ascending order.
            options = set(cmd.returns) or {"ALL"}
            parts = _esearch(cmd.tag, cmd.uid, numbers, options,
                             lambda ns: ",".join(str(n) for n in ns))
            self.untagged("ESEARCH " + " ".join(parts))
        return f"OK {'UID ' if cmd.uid else ''}SORT completed"

    async def cmd_thread(self, cmd: C.Thread) -> str:
        # RFC 5256 §3: threads of the matching messages; UIDs with UID THREAD.
        sel = self.selected
        present = await self._matching(cmd.charset, cmd.criteria)
        if isinstance(present, str):
            return present
        rows = await self.store.messages.sort_fields(sel.folder_id, present)
        if cmd.algorithm == "ORDEREDSUBJECT":
            found = threads.ordered_subject(rows)
        else:
            found = threads.references(rows)
        number = None if cmd.uid else {r.uid: sel.seq_of(r.uid) for r in rows}
        self.untagged("THREAD " + threads.render(found, number))  # RFC 5256 §4
        return f"OK {'UID ' if cmd.uid else ''}THREAD completed"

    def _resolve_criteria(self, node: object) -> S.Criterion:
        """SeqKey/UidKey leaves to UID ranges of this session's view."""
        sel = self.selected
        match node:
            case C.SeqKey(numbers):
                return S.Uids(R.ranges(sel.resolve(numbers, False)))
            case C.UidKey(uids):
                return S.Uids(R.ranges(sel.resolve(uids, True)))
            case C.RecentKey():
                return S.Uids(R.ranges(sorted(sel.recent)))
            case S.And(items):
                return S.And(tuple(self._resolve_criteria(i) for i in items))
            case S.Or(left, right):
                return S.Or(self._resolve_criteria(left), self._resolve_criteria(right))
            case S.Not(item):
                return S.Not(self._resolve_criteria(item))
        return node

    async def cmd_copy(self, cmd: C.CopyMove) -> str:
        sel = self.selected
        uids = sel.resolve(cmd.messages, cmd.uid)
        try:
            target = await self.folder(cmd.mailbox)
        except NotFound:
            return "NO [TRYCREATE] The target folder does not exist"  # RFC 9051 §6.4.7
        move = cmd.name == "MOVE"
        if move and sel.readonly:
            return "NO [READ-ONLY] The mailbox is read-only"
        if not uids:
            return f"OK {cmd.name} completed: nothing to do"
        if move:
            pairs = await self.store.messages.move(sel.folder_id, uids, target.id)
        else:
            pairs = await self.store.messages.copy(sel.folder_id, uids, target.id)
        if not pairs:
            return f"OK {cmd.name} completed: the messages were already gone"
        code = (f"COPYUID {target.uidvalidity} {R.sequence_set(s for s, _ in pairs)} "
                f"{R.sequence_set(d for _, d in pairs)}")  # RFC 4315 §3
        if move:
            # RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
            self.untagged(f"OK [{code}] Moved")
            self._announce_expunged([s for s, _ in pairs])
            return f"OK {cmd.name} completed"
        return f"OK [{code}] {cmd.name} completed"

    cmd_move = cmd_copy

    # --- updates from other sessions -------------------------------------------------------------
    async def sync(self, allow_expunge: bool) -> None:
        """Report what changed in the selected folder since we last looked (RFC 9051 §5.2)."""
        sel = self.selected
        try:
            changes = await self.store.messages.changes_since(sel.folder_id, sel.modseq)
        except NotFound:
            self.selected = None
            self.untagged("BYE The selected mailbox was deleted")  # RFC 9051 §7.1.5
            self.ending = True
            return
        sel.modseq = changes.highestmodseq
        for uid in changes.expunged:
            if sel.seq_of(uid) is not None:
                sel.pending_expunge.add(uid)
        if allow_expunge and sel.pending_expunge:
            self._announce_expunged(sorted(sel.pending_expunge))
        new = [c.uid for c in changes.changed
               if sel.seq_of(c.uid) is None and c.uid not in changes.expunged]
        if new:
            new.sort()
            sel.add(new)
            self.untagged(f"{sel.exists} EXISTS")
            await self._take_recent(new)
            if not self.rev2:
                self.untagged(f"{len(sel.recent)} RECENT")  # RFC 3501 §7.3.2
        fresh = set(new)
        for c in changes.changed:
            if c.uid in fresh or c.uid in sel.pending_expunge or (c.uid, c.modseq) in sel.own:
                continue
            seq = sel.seq_of(c.uid)
            if seq is None:
                continue
            modseq = f" MODSEQ ({c.modseq})" if self.condstore else ""
            self.send(f"* {seq} FETCH (UID {c.uid} FLAGS ".encode()
                      + R.flag_list(c.flags, c.keywords, c.uid in self.recent)
                      + f"{modseq})\r\n".encode())
        sel.own = {(u, m) for u, m in sel.own if m > changes.highestmodseq}


def _in_set(uid: int, uids: C.SequenceSet, sel: Selected | None = None) -> bool:
    """Whether a UID set names ``uid``, expunged UIDs included: ``*`` stands for any
    UID above (RFC 9051 §9); ``$`` is the session's saved result (RFC 5182)."""
    if uids.saved:
        return sel is not None and uid in sel.saved
    return any(low <= uid <= high for low, high in uids.resolve(0xFFFFFFFF))


def _kib(octets: int) -> int:
    """Octets in 1024-octet units, rounded up (RFC 9208 §5.1 STORAGE)."""
    return (octets + 1023) // 1024


def _no_blob() -> bytes:
    return b""


def _blob_reader(session: Session, row: FetchRow) -> Callable[[], bytes]:
    """Reads the message's blob at most once, and only if an item asks for it."""
    cache: list[bytes] = []

    def read() -> bytes:
        if not cache:
            cache.append(session.store.messages.read_raw(row.sha256))
        return cache[0]
    return read


def _uses_modseq(node: object) -> bool:
    match node:
        case S.ModSeq():
            return True
        case S.And(items):
            return any(_uses_modseq(i) for i in items)
        case S.Or(left, right):
            return _uses_modseq(left) or _uses_modseq(right)
        case S.Not(item):
            return _uses_modseq(item)
    return False


def _list_attributes(name: str, folder: FolderInfo | None, names: set[str],
                     subscribed: bool) -> list[str]:
    """A mailbox's attributes as LIST (and SELECT's LIST response) report them.

    ``names`` holds every mailbox name; ``subscribed`` asks for ``\\Subscribed``.
    """
    attrs = [] if folder is not None else ["\\NonExistent"]
    has_children = any(n.startswith(name + DELIMITER) for n in names)
    attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")  # RFC 9051 §7.3.1
    if folder is not None and subscribed and folder.subscribed:
        attrs.append("\\Subscribed")
    if folder is not None and folder.special_use:
        attrs.append(folder.special_use)  # RFC 6154 §2
    return attrs


def _pattern(pattern: str) -> re.Pattern[str]:
    """RFC 9051 §6.3.9: ``*`` matches anything, ``%`` anything but the delimiter."""
    head = pattern[:5]
    if head.upper() == "INBOX" and pattern[5:6] in ("", DELIMITER):
        pattern = "INBOX" + pattern[5:]  # RFC 9051 §5.1: INBOX is case-insensitive
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.S)


def _esearch(tag: str, uid: bool, numbers: list[int], options: set[str],
             render_all: Callable[[list[int]], str]) -> list[str]:
    """RFC 4731 §3.1 ESEARCH result items (MIN, MAX, ALL, COUNT) for the requested options;
    ``render_all`` writes the ALL list (a sequence set, or SORT's order-keeping commas)."""
    parts = [f'(TAG "{tag}")'] + (["UID"] if uid else [])
    if numbers:
        if "MIN" in options:
            parts.append(f"MIN {numbers[0]}")
        if "MAX" in options:
            parts.append(f"MAX {numbers[-1]}")
        if "ALL" in options:
            parts.append(f"ALL {render_all(numbers)}")
    if "COUNT" in options:
        parts.append(f"COUNT {len(numbers)}")
    return parts



_ANY_STATE = {"CAPABILITY", "NOOP", "LOGOUT", "ID"}
_NOT_AUTH = {"STARTTLS", "LOGIN", "AUTHENTICATE"}
_AUTH = {"ENABLE", "COMPRESS", "NAMESPACE", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME",
         "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "STATUS", "APPEND", "IDLE", "GETQUOTA",
         "GETQUOTAROOT", "SETQUOTA"}
_SELECTED = {"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE", "FETCH", "STORE", "SEARCH",
             "COPY", "MOVE", "SORT", "THREAD"}
# After these, nothing is synchronised (the mailbox was just (re)opened or closed).
_NO_SYNC = {"SELECT", "EXAMINE", "CLOSE", "UNSELECT", "LOGOUT", "IDLE"}
# RFC 9051 §7.5.1: no EXPUNGE response while answering FETCH, STORE or SEARCH.
# SORT and THREAD (RFC 5256) answer with sequence numbers like SEARCH, so the same rule.
_NO_EXPUNGE = {"FETCH", "STORE", "SEARCH", "SORT", "THREAD"}

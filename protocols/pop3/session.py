"""One POP3 connection: framing, the three states of RFC 1939 and every command.

Implementation notes (invariants a maintainer must keep):
- The session owns the socket; the grammar (``parser.py``) is pure; the store owns truth.
  The session never touches SQL: it calls ``Store`` operations only.
- States (RFC 1939 §3): AUTHORIZATION until a login succeeds and the maildrop is locked,
  TRANSACTION with a ``Maildrop`` snapshot, UPDATE only inside QUIT. A connection that
  ends any other way (dropped, timed out, server shutdown) changes nothing in the store.
- UPDATE: the DELE-marked messages are removed in one store transaction (per 10,000)
  (``Messages.delete_rows``, the same expunge that IMAP uses: it writes the tombstones and
  fires ``store.events``, so IMAP IDLE sessions and webmail see the EXPUNGE), then retrieved
  messages get \\Seen in one more (Dovecot sets \\Seen for RETR, and commits it at QUIT
  too). The client gets +OK once that is committed; the blob files of removed messages are
  unlinked after the connection is closed and the maildrop lock released.
- One session per maildrop: the server keeps the account ids in use; the lock is taken
  after the password check and released when the session ends, however it ends.
- Logins are secure only over TLS or from loopback (as in Dovecot); elsewhere CAPA hides
  USER and SASL, and USER/PASS/AUTH are refused with [AUTH] until STLS (RFC 2595 §2).
  Failures wait ``failure_delay`` and count in ``store.logins`` (shared by every front door).
- Framing: lines longer than ``MAX_LINE`` are discarded as they arrive, never buffered
  whole. Every read waits at most ``idle_timeout`` (RFC 1939 §3: at least 10 minutes);
  every write too. Answers are buffered and written once no pipelined command is waiting
  (RFC 2449 PIPELINING), or when ``FLUSH_AT`` octets are pending.
- RETR streams the blob in ``CHUNK`` pieces through a ``Stuffer`` (dot-stuffing, CRLF).
- No traceback reaches the client: anything unexpected is logged and answered
  ``-ERR [SYS/TEMP]``; a parser failure is answered and the session goes on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import ssl
from typing import TYPE_CHECKING

from mailstore.errors import StoreError
from protocols.listener import Peer
from protocols.pop3 import parser as P
from protocols.pop3.maildrop import Entry, Maildrop, NoSuchMessage

if TYPE_CHECKING:
    from protocols.pop3.server import Pop3Server

log = logging.getLogger("tidings.pop3")

MAX_LINE = 4096  # RFC 2449 §4 allows 255 octets; SASL responses may be longer
IDLE_TIMEOUT = 10 * 60  # RFC 1939 §3: an autologout timer is at least 10 minutes
CHUNK = 256 * 1024
FLUSH_AT = 256 * 1024
DELETE_BATCH = 10_000  # UIDs per expunge transaction at QUIT (bound-parameter limits)

_AUTHORIZATION = {"CAPA", "QUIT", "STLS", "USER", "PASS", "AUTH"}
_TRANSACTION = {"CAPA", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"}


class Disconnect(Exception):
    """The connection must end (client gone, QUIT, timeout, protocol violation)."""


class LineTooLong(Exception):
    pass


class Session:
    def __init__(
        self, server: Pop3Server, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter, tls: bool,
    ) -> None:
        self.server = server
        self.store = server.store
        self.reader = reader
        self.writer = writer
        self.tls = tls
        peer = Peer.of(writer)
        self.peer, self.peer_ip, self.loopback = peer.text, peer.ip, peer.loopback
        self.user: str | None = None  # USER given, PASS expected next
        self.account_id: int | None = None  # holds the maildrop lock when set
        self.maildrop: Maildrop | None = None
        self.out: list[bytes] = []
        self.out_size = 0
        self.ending = False
        self.released: list[int] = []  # contents QUIT left unreferenced; see collect_garbage

    # --- I/O -------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.out.append(data)
        self.out_size += len(data)

    async def flush(self) -> None:
        if self.out:
            data = b"".join(self.out) if len(self.out) > 1 else self.out[0]
            self.out.clear()
            self.out_size = 0
            self.writer.write(data)
            try:
                await asyncio.wait_for(self.writer.drain(), self.server.idle_timeout)
            except TimeoutError:
                raise Disconnect("the client stopped reading") from None

    def _pipelined(self) -> bool:
        """Whether another whole command is already waiting in the read buffer."""
        return b"\n" in getattr(self.reader, "_buffer", b"")

    @property
    def secure(self) -> bool:
        """TLS, or loopback (counted as secure, as Dovecot does)."""
        return self.tls or (self.loopback and self.server.loopback_is_secure)

    async def _readline(self) -> bytes:
        """One line up to LF, at most MAX_LINE octets; longer lines are discarded."""
        try:
            return await asyncio.wait_for(self.reader.readuntil(b"\n"),
                                          self.server.idle_timeout)
        except asyncio.IncompleteReadError as exc:
            raise Disconnect("client closed the connection") from exc
        except asyncio.LimitOverrunError as exc:
            await self._discard(exc.consumed)
            raise LineTooLong() from None
        except TimeoutError:
            self.send(P.err("Autologout; idle for too long"))
            await self.flush()
            raise Disconnect("timeout") from None

    async def _discard(self, consumed: int) -> None:
        """Drop an over-long line piece by piece, without keeping it."""
        await self.reader.readexactly(min(consumed, MAX_LINE) or 1)
        while True:
            try:
                await asyncio.wait_for(self.reader.readuntil(b"\n"), self.server.idle_timeout)
                return
            except asyncio.LimitOverrunError as more:
                await self.reader.readexactly(more.consumed or 1)
            except (asyncio.IncompleteReadError, TimeoutError):
                raise Disconnect("client closed the connection") from None

    # --- main loop ---------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            self.send(P.ok(f"{self.server.hostname} Tidings POP3 server ready"))
            await self.flush()
            while not self.ending:
                try:
                    line = await self._readline()
                except LineTooLong:
                    self.send(P.err(f"line too long (limit {MAX_LINE} octets)"))
                    await self.flush()
                    continue
                await self.execute(line)
                if not self._pipelined() or self.out_size >= FLUSH_AT or self.ending:
                    await self.flush()
        except (Disconnect, ConnectionError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self.writer.write(P.err("[SYS/TEMP] server shutting down; nothing was deleted"))
            raise
        finally:
            self.server.release(self.account_id)
            self.account_id = None
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2)
            await self.collect_garbage()

    async def execute(self, line: bytes) -> None:
        try:
            command = P.parse_command(line)
        except P.ParseError as exc:
            self.user = None
            self.send(P.err(str(exc)))
            return
        except Exception:  # a parser bug must not cost the client its connection
            log.exception("POP3 parser failed on input from %s", self.peer)
            self.send(P.err("command not understood"))
            return
        name = command.name
        if name != "PASS":
            self.user = None  # RFC 1939 §7: USER is answered by PASS (or QUIT) only
        allowed = _TRANSACTION if self.maildrop is not None else _AUTHORIZATION
        if name not in allowed:
            reason = "log in first" if self.maildrop is None else "already logged in"
            self.send(P.err(f"{name} is not allowed now: {reason}"))
            return
        handler = getattr(self, "cmd_" + name.lower())
        try:
            await handler(command)
        except NoSuchMessage as exc:
            self.send(P.err(str(exc)))
        except (Disconnect, ConnectionError, asyncio.CancelledError, ssl.SSLError):
            raise
        except Exception:
            log.exception("POP3 %s from %s failed", name, self.peer)
            self.send(P.err("[SYS/TEMP] internal error; the problem was logged"))

    # --- any state ---------------------------------------------------------------------------
    def capabilities(self) -> list[str]:
        """RFC 2449 §6 capabilities; USER and SASL only where a login is allowed."""
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.maildrop is None:
            if self.secure:
                caps += ["USER", "SASL PLAIN"]
            if not self.tls and self.server.tls_context is not None:
                caps.append("STLS")  # RFC 2595 §4
        caps.append("IMPLEMENTATION Tidings")
        return caps

    async def cmd_capa(self, cmd: P.Command) -> None:
        self.send(P.multiline("Capability list follows", self.capabilities()))

    async def cmd_quit(self, cmd: P.Command) -> None:
        self.ending = True
        if self.maildrop is None:
            self.send(P.ok(f"{self.server.hostname} Tidings POP3 server signing off"))
            return
        await self.update()

    # --- AUTHORIZATION ---------------------------------------------------------------------------
    async def cmd_stls(self, cmd: P.Command) -> None:
        if self.tls:
            self.send(P.err("TLS is already active"))
            return
        if self.server.tls_context is None:
            self.send(P.err("TLS is not configured on this server"))
            return
        # RFC 2595 §4 / RFC 3207 §4.2 reasoning: commands pipelined after STLS arrived in
        # cleartext; running them after the handshake would be a command injection.
        if getattr(self.reader, "_buffer", b""):
            self.send(P.err("data after STLS; the connection is closed"))
            self.ending = True
            return
        self.send(P.ok("Begin TLS negotiation now"))
        data = b"".join(self.out)
        self.out.clear()
        self.out_size = 0
        # No await between this write and start_tls (not even wait_for, which schedules a
        # task): the client's ClientHello must reach the TLS layer, not the plain reader.
        self.writer.write(data)
        await self.writer.start_tls(self.server.tls_context, ssl_handshake_timeout=60)
        self.tls = True

    async def cmd_user(self, cmd: P.Command) -> None:
        if not self.secure:
            self.send(P.err(_PLAINTEXT_REFUSED))
            return
        self.user = cmd.args[0]
        self.send(P.ok("send your password"))

    async def cmd_pass(self, cmd: P.Command) -> None:
        user, self.user = self.user, None
        if not self.secure:
            self.send(P.err(_PLAINTEXT_REFUSED))
            return
        if user is None:
            self.send(P.err("send USER before PASS"))
            return
        await self.login(user, cmd.args[0])

    async def cmd_auth(self, cmd: P.Command) -> None:
        if not cmd.args:
            # Before RFC 5034, clients sent a bare AUTH to list the mechanisms (RFC 1734).
            self.send(P.multiline("SASL mechanisms follow", ["PLAIN"] if self.secure else []))
            return
        if cmd.args[0] != "PLAIN":
            self.send(P.err(f"unsupported SASL mechanism {cmd.args[0][:20]}; use PLAIN"))
            return
        if not self.secure:
            self.send(P.err(_PLAINTEXT_REFUSED))
            return
        response = cmd.args[1] if len(cmd.args) > 1 else None
        if response is None:
            self.send(b"+ \r\n")  # RFC 5034 §4: an empty challenge
            await self.flush()
            try:
                line = await self._readline()
            except LineTooLong:
                self.send(P.err("SASL response too long; authentication cancelled"))
                return
            response = line.rstrip(b"\r\n").decode("ascii", "replace")
            if response == "*":
                self.send(P.err("authentication cancelled"))  # RFC 5034 §4
                return
        credentials = _plain(response)
        if credentials is None:
            self.send(P.err("AUTH PLAIN needs base64 of authzid NUL user NUL password"))
            return
        authzid, user, password = credentials
        if authzid and authzid.lower() != user.lower():
            self.send(P.err("[AUTH] logging in as another user is not allowed"))
            return
        await self.login(user, password)

    async def login(self, user: str, password: str) -> None:
        logins, ip = self.store.logins, self.peer_ip
        if logins.locked(ip):
            # Shared by every front door: failures over IMAP or SMTP count here too.
            self.send(P.err("[SYS/TEMP] too many failed logins from your address; "
                            "try again later"))
            return
        account = await self.store.accounts.authenticate(user, password)
        if account is None:
            logins.fail(ip)
            await asyncio.sleep(self.server.failure_delay)
            self.send(P.err("[AUTH] invalid user name or password"))
            return
        logins.succeed(ip)
        if not self.server.acquire(account.id):
            # RFC 2449 §8.1.2: another session holds the maildrop.
            self.send(P.err("[IN-USE] mailbox is in use by another POP3 session"))
            return
        self.account_id = account.id
        try:
            inbox = await self.store.folders.get(account.id, "INBOX")
            entries = [Entry(*row) for row in
                       await self.store.messages.sizes_and_blobs(inbox.id)]
        except BaseException:
            self.server.release(account.id)
            self.account_id = None
            raise
        self.maildrop = Maildrop(inbox.id, inbox.uidvalidity, entries)
        count, octets = self.maildrop.stat()
        self.send(P.ok(f"Logged in; {count} messages ({octets} octets)"))

    # --- TRANSACTION ---------------------------------------------------------------------------
    async def cmd_stat(self, cmd: P.Command) -> None:
        count, octets = self.maildrop.stat()
        self.send(P.ok(f"{count} {octets}"))  # RFC 1939 §5: exactly "+OK nn mm"

    async def cmd_list(self, cmd: P.Command) -> None:
        md = self.maildrop
        if cmd.number is not None:
            self.send(P.ok(f"{cmd.number} {md.entry(cmd.number).size}"))
            return
        count, octets = md.stat()
        self.send(P.multiline(f"{count} messages ({octets} octets)",
                              [f"{n} {e.size}" for n, e in md.live()]))

    async def cmd_uidl(self, cmd: P.Command) -> None:
        md = self.maildrop
        if cmd.number is not None:
            self.send(P.ok(f"{cmd.number} {md.uidl(cmd.number)}"))
            return
        self.send(P.multiline("unique-id listing follows",
                              [f"{n} {md.uidvalidity}.{e.uid}" for n, e in md.live()]))

    async def cmd_retr(self, cmd: P.Command) -> None:
        number = cmd.number
        entry = self.maildrop.entry(number)
        stream = self._open(number, entry)
        if stream is None:
            return
        with stream:
            stuffer = P.Stuffer()
            chunk = stream.read(CHUNK)
            self.send(P.ok(f"{entry.size} octets"))
            while True:
                self.send(stuffer.feed(chunk))
                if len(chunk) < CHUNK:
                    break
                if self.out_size >= FLUSH_AT:
                    await self.flush()
                chunk = stream.read(CHUNK)
            self.send(stuffer.finish())
        self.maildrop.retrieved.add(number)

    async def cmd_top(self, cmd: P.Command) -> None:
        number, lines = cmd.number, int(cmd.args[1])
        entry = self.maildrop.entry(number)
        stream = self._open(number, entry)
        if stream is None:
            return
        with stream:
            raw = stream.read()
        self.send(P.ok("top of message follows") + P.stuff(P.top(raw, lines)))

    def _open(self, number: int, entry: Entry):  # -> BinaryIO | None
        try:
            return self.store.messages.open_raw(entry.sha256)
        except FileNotFoundError:
            # The blob goes only when no folder holds the message: it was expunged since.
            self.send(P.err(f"message {number} was removed by another session"))
            return None

    async def cmd_dele(self, cmd: P.Command) -> None:
        self.maildrop.delete(cmd.number)
        self.send(P.ok(f"message {cmd.number} deleted"))

    async def cmd_rset(self, cmd: P.Command) -> None:
        self.maildrop.reset()
        count, octets = self.maildrop.stat()
        self.send(P.ok(f"maildrop has {count} messages ({octets} octets)"))

    async def cmd_noop(self, cmd: P.Command) -> None:
        self.send(P.ok("nothing to do"))

    # --- UPDATE --------------------------------------------------------------------------------
    async def update(self) -> None:
        """RFC 1939 §6: remove the marked messages, then say goodbye."""
        md = self.maildrop
        removed: list[int] = []
        try:
            uids = md.deleted_uids()
            for start in range(0, len(uids), DELETE_BATCH):
                done, released = await self.store.messages.delete_rows(
                    md.folder_id, uids[start:start + DELETE_BATCH])
                removed += done
                self.released += released
        except Exception as exc:
            if isinstance(exc, StoreError):
                log.warning("POP3 QUIT for %s could not delete: %s", self.peer, exc)
            else:
                log.exception("POP3 QUIT for %s failed", self.peer)
            self.send(P.err(f"[SYS/TEMP] some deleted messages were not removed "
                            f"({len(removed)} of {len(md.deleted)} were)"))
            return
        try:
            seen = md.seen_uids()
            if seen:
                await self.store.messages.store_flags(md.folder_id, seen, ["\\Seen"])
        except Exception:  # the deletions are done; a missed \Seen is not worth an -ERR
            log.exception("POP3 QUIT for %s could not set \\Seen", self.peer)
        self.send(P.ok(f"{self.server.hostname} signing off ({len(removed)} messages "
                       f"deleted)"))

    async def collect_garbage(self) -> None:
        """Unlink the blobs that QUIT left unreferenced, after the client has its answer and
        the maildrop lock is free (thousands of unlinks take seconds on a busy disk)."""
        released, self.released = self.released, []
        if released:
            try:
                await self.store.messages.collect_garbage(released)
            except Exception:
                log.exception("POP3 blob clean-up after QUIT for %s failed", self.peer)


_PLAINTEXT_REFUSED = ("[AUTH] plaintext authentication is not allowed on an unencrypted "
                      "connection; use STLS first (or port 995)")


def _plain(response: str) -> tuple[str, str, str] | None:
    """RFC 4616 PLAIN: base64 of authzid NUL authcid NUL password ("=" is empty)."""
    try:
        decoded = b"" if response == "=" else base64.b64decode(response, validate=True)
        authzid, user, password = decoded.decode("utf-8").split("\0")
    except (binascii.Error, ValueError):
        return None
    return authzid, user, password


"""Downloading from an ISP's IMAP folder with aioimaplib (RFC 3501).

Implementation notes:
- A message is known by UIDVALIDITY and UID (RFC 3501 §2.3.1.1): when the ISP changes the
  folder's UIDVALIDITY every message looks new (the delivery's Message-ID duplicate guard
  then keeps the mailboxes from getting second copies).
- Bodies are fetched with BODY.PEEK[] so the ISP's \\Seen flag is untouched (a person who
  also reads the ISP mailbox still sees what is new), in UID ranges of ``CHUNK`` messages
  (the listing likewise, by sequence numbers).
- STARTTLS: aioimaplib knows the command but not the upgrade; after the tagged OK the
  connection's transport is wrapped with ``loop.start_tls`` and the capabilities are asked
  again (RFC 3501 §6.2.1).
- aioimaplib does not fail waiting commands when the connection drops: every command here
  races the connection-lost signal and the account's timeout, so a dropped or silent server
  is an error within ``timeout``, never a hang.
- Deleting: ``UID STORE +FLAGS.SILENT (\\Deleted)`` then ``UID EXPUNGE`` of exactly those UIDs
  when the server has UIDPLUS; without UIDPLUS a plain EXPUNGE (which also removes messages
  someone else marked \\Deleted in that folder).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import aioimaplib

from protocols.collector.connection import connect_protocol, tls_failure
from protocols.collector.errors import (
    ConnectionDropped,
    LoginRefused,
    ProtocolError,
    TlsError,
)
from protocols.collector.errors import Timeout as TimeoutErr

# aioimaplib parses a network read recursively, one level per response line: keep each
# answer to a few hundred lines (listing 5,000 UIDs at once overflows Python's stack).
CHUNK = 100
T = TypeVar("T")
_FETCH = re.compile(rb"^(\d+) FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_LITERAL_KEY = re.compile(rb"(BODY\[[^\]]*\](?:<\d+>)?) \{\d+\}$")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS")


@dataclass(slots=True)
class FetchItem:
    uid: int | None = None
    size: int | None = None
    sections: dict[str, bytes] = field(default_factory=dict)


def parse_fetch(lines: Sequence[bytes | bytearray]) -> list[FetchItem]:
    """aioimaplib's FETCH response lines → one item per message (pure).

    aioimaplib gives text lines as ``bytes`` and literals as ``bytearray``, in order:
    ``b'1 FETCH (UID 7 BODY[] {12}'``, ``bytearray(b'...')``, ``b')'``.
    """
    items: list[FetchItem] = []
    current: FetchItem | None = None
    pending_key: str | None = None
    for line in lines:
        if isinstance(line, bytearray):
            if current is not None and pending_key is not None:
                current.sections[pending_key] = bytes(line)
            pending_key = None
            continue
        if _FETCH.match(line):
            current = FetchItem()
            items.append(current)
        if current is None:
            continue
        if (m := _UID.search(line)) is not None:
            current.uid = int(m.group(1))
        if (m := _SIZE.search(line)) is not None:
            current.size = int(m.group(1))
        m = _LITERAL_KEY.search(line)
        pending_key = m.group(1).decode().replace(".PEEK", "") if m else None
    return items


def uid_set(uids: Iterable[int]) -> str:
    """Compact IMAP sequence set: 1,2,3,7 → ``1:3,7``."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


class ImapCollectorClient:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.where = f"{host}:{port}"
        self.timeout = timeout
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.protocol = aioimaplib.IMAP4ClientProtocol(
            asyncio.get_running_loop(), conn_lost_cb=self._connection_lost)

    def _connection_lost(self, _exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    @classmethod
    async def open(cls, host: str, port: int, tls: str, context: ssl.SSLContext,
                   timeout: float) -> ImapCollectorClient:
        client = cls(host, port, timeout)
        await connect_protocol(host, port, context if tls == "implicit" else None, timeout,
                               lambda: client.protocol)
        try:
            await client._call(client.protocol.wait("AUTH|NONAUTH"), "the greeting")
            if tls == "starttls":
                await client._starttls(context)
        except BaseException:
            client.close()
            raise
        return client

    async def _starttls(self, context: ssl.SSLContext) -> None:
        if "STARTTLS" not in self.protocol.capabilities:
            raise TlsError(f"{self.where} does not offer STARTTLS (use --tls implicit or "
                           "--tls none)")
        p = self.protocol
        response = await self._call(p.execute(aioimaplib.Command(
            "STARTTLS", p.new_tag(), loop=p.loop)), "STARTTLS")
        if response.result != "OK":
            raise TlsError(f"{self.where} refused STARTTLS: {_text(response)}")
        loop = asyncio.get_running_loop()
        try:
            p.transport = await asyncio.wait_for(loop.start_tls(
                p.transport, p, context, server_hostname=self.host,
                ssl_handshake_timeout=self.timeout), self.timeout)
        except ssl.SSLError as exc:
            raise tls_failure(self.where, exc) from exc
        except TimeoutError as exc:
            raise TimeoutErr(f"{self.where} did not answer within {self.timeout:g} s "
                             "(while negotiating TLS)") from exc
        except (ConnectionError, OSError) as exc:
            raise tls_failure(self.where, exc) from exc
        await self._call(p.capability(), "CAPABILITY")

    async def _call(self, awaitable: Awaitable[T], what: str) -> T:
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({task, self.lost}, timeout=self.timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            try:
                return task.result()
            except aioimaplib.CommandTimeout as exc:
                raise TimeoutErr(f"{self.where} did not answer within {self.timeout:g} s "
                                 f"(waiting for {what})") from exc
            except aioimaplib.Error as exc:
                raise ProtocolError(f"protocol error from {self.where} during {what}: {exc}"
                                    ) from exc
        task.cancel()
        if self.lost in done:
            raise ConnectionDropped(f"{self.where} closed the connection during {what}")
        raise TimeoutErr(f"{self.where} did not answer within {self.timeout:g} s "
                         f"(waiting for {what})")

    async def login(self, user: str, password: str) -> None:
        response = await self._call(self.protocol.login(user, password), "LOGIN")
        if response.result != "OK":
            raise LoginRefused(f"the ISP {self.host} refused the login of {user}: "
                               f"{response.result} {_text(response)}".rstrip())

    async def select(self, folder: str) -> tuple[int, int]:
        """(UIDVALIDITY, number of messages) of ``folder``, selected read-write."""
        response = await self._call(self.protocol.select(_quote(folder)), "SELECT")
        if response.result != "OK":
            raise ProtocolError(f"{self.where} cannot open folder {folder}: {_text(response)}")
        validity = exists = None
        for line in response.lines:
            if (m := _UIDVALIDITY.search(line)) is not None:
                validity = int(m.group(1))
            if (m := _EXISTS.match(line)) is not None:
                exists = int(m.group(1))
        if validity is None:
            raise ProtocolError(f"{self.where} gave no UIDVALIDITY for folder {folder}")
        return validity, exists or 0

    async def fetch(self, uids: str, items: str, what: str) -> list[FetchItem]:
        response = await self._call(self.protocol.uid("fetch", uids, items), what)
        if response.result != "OK":
            raise ProtocolError(f"{self.where} refused {what}: {_text(response)}")
        return parse_fetch(response.lines)

    async def sizes(self, exists: int) -> dict[int, int]:
        """UID → size of every message in the selected folder, by sequence-number ranges."""
        out: dict[int, int] = {}
        for start in range(1, exists + 1, CHUNK):
            end = min(start + CHUNK - 1, exists)
            response = await self._call(self.protocol.fetch(
                f"{start}:{end}", "(UID RFC822.SIZE)"), "FETCH (RFC822.SIZE)")
            if response.result != "OK":
                raise ProtocolError(f"{self.where} refused FETCH: {_text(response)}")
            out.update({i.uid: i.size or 0 for i in parse_fetch(response.lines)
                        if i.uid is not None})
        return out

    async def headers(self, uids: Sequence[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for start in range(0, len(uids), CHUNK):
            for item in await self.fetch(uid_set(uids[start:start + CHUNK]),
                                         "(UID BODY.PEEK[HEADER])", "UID FETCH (header)"):
                if item.uid is not None:
                    out[item.uid] = item.sections.get("BODY[HEADER]", b"")
        return out

    async def bodies(self, uids: Sequence[int]) -> AsyncIterator[tuple[int, bytes]]:
        """Each message's bytes, ``CHUNK`` messages per command."""
        for start in range(0, len(uids), CHUNK):
            wanted = uids[start:start + CHUNK]
            for item in await self.fetch(uid_set(wanted), "(UID BODY.PEEK[])",
                                         "UID FETCH (body)"):
                if item.uid is not None and "BODY[]" in item.sections:
                    yield item.uid, item.sections["BODY[]"]

    async def delete(self, uids: Sequence[int]) -> None:
        if not uids:
            return
        p = self.protocol
        for start in range(0, len(uids), CHUNK):
            chunk = uid_set(uids[start:start + CHUNK])
            response = await self._call(
                p.uid("store", chunk, "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
            if response.result != "OK":
                raise ProtocolError(f"{self.where} refused to mark messages deleted: "
                                    f"{_text(response)}")
            if "UIDPLUS" in p.capabilities:
                response = await self._call(p.uid("expunge", chunk), "UID EXPUNGE")
            else:
                response = await self._call(p.expunge(), "EXPUNGE")
            if response.result != "OK":
                raise ProtocolError(f"{self.where} refused EXPUNGE: {_text(response)}")

    async def logout(self) -> None:
        try:
            await self._call(self.protocol.logout(), "LOGOUT")
        finally:
            self.close()

    def close(self) -> None:
        transport = self.protocol.transport
        if transport is not None and not transport.is_closing():
            transport.close()


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(response: object) -> str:
    lines = [bytes(x) for x in getattr(response, "lines", []) if isinstance(x, bytes)]
    return (lines[-1] if lines else b"").decode("utf-8", "replace")[:200]

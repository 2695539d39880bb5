"""One interface over an ISP mailbox, whatever the protocol: list, headers, bodies, delete.

A message is named by a ``key`` that stays the same across sessions (the POP3 UIDL, or
``UIDVALIDITY:UID`` for IMAP) and by a ``handle`` valid in this session only (the POP3
message number, the IMAP UID).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from mailstore.collectors import CollectorAccount
from protocols.collector.connection import client_context
from protocols.collector.imapfetch import ImapCollectorClient
from protocols.collector.pop3client import Pop3Client


@dataclass(frozen=True, slots=True)
class Listed:
    handle: int
    key: str
    size: int


class Source(Protocol):
    description: str

    async def listing(self) -> list[Listed]: ...
    async def headers(self, handles: Sequence[int]) -> dict[int, bytes]: ...
    def bodies(self, handles: Sequence[int]) -> AsyncIterator[tuple[int, bytes | None]]: ...
    async def delete(self, handles: Sequence[int]) -> None: ...
    async def finish(self) -> None: ...
    def close(self) -> None: ...


async def open_source(account: CollectorAccount) -> Source:
    context = client_context(account.verify_tls)
    if account.protocol == "pop3":
        return await Pop3Source.open(account, context)
    return await ImapSource.open(account, context)


class Pop3Source:
    def __init__(self, client: Pop3Client) -> None:
        self.client = client
        self.description = "POP3" + (" pipelined" if client.pipelining else "")

    @classmethod
    async def open(cls, account: CollectorAccount, context: ssl.SSLContext) -> Pop3Source:
        client = await Pop3Client.open(account.host, account.port, account.tls, context,
                                       account.timeout)
        try:
            await client.login(account.username, account.password)
        except BaseException:
            client.close()
            raise
        return cls(client)

    async def listing(self) -> list[Listed]:
        uidl = await self.client.uidl()
        sizes = await self.client.sizes() if uidl else {}
        return [Listed(n, uid, sizes.get(n, 0)) for n, uid in sorted(uidl.items())]

    async def headers(self, handles: Sequence[int]) -> dict[int, bytes]:
        out = {}
        for n in handles:
            header = await self.client.top(n, 0)
            out[n] = header if header is not None else b""
        return out

    async def bodies(self, handles: Sequence[int]) -> AsyncIterator[tuple[int, bytes | None]]:
        async for n, response in self.client.retrieve(handles):
            # -ERR: gone meanwhile (another session, or the ISP's own expiry)
            yield n, response.body if response.ok else None

    async def delete(self, handles: Sequence[int]) -> None:
        await self.client.delete(handles)

    async def finish(self) -> None:
        await self.client.quit()

    def close(self) -> None:
        self.client.close()


class ImapSource:
    def __init__(self, client: ImapCollectorClient, validity: int, exists: int) -> None:
        self.client = client
        self.validity = validity
        self.exists = exists
        self.description = "IMAP"

    @classmethod
    async def open(cls, account: CollectorAccount, context: ssl.SSLContext) -> ImapSource:
        client = await ImapCollectorClient.open(account.host, account.port, account.tls,
                                                context, account.timeout)
        try:
            await client.login(account.username, account.password)
            validity, exists = await client.select(account.folder)
        except BaseException:
            client.close()
            raise
        return cls(client, validity, exists)

    async def listing(self) -> list[Listed]:
        if not self.exists:
            return []
        sizes = await self.client.sizes(self.exists)
        return [Listed(uid, f"{self.validity}:{uid}", size)
                for uid, size in sorted(sizes.items())]

    async def headers(self, handles: Sequence[int]) -> dict[int, bytes]:
        return await self.client.headers(list(handles))

    async def bodies(self, handles: Sequence[int]) -> AsyncIterator[tuple[int, bytes | None]]:
        got = set()
        async for uid, raw in self.client.bodies(list(handles)):
            got.add(uid)
            yield uid, raw
        for uid in handles:
            if uid not in got:
                yield uid, None

    async def delete(self, handles: Sequence[int]) -> None:
        await self.client.delete(list(handles))

    async def finish(self) -> None:
        await self.client.logout()

    def close(self) -> None:
        self.client.close()

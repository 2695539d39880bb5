"""A small POP3 client on asyncio streams (RFC 1939, CAPA RFC 2449, STLS RFC 2595).

Implementation notes:
- The wire format is parsed by ``pop3wire`` (pure, fuzzed); this module only moves bytes.
- Every read waits at most ``timeout`` seconds; a server that stops answering becomes a
  ``Timeout`` naming the command it was answering, never a hang.
- RETR (and DELE) are pipelined when CAPA lists PIPELINING (RFC 2449 §6.6): up to
  ``WINDOW`` commands are in flight, answers are taken in order.
- DELE only marks; the ISP removes the messages at QUIT (RFC 1939 §6). A connection that
  drops before QUIT's +OK deletes nothing, which is what makes "delete after delivery" safe.
- The password never appears in an error text.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable

from protocols.collector.connection import connect, start_tls
from protocols.collector.errors import (
    ConnectionDropped,
    LoginRefused,
    ProtocolError,
    TlsError,
)
from protocols.collector.errors import Timeout as TimeoutErr
from protocols.collector.pop3wire import (
    Response,
    ResponseReader,
    parse_capa,
    parse_listing,
    parse_sizes,
)

WINDOW = 64
READ_SIZE = 256 * 1024


class Pop3Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str, port: int, timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host
        self.port = port
        self.where = f"{host}:{port}"
        self.timeout = timeout
        self.wire = ResponseReader()
        self.capabilities: set[str] = set()

    @classmethod
    async def open(cls, host: str, port: int, tls: str, context: ssl.SSLContext,
                   timeout: float) -> Pop3Client:
        """Connected, greeted and (for ``starttls``) encrypted; not yet logged in."""
        reader, writer = await connect(host, port, context if tls == "implicit" else None,
                                       timeout)
        client = cls(reader, writer, host, port, timeout)
        try:
            greeting = await client._response(False, "the greeting")
            if not greeting.ok:
                raise ProtocolError(f"{client.where} refused the session: {greeting.text}")
            await client.capa()
            if tls == "starttls":
                if "STLS" not in client.capabilities:
                    raise TlsError(f"{client.where} does not offer STLS (use --tls implicit "
                                   "or --tls none)")
                await client.expect_ok("STLS")
                await start_tls(writer, host, port, context, timeout)
                await client.capa()  # RFC 2595 §4: capabilities may change after STLS
        except BaseException:
            client.close()
            raise
        return client

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.capabilities

    # Wire ------------------------------------------------------------------------------
    def _send(self, lines: Iterable[str]) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())

    async def _response(self, multiline: bool, what: str) -> Response:
        while True:
            response = self.wire.take(multiline)
            if response is not None:
                return response
            try:
                data = await asyncio.wait_for(self.reader.read(READ_SIZE), self.timeout)
            except TimeoutError as exc:
                raise TimeoutErr(f"{self.where} did not answer within {self.timeout:g} s "
                                 f"(waiting for {what})") from exc
            except ssl.SSLError as exc:
                raise ConnectionDropped(f"{self.where}: TLS error during {what}: "
                                        f"{exc.reason or exc}") from exc
            except (ConnectionError, OSError) as exc:
                raise ConnectionDropped(f"{self.where} closed the connection during {what}"
                                        ) from exc
            if not data:
                raise ConnectionDropped(f"{self.where} closed the connection during {what}")
            self.wire.feed(data)

    async def command(self, line: str, multiline: bool = False,
                      what: str | None = None) -> Response:
        self._send([line])
        return await self._response(multiline, what or line.split()[0])

    async def expect_ok(self, line: str, multiline: bool = False) -> Response:
        response = await self.command(line, multiline)
        if not response.ok:
            raise ProtocolError(f"{self.where} answered {line.split()[0]} with "
                                f"-ERR {response.text}")
        return response

    # Commands --------------------------------------------------------------------------
    async def capa(self) -> set[str]:
        response = await self.command("CAPA", multiline=True)
        self.capabilities = parse_capa(response.body or b"") if response.ok else set()
        return self.capabilities

    async def login(self, user: str, password: str) -> None:
        """USER/PASS (RFC 1939 §7); a refusal is LoginRefused with the ISP's words."""
        response = await self.command(f"USER {user}")
        if response.ok:
            response = await self.command(f"PASS {password}", what="PASS")
        if not response.ok:
            raise LoginRefused(f"the ISP {self.host} refused the login of {user}: "
                               f"-ERR {response.text}".rstrip())

    async def uidl(self) -> dict[int, str]:
        response = await self.command("UIDL", multiline=True)
        if not response.ok:
            raise ProtocolError(f"{self.where} does not support UIDL (-ERR {response.text}); "
                                "Tidings needs it to know what it already downloaded")
        return parse_listing(response.body or b"", "UIDL")

    async def sizes(self) -> dict[int, int]:
        return parse_sizes((await self.expect_ok("LIST", multiline=True)).body or b"")

    async def top(self, number: int, lines: int = 0) -> bytes | None:
        """The header of message ``number`` (None if the server refuses TOP)."""
        response = await self.command(f"TOP {number} {lines}", multiline=True)
        return response.body if response.ok else None

    async def retrieve(self, numbers: Iterable[int]) -> AsyncIterator[tuple[int, Response]]:
        """RETR each message, pipelined when the server allows; yields answers in order."""
        async for item in self._pipelined("RETR", numbers, multiline=True):
            yield item

    async def delete(self, numbers: Iterable[int]) -> None:
        async for number, response in self._pipelined("DELE", numbers, multiline=False):
            if not response.ok:
                raise ProtocolError(f"{self.where} refused DELE {number}: -ERR {response.text}")

    async def _pipelined(self, verb: str, numbers: Iterable[int], multiline: bool
                         ) -> AsyncIterator[tuple[int, Response]]:
        window = WINDOW if self.pipelining else 1
        todo = iter(numbers)
        pending: deque[int] = deque()
        exhausted = False
        while True:
            if not exhausted and len(pending) <= window // 2:
                batch = []
                while len(pending) < window:
                    number = next(todo, None)
                    if number is None:
                        exhausted = True
                        break
                    pending.append(number)
                    batch.append(f"{verb} {number}")
                if batch:
                    self._send(batch)
            if not pending:
                return
            number = pending.popleft()
            yield number, await self._response(multiline, f"{verb} {number}")

    async def quit(self) -> None:
        """QUIT: the ISP applies the DELEs now (RFC 1939 §6); an -ERR means it did not."""
        response = await self.command("QUIT")
        if not response.ok:
            raise ProtocolError(f"{self.where} could not finish the session (QUIT): "
                                f"-ERR {response.text}")
        self.close()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

"""Reaching an ISP server: DNS, TCP, TLS, each failure turned into its own one-line error.

Implementation notes:
- Certificates are verified by default (the system's CA store, host name checked). An
  account may accept any certificate (``verify_tls`` off), for an ISP with a self-signed one;
  the connection is still encrypted.
- Every wait is bounded by the account's timeout: name lookup, connect, TLS handshake.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar

from protocols.collector.errors import ConnectError, DnsError, TlsError
from protocols.collector.errors import Timeout as TimeoutErr

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
STREAM_LIMIT = 1 << 20
T = TypeVar("T")


def client_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def tls_failure(where: str, exc: BaseException) -> TlsError:
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    hint = ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"certificate verify failed: {exc.verify_message}"
        hint = " (if this ISP uses a self-signed certificate, allow it with --insecure-tls)"
    return TlsError(f"TLS handshake with {where} failed: {reason}{hint}")


async def resolve(host: str, port: int, timeout: float) -> list[tuple]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except socket.gaierror as exc:
        raise DnsError(f"cannot find the ISP server {host}: {exc.strerror}") from exc
    except TimeoutError as exc:
        raise DnsError(f"cannot find the ISP server {host}: no DNS answer within "
                       f"{timeout:g} s") from exc
    return [info[4] for info in infos]


async def connect(host: str, port: int, tls: ssl.SSLContext | None, timeout: float) -> Streams:
    """Open streams to the server (TLS from the first byte when ``tls`` is given)."""
    return await dial(host, port, tls, timeout, lambda address: asyncio.open_connection(
        address, port, ssl=tls, server_hostname=host if tls else None, limit=STREAM_LIMIT,
        ssl_handshake_timeout=timeout if tls else None))


async def connect_protocol(host: str, port: int, tls: ssl.SSLContext | None, timeout: float,
                           factory: Callable[[], asyncio.Protocol]) -> asyncio.Transport:
    """Like ``connect``, for a library that brings its own asyncio Protocol."""
    loop = asyncio.get_running_loop()
    transport, _ = await dial(host, port, tls, timeout, lambda address: loop.create_connection(
        factory, address, port, ssl=tls, server_hostname=host if tls else None,
        ssl_handshake_timeout=timeout if tls else None))
    return transport


async def dial(host: str, port: int, tls: ssl.SSLContext | None, timeout: float,
               opener: Callable[[str], Awaitable[T]]) -> T:
    """Tries each address of ``host``; every failure becomes its own CollectError."""
    where = f"{host}:{port}"
    addresses = await resolve(host, port, timeout)
    last: OSError | None = None
    for address in addresses:
        try:
            return await asyncio.wait_for(opener(address[0]), timeout)
        except ssl.SSLError as exc:
            raise tls_failure(where, exc) from exc
        except TimeoutError as exc:
            raise TimeoutErr(f"{where} did not answer within {timeout:g} s (while "
                             f"{'connecting and negotiating TLS' if tls else 'connecting'})"
                             ) from exc
        except ConnectionResetError as exc:
            if tls:  # a server that is not speaking TLS often just hangs up
                raise tls_failure(where, exc) from exc
            last = exc
        except OSError as exc:
            last = exc
    reason = os.strerror(last.errno) if last is not None and last.errno else str(last)
    raise ConnectError(f"cannot connect to {where}: {reason}")


async def start_tls(writer: asyncio.StreamWriter, host: str, port: int,
                    context: ssl.SSLContext, timeout: float) -> None:
    """Upgrade after STLS/STARTTLS was accepted."""
    try:
        await asyncio.wait_for(writer.start_tls(context, server_hostname=host), timeout)
    except ssl.SSLError as exc:
        raise tls_failure(f"{host}:{port}", exc) from exc
    except TimeoutError as exc:
        raise TimeoutErr(f"{host}:{port} did not answer within {timeout:g} s (while "
                         "negotiating TLS)") from exc
    except (ConnectionError, OSError) as exc:
        raise tls_failure(f"{host}:{port}", exc) from exc

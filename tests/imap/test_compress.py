"""COMPRESS=DEFLATE (RFC 4978) with a real imaplib-based client, over plain TCP and IMAPS:
corpus messages fetched and appended byte for byte through the compressed stream, IDLE
pushes that arrive (sync-flushed), refusals, corrupt input and decompression bombs."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import zlib

import pytest

from mailstore.store import Store
from protocols.imap.compress import PIECE, Inflater
from tests.imap.conftest import (
    PASSWORD,
    LiveImap,
    client_thread,
    client_tls,
    corpus_sample,
    deliver,
    inbox,
    simple_message,
)
from tests.imap.deflate_client import DeflateIMAP4, DeflateIMAP4_SSL
from tests.imap.test_extensions import transcript


def connect(imap: LiveImap, tls: bool) -> DeflateIMAP4:
    if tls:
        return DeflateIMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls(),
                                timeout=20)
    return DeflateIMAP4("127.0.0.1", imap.port, timeout=20)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "imaps"])
async def test_fetch_and_append_of_corpus_messages_through_deflate_keep_every_byte(
        imap: LiveImap, store: Store, account, tls: bool) -> None:
    folder = await inbox(store, account)
    raws = corpus_sample(12)
    await deliver(store, folder, raws)
    uploads = corpus_sample(20)[-3:]
    sent = await store.folders.get(account.id, "Sent")

    def scenario():
        client = connect(imap, tls)
        client.login("ann@example.com", PASSWORD)
        caps = client.capability()[1][0].decode().split()
        compressed = client.compress()
        again = client.compress()
        client.select("INBOX")
        bodies = []
        for n in range(1, len(raws) + 1):
            typ, data = client.fetch(str(n), "(BODY.PEEK[])")
            assert typ == "OK"
            bodies.append(data[0][1])
        appended = [client.append("Sent", "(\\Seen)", None, raw) for raw in uploads]
        client.logout()
        return caps, compressed, again, bodies, appended, client.sent_plain, client.sent_wire

    caps, compressed, again, bodies, appended, plain, wire = await client_thread(scenario)
    assert "COMPRESS=DEFLATE" in caps
    assert compressed == ("OK", [b"DEFLATE active"])
    assert again[0] == "NO" and again[1][0].startswith(b"[COMPRESSIONACTIVE]")
    assert bodies == raws
    assert all(typ == "OK" for typ, _ in appended)
    for uid, raw in enumerate(uploads, 1):
        message = await store.messages.get(sent.id, uid)
        # imaplib's append turns bare LF into CRLF before it sends the literal.
        assert store.messages.read_raw(message.sha256) == re.sub(rb"\r?\n", b"\r\n", raw)
    assert wire < plain  # what the client sent really was compressed


async def test_idle_pushes_arrive_under_compression(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    idling = threading.Event()

    def idler() -> tuple[list[bytes], float]:
        client = connect(imap, False)
        client.login("ann@example.com", PASSWORD)
        client.compress()
        client.select("INBOX")
        client.send(b"i IDLE\r\n")
        assert client.readline().startswith(b"+ ")
        idling.set()
        pushed = [client.readline()]
        arrived = time.monotonic()
        client.send(b"DONE\r\n")
        while not pushed[-1].startswith(b"i "):
            pushed.append(client.readline())
        client.logout()
        return pushed, arrived

    task = asyncio.ensure_future(client_thread(idler))
    await asyncio.to_thread(idling.wait, 10)
    await asyncio.sleep(0.1)
    delivered = time.monotonic()
    await store.messages.append(folder, simple_message("pushed through deflate"))
    pushed, arrived = await task
    assert pushed[0] == b"* 1 EXISTS\r\n"  # flushed: decodable before the client says DONE
    assert b"* 1 RECENT\r\n" in pushed
    assert pushed[-1].startswith(b"i OK")
    assert arrived - delivered < 1.0


async def test_compress_is_refused_before_login_and_for_unknown_mechanisms(
        imap: LiveImap) -> None:
    out = await client_thread(lambda: transcript(imap.port, [
        b"a COMPRESS DEFLATE",
        f'b LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"c COMPRESS X-BROTLI",
        b"d COMPRESS",
        b"e NOOP",
    ]))
    assert out[b"a"][0].startswith(b"a BAD ")
    assert out[b"c"][0].startswith(b"c BAD Unknown compression mechanism")
    assert out[b"d"][0].startswith(b"d BAD ")
    assert out[b"e"][0] == b"e OK NOOP completed\r\n"  # still uncompressed


async def test_corrupt_deflate_data_ends_that_session_with_bye_and_no_traceback(
        imap: LiveImap, account) -> None:
    def scenario() -> tuple[list[bytes], str]:
        client = connect(imap, False)
        client.login("ann@example.com", PASSWORD)
        client.compress()
        client.send_raw(b"\xff\xfe garbage that is not DEFLATE\r\n")
        lines = [client.readline()]
        while lines[-1]:
            lines.append(client.readline())
        other = connect(imap, False)
        typ, _ = other.login("ann@example.com", PASSWORD)
        other.logout()
        return lines, typ

    lines, typ = await client_thread(scenario)
    assert lines[0] == b"* BYE Compressed data is corrupt\r\n"
    assert lines[1:] == [b""]  # then the connection closed
    assert typ == "OK"  # the server goes on serving


async def test_a_compressed_line_that_inflates_past_the_line_limit_is_refused(
        imap: LiveImap, account) -> None:
    def scenario() -> list[bytes]:
        client = connect(imap, False)
        client.login("ann@example.com", PASSWORD)
        client.compress()
        # 30 MB that compress to ~30 KB: the session discards the line as it inflates.
        client.send(b"t NOOP " + b"x" * 30_000_000 + b"\r\nu NOOP\r\n")
        lines = [client.readline(), client.readline()]
        client.logout()
        return lines

    lines = await client_thread(scenario)
    assert lines[0].startswith(b"t BAD [TOOBIG] line too long")
    assert lines[1] == b"u OK NOOP completed\r\n"


async def test_the_inflater_stops_inflating_while_nobody_reads() -> None:
    limit = 64 * 1024
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    size = 64 * 1024 * 1024
    wire = bomb.compress(bytes(size)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(wire) < size // 500
    source = asyncio.StreamReader()
    source.feed_data(wire)
    source.feed_eof()
    inflater = Inflater(source, limit)
    try:
        await asyncio.sleep(0.3)  # plenty of time to inflate everything, if it could
        held = len(inflater.reader._buffer)
        assert held <= 2 * limit + PIECE
        total = 0
        while chunk := await inflater.reader.read(1024 * 1024):
            assert not chunk.strip(b"\0")
            total += len(chunk)
            assert len(inflater.reader._buffer) <= 2 * limit + PIECE
        assert total == size
    finally:
        inflater.close()

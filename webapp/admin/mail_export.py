"""An account's whole mailbox as one download, so an administrator can keep it before
deleting the account: a zip with one mbox file per folder.

mboxrd (the variant mutt and Thunderbird's import read): each message starts with a
``From `` separator line, lines that start with ``>*From `` get one more ``>``, and line
ends are LF. Built in a temporary file (spilled to disk past 8 MB) in a thread, so the
event loop keeps serving while big mailboxes are read.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import IO

from mailstore.store import Store

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
CHUNK = 64 * 1024


def mboxrd_entry(raw: bytes, internal_date: int) -> bytes:
    """One message as an mboxrd entry (separator, escaped body, blank line)."""
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(internal_date))
    body = _FROM_LINE.sub(rb">\1", raw.replace(b"\r\n", b"\n"))
    if not body.endswith(b"\n"):
        body += b"\n"
    return b"From MAILER-DAEMON " + stamp.encode() + b"\n" + body + b"\n"


def _zip_name(folder: str) -> str:
    parts = [re.sub(r'[\x00-\x1f\x7f\\:*?"<>|]', "_", p).strip(" .") or "_"
             for p in folder.split("/")]
    return "/".join(parts) + ".mbox"


async def export_zip(store: Store, account_id: int) -> tuple[IO[bytes], int]:
    """The zip in a temporary file (at its start) and the number of messages in it."""
    folders: list[tuple[str, list[tuple[str, int]]]] = []
    for folder in await store.folders.list(account_id):
        refs = await store.messages.blob_refs(folder.id)
        folders.append((folder.name, [(sha, date) for _, sha, _, _, date in refs]))
    read: Callable[[str], bytes] = store.messages.read_raw

    def build() -> tuple[IO[bytes], int]:
        out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        count = 0
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, messages in folders:
                with archive.open(_zip_name(name), "w", force_zip64=True) as member:
                    for sha, date in messages:
                        member.write(mboxrd_entry(read(sha), date))
                        count += 1
        out.seek(0)
        return out, count

    return await asyncio.to_thread(build)


def chunks(file: IO[bytes]) -> Iterator[bytes]:
    """The file in pieces for a streaming response; closes it at the end."""
    try:
        while piece := file.read(CHUNK):
            yield piece
    finally:
        file.close()

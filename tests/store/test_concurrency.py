"""Two writer processes appending to one folder get distinct, increasing UIDs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailstore.store import Store

WRITER = """
import asyncio, sys
from pathlib import Path
from mailstore.store import Store

async def main(url, blobs, folder_id, tag):
    store = Store(url, Path(blobs))
    uids = []
    for n in range(40):
        raw = f"Subject: {tag} {n}\\r\\n\\r\\nfrom writer {tag}\\r\\n".encode()
        uids.append((await store.messages.append(folder_id, raw)).uid)
    await store.close()
    print(" ".join(map(str, uids)))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""


async def test_two_writer_processes_get_distinct_increasing_uids(
        store: Store, account, database_url: str, tmp_path: Path) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    procs = [subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url, str(tmp_path / "blobs"), str(folder), tag],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append([int(u) for u in out.split()])
    for uids in outputs:
        assert uids == sorted(uids) and len(uids) == 40
    assert sorted(outputs[0] + outputs[1]) == list(range(1, 81))
    info = await store.folders.get_by_id(folder)
    assert (info.messages, info.uidnext) == (80, 81)

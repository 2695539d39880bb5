"""bench/admin_import: upload a large mbox through the admin's Import page and import it;
prints upload MB/s, import messages/s and how much the server's memory grew.

The web app runs in a child process (uvicorn, SQLite in a temporary folder), so its peak
resident memory (VmHWM) is its own; the client streams the file from disk in 1 MB chunks,
as the page's script does (the file is the request body).
    .venv/bin/python bench/admin_import.py [--megabytes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import REPO

from tests.collector.conftest import corpus

SERVER = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from mailstore.store import Store
from tidings.migrate import upgrade
from tests.web.conftest import LiveServer, PASSWORD

async def main():
    url = "sqlite+aiosqlite:///{folder}/t.db"
    await upgrade(url)
    store = Store(url, Path("{folder}") / "blobs")
    await store.accounts.add_domain("example.com")
    await store.accounts.create("root@example.com", PASSWORD, is_admin=True)
    server = LiveServer(store)
    await server.start()
    print(server.url, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def hwm_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", text).group(1)) / 1024


async def main(megabytes: int) -> None:
    from tests.admin.test_import import mbox
    from tests.web.conftest import PASSWORD, csrf_token

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        messages = [m.replace(b"\r\n", b"\n") for m in corpus(200)]
        one = mbox(messages)
        path = folder / "big.mbox"
        with path.open("wb") as out:
            for _ in range(max(1, megabytes * (1 << 20) // len(one))):
                out.write(one)
        size = path.stat().st_size
        count = one.count(b"From sender@") * (size // len(one))
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER.format(repo=str(REPO), folder=folder)],
            stdout=subprocess.PIPE, text=True)
        try:
            url = server.stdout.readline().strip()
            before = hwm_mb(server.pid)
            async with httpx.AsyncClient(base_url=url, timeout=600) as web:
                token = csrf_token((await web.get("/login")).text)
                await web.post("/login", data={"address": "root@example.com",
                                               "password": PASSWORD, "csrf_token": token})
                token = csrf_token((await web.get("/admin/import")).text)

                async def chunks():  # noqa: ANN202
                    with path.open("rb") as f:
                        while chunk := f.read(1 << 20):
                            yield chunk

                started = time.perf_counter()
                response = await web.post("/admin/import", content=chunks(), params={
                    "account": "root@example.com", "folder": "Big", "filename": "big.mbox"},
                    headers={"content-type": "application/octet-stream",
                             "x-csrf-token": token})
                uploaded = time.perf_counter() - started
                assert response.status_code == 303, response.text[:500]
                after_upload = hwm_mb(server.pid)
                job = response.headers["location"].split("?")[0] + "/progress"
                while 'data-state="running"' in (html := (await web.get(job)).text):
                    await asyncio.sleep(0.5)
                total = time.perf_counter() - started
                done = re.search(r"Done: imported (\d+)", html)
                imported = int(done.group(1)) if done else 0
        finally:
            peak = hwm_mb(server.pid)
            server.terminate()
            server.wait()
        print(f"file {size / (1 << 20):.0f} MB, {count} messages; {imported} imported")
        print(f"upload (request until the job page): {size / (1 << 20) / uploaded:.0f} MB/s "
              f"({uploaded:.1f} s, includes the mbox check and message count)")
        print(f"upload + import: {total:.1f} s, {imported / total:.0f} messages/s")
        print(f"server peak RSS: {before:.0f} MB before, {after_upload:.0f} MB after the "
              f"upload, {peak:.0f} MB at the end of the import")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=200)
    asyncio.run(main(parser.parse_args().megabytes))

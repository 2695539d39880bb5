"""Real mail renders: a sample of the real-mail corpus, every page with status 200."""

from __future__ import annotations

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.corpus import corpus_dir, message_files
from tests.web.conftest import deliver, inbox_id

SAMPLE = 200
# Known traps: a group with a comment in To: (CPython raises AttributeError on it).
MUST_INCLUDE = ("linux-man/000024.eml",)


def sample() -> list[bytes]:
    root = corpus_dir("real-mail")
    files = list(message_files("real-mail"))
    step = max(1, len(files) // SAMPLE)
    chosen = files[::step][:SAMPLE - len(MUST_INCLUDE)]
    chosen += [root / name for name in MUST_INCLUDE if root / name not in chosen]
    return [path.read_bytes() for path in chosen]


async def test_real_mail_sample_renders_every_message_page(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raws = sample()
    assert len(raws) >= SAMPLE
    inbox = await inbox_id(store, account)
    for start in range(0, len(raws), 100):
        await deliver(store, inbox, raws[start:start + 100])
    failures = []
    html_bodies = attachments = 0
    for uid in range(1, len(raws) + 1):
        page = await ann.get(f"/message/INBOX/{uid}")
        if page.status_code != 200:
            failures.append((uid, page.status_code))
            continue
        if 'class="body-frame"' in page.text:
            html_bodies += 1
            body = await ann.get(f"/body/INBOX/{uid}")
            if body.status_code != 200 or "<script" in body.text.lower():
                failures.append((uid, f"body {body.status_code}"))
        if 'href="/attachment/INBOX/' in page.text:
            attachments += 1
            href = page.text.split('href="/attachment/INBOX/', 1)[1].split('"', 1)[0]
            download = await ann.get(f"/attachment/INBOX/{href}")
            if download.status_code != 200:
                failures.append((uid, f"attachment {download.status_code}"))
    assert failures == []
    assert html_bodies > 0 and attachments > 0
    for page_number in (1, 2, 3, 4, 5):
        assert (await ann.get(f"/mail/INBOX?page={page_number}")).status_code == 200

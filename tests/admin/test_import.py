"""Import page: an mbox file or a zip of a Maildir uploaded into an account (raw body as the
page's script sends it, or a plain multipart form), streamed to the data folder, imported in
the background with progress, counts and reasons shown; anything else refused clearly."""

from __future__ import annotations

import asyncio
import io
import re
import time
import zipfile
from collections.abc import AsyncIterator

import httpx

from mailstore.store import Store
from tests.collector.conftest import corpus, inbox
from tests.web.conftest import csrf_token
from webapp.admin.imports import uploads_folder


def mbox(messages: list[bytes]) -> bytes:
    out = io.BytesIO()
    for raw in messages:
        body = raw.replace(b"\r\n", b"\n")
        body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
        out.write(b"From sender@example.org Mon Dec  1 09:30:00 2026\n" + body)
        if not body.endswith(b"\n"):
            out.write(b"\n")
        out.write(b"\n")
    return out.getvalue()


def maildir_zip(folders: dict[str, list[bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for folder, messages in folders.items():
            base = "Maildir" if folder == "" else f"Maildir/.{folder}"
            archive.writestr(f"{base}/new/", b"")
            archive.writestr(f"{base}/tmp/", b"")
            for i, raw in enumerate(messages):
                archive.writestr(f"{base}/cur/{1700000000 + i}.{i}.host:2,S", raw)
    return out.getvalue()


async def upload_raw(admin: httpx.AsyncClient, data: bytes, filename: str,
                     account: str = "ann@example.com", folder: str = "INBOX"
                     ) -> httpx.Response:
    """As static/admin-collect.js sends it: the file is the body."""
    token = csrf_token((await admin.get("/admin/import")).text)
    return await admin.post("/admin/import", content=data, params={
        "account": account, "folder": folder, "filename": filename}, headers={
        "content-type": "application/octet-stream", "x-csrf-token": token})


async def upload_form(admin: httpx.AsyncClient, data: bytes, filename: str,
                      account: str = "ann@example.com", folder: str = "INBOX"
                      ) -> httpx.Response:
    """As the form posts without JavaScript."""
    token = csrf_token((await admin.get("/admin/import")).text)
    return await admin.post("/admin/import", data={
        "account": account, "folder": folder, "csrf_token": token},
        files={"file": (filename, data, "application/octet-stream")})


async def finished(admin: httpx.AsyncClient, location: str) -> str:
    """Poll the progress fragment (as htmx does) until the import ends; its HTML."""
    path = location.split("?")[0] + "/progress"
    deadline = time.monotonic() + 60
    while True:
        html = (await admin.get(path)).text
        if 'data-state="running"' not in html:
            return html
        assert time.monotonic() < deadline, "the import did not finish"
        await asyncio.sleep(0.2)


async def test_the_page_offers_the_accounts(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/admin/import")
    assert page.status_code == 200
    assert '<option value="ann@example.com">' in page.text
    assert 'enctype="multipart/form-data"' in page.text


async def test_an_mbox_upload_is_imported_with_progress_and_audited(
        admin: httpx.AsyncClient, store: Store) -> None:
    messages = corpus(5)
    data = mbox(messages) + b"From nobody Mon Dec  1 09:30:00 2026\n\n"  # an empty one
    response = await upload_raw(admin, data, "old-mail.mbox", folder="Archive 2019")
    assert response.status_code == 303, response.text
    assert re.match(r"/admin/import/[\w-]+\?done=", response.headers["location"])
    job = await admin.get(response.headers["location"])
    assert "Import of old-mail.mbox" in job.text and "<progress" in job.text
    html = await finished(admin, response.headers["location"])
    assert "Done: imported 5 message(s) into 1 folder(s); skipped 1." in html
    assert "skipped 1: " in html
    got = await inbox(store, "ann@example.com", "Archive 2019")
    assert len(got) == 5
    assert [m.replace(b"\r\n", b"\n") for m in got] == [
        m.replace(b"\r\n", b"\n") for m in messages]
    actions = [(e.action, e.target) for e in await store.audit.recent()]
    assert ("import.start", "account ann@example.com") in actions
    assert ("import.finish", "account ann@example.com") in actions
    start = next(e for e in await store.audit.recent() if e.action == "import.start")
    assert start.new_value == {"file": "old-mail.mbox", "bytes": len(data),
                               "folder": "Archive 2019"}
    # The temporary upload is gone; the page lists the import.
    assert list(uploads_folder(store).iterdir()) == []
    listing = await admin.get("/admin/import")
    assert "old-mail.mbox" in listing.text


async def test_a_zip_of_a_maildir_posted_as_a_form_keeps_its_folders(
        admin: httpx.AsyncClient, store: Store) -> None:
    inbox_mail, sent = corpus(3), corpus(2, start=3)
    response = await upload_form(admin, maildir_zip({"": inbox_mail, "Sent": sent}),
                                 "maildir.zip")
    assert response.status_code == 303, response.text
    html = await finished(admin, response.headers["location"])
    assert "imported 5 message(s) into 2 folder(s)" in html
    assert len(await inbox(store, "ann@example.com")) == 3
    assert len(await inbox(store, "ann@example.com", "Sent")) == 2


async def test_a_file_that_is_no_mailbox_is_refused_beside_the_file_field(
        admin: httpx.AsyncClient, store: Store) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    for send in (upload_raw, upload_form):
        response = await send(admin, png, "photo.png")
        assert response.status_code == 400
        error = re.search(r'id="file-error" role="alert">([^<]*)<', response.text).group(1)
        assert error.startswith("This file is neither an mbox file nor a zip of a Maildir")
        assert 'aria-invalid="true" aria-describedby="file-error"' in response.text
    response = await upload_raw(admin, _zip_of_text(),
                                "notes.zip")
    assert response.status_code == 400
    assert "The zip file holds no Maildir" in response.text
    assert list(uploads_folder(store).iterdir()) == []


def _zip_of_text() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes/readme.txt", b"hello")
    return out.getvalue()


async def test_a_zip_reaching_outside_its_folder_is_refused(
        admin: httpx.AsyncClient, store: Store) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("../../evil/cur/1.x:2,", b"Subject: x\n\nx\n")
    response = await upload_raw(admin, out.getvalue(), "evil.zip")
    assert response.status_code == 400
    assert "outside its folder" in response.text
    assert not (uploads_folder(store).parent / "evil").exists()


async def test_account_folder_and_file_errors_are_shown_beside_their_fields(
        admin: httpx.AsyncClient) -> None:
    response = await upload_form(admin, b"", "empty.mbox", account="", folder="bad*name")
    assert response.status_code == 400
    html = response.text
    for name in ("account", "folder", "file"):
        assert f'id="{name}-error"' in html, name
    assert 'value="bad*name"' in html


async def test_a_large_upload_sent_in_chunks_is_imported_whole(
        admin: httpx.AsyncClient, store: Store) -> None:
    # ~24 MB in 1 MB chunks: the server writes each to the data folder as it comes.
    one = corpus(1)[0].replace(b"\r\n", b"\n")
    data = mbox([one]) * max(1, (24 << 20) // (len(one) + 60))
    count = data.count(b"\nFrom sender@") + 1

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 1 << 20):
            yield data[start:start + (1 << 20)]

    token = csrf_token((await admin.get("/admin/import")).text)
    response = await admin.post("/admin/import", content=chunks(), params={
        "account": "ann@example.com", "folder": "Big", "filename": "big.mbox"},
        headers={"content-type": "application/octet-stream", "x-csrf-token": token})
    assert response.status_code == 303, response.text
    html = await finished(admin, response.headers["location"])
    assert f"imported {count} message(s)" in html
    assert len(await inbox(store, "ann@example.com", "Big")) == count

"""The message as a whole: show original, download .eml, the print view, and all
attachments as one zip.

Implementation notes:
- Every URL names the folder and UID under the signed-in account (``opened``), so another
  user's message cannot be reached through any of them: it is "not found".
- The original is mail as received, in whatever bytes the sender used. It is sent as
  text/plain with an explicit charset and ``nosniff`` (set for every response), under the
  download policy, so no browser ever renders it as HTML. Bytes that are not UTF-8 are
  shown as U+FFFD rather than guessed at.
- The zip is built in a worker thread (deflate is CPU work); names are made safe (no
  folders, no control characters), and repeated names get " (2)", " (3)"… so no
  attachment overwrites another when unpacked.
- The print view is a page of its own without the app around it; the mail's HTML is
  sanitised as in the reading pane, and the page's policy allows no script but ours.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mailstore.errors import InvalidName, NotFound
from mailstore.store import Store
from mailstore.values import FolderInfo, StoredMessage
from webapp.auth import login_required
from webapp.downloads import DOWNLOAD_POLICY, content_disposition, safe_filename
from webapp.message_content import (
    AttachmentInfo,
    attachment_data,
    attachments,
    inline_images,
    read_body,
    sections_of,
    shown_attachments,
)
from webapp.plaintext import text_to_html
from webapp.sanitize import sanitize_html
from webapp.templating import render
from webapp.views.senders import images_choice

MAX_UID = 2**32 - 1
SUBJECT_NAME_LENGTH = 80


def print_policy(images: bool) -> str:
    """The print page: our stylesheet and script only; the mail's inline styles apply."""
    img = "img-src 'self' data:" + (" https: http:" if images else "")
    return "; ".join(("default-src 'none'", "script-src 'self'",
                      "style-src 'self' 'unsafe-inline'", img, "frame-ancestors 'self'",
                      "base-uri 'none'", "form-action 'none'"))


async def opened(request: Request) -> tuple[FolderInfo, StoredMessage]:
    """The folder and message named in the URL, of the signed-in account only."""
    store: Store = request.app.state.store
    uid: int = request.path_params["uid"]
    try:
        folder = await store.folders.get(request.state.account.id,
                                         request.path_params["folder"])
    except InvalidName as exc:
        raise NotFound(f"folder {request.path_params['folder']} does not exist") from exc
    if not 0 < uid <= MAX_UID:
        raise NotFound(f"message {uid} does not exist in this folder")
    return folder, await store.messages.get(folder.id, uid)


async def _raw(request: Request, message: StoredMessage) -> bytes:
    store: Store = request.app.state.store
    return await run_in_threadpool(store.messages.read_raw, message.sha256)


def subject_filename(subject: str, extension: str, fallback: str = "message") -> str:
    """A file name from the subject: "Re: Budget 2025.eml"."""
    stem = safe_filename(" ".join(subject.split())[:SUBJECT_NAME_LENGTH], fallback)
    return f"{stem}.{extension}"


@login_required
async def original(request: Request) -> Response:
    _folder, message = await opened(request)
    raw = await _raw(request, message)
    try:
        raw.decode("utf-8")
        text = raw
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace").encode("utf-8")
    return Response(text, headers={
        "content-type": "text/plain; charset=utf-8",
        "content-security-policy": DOWNLOAD_POLICY,
        "cache-control": "private, no-store",
    })


@login_required
async def eml(request: Request) -> Response:
    _folder, message = await opened(request)
    raw = await _raw(request, message)
    return Response(raw, headers={
        "content-type": "message/rfc822",
        "content-disposition": content_disposition(subject_filename(message.subject, "eml")),
        "content-security-policy": DOWNLOAD_POLICY,
        "cache-control": "private, no-store",
    })


def unique_names(found: list[AttachmentInfo]) -> list[str]:
    """Safe file names, one per attachment, repeated ones numbered like a file manager."""
    seen: set[str] = set()
    names = []
    for attachment in found:
        name = safe_filename(attachment.filename or f"part-{attachment.part}",
                             f"part-{attachment.part}")
        candidate, number = name, 1
        while candidate.casefold() in seen:
            number += 1
            path = PurePosixPath(name)
            candidate = f"{path.stem} ({number}){path.suffix}" if path.stem else \
                f"{name} ({number})"
        seen.add(candidate.casefold())
        names.append(candidate)
    return names


def build_zip(raw: bytes, sections: list, found: list[AttachmentInfo]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, attachment in zip(unique_names(found), found, strict=True):
            archive.writestr(name, attachment_data(raw, sections, attachment))
    return buffer.getvalue()


@login_required
async def zip_all(request: Request) -> Response:
    _folder, message = await opened(request)
    raw = await _raw(request, message)
    sections = sections_of(message)
    # The attachments the reading pane lists: not the pictures the body already shows.
    found = shown_attachments(attachments(message), read_body(raw, sections).html)
    if not found:
        raise NotFound("this message has no attachments")
    data = await run_in_threadpool(build_zip, raw, sections, found)
    return Response(data, headers={
        "content-type": "application/zip",
        "content-disposition": content_disposition(
            subject_filename(message.subject, "zip", "attachments")),
        "content-security-policy": DOWNLOAD_POLICY,
        "cache-control": "private, no-store",
    })


@login_required
async def print_view(request: Request) -> Response:
    folder, message = await opened(request)
    raw = await _raw(request, message)
    sections = sections_of(message)
    body = read_body(raw, sections)
    found = attachments(message)
    choice = await images_choice(request, message)
    html = text_html = None
    if body.html is not None and request.query_params.get("view") != "text":
        html = sanitize_html(body.html, allow_remote_images=choice.show,
                             inline_image=inline_images(raw, sections, found)).html
    elif body.text is not None:
        text_html = text_to_html(body.text)
    response = render(request, "print.html", {
        "folder": folder, "message": message, "body_html": html, "text_html": text_html,
        "attachments": shown_attachments(found, body.html),
        "date": message.sent_date or message.internal_date,
    })
    response.headers["content-security-policy"] = print_policy(choice.show)
    return response

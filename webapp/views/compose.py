"""Writing mail: compose, reply, reply all, forward, drafts, attachments, send and undo.

Implementation notes:
- The draft in the Drafts folder is the one source of truth. Every save (the autosave of
  compose.js, an upload, "Save draft", a Send that has to be corrected) builds the whole
  message from the form, carries over the previous version's attachments (less the ones
  removed), adds new uploads, stores the result as a new draft and deletes the old one
  (``store.outbox.save_draft``). The form then names the new UID. Uploads therefore survive
  a closed tab or a restart, and IMAP clients see the same draft.
- A reply or forward names its original (``source_*`` fields) until the first save; the
  original's attachments (forward) or the original itself (forward as attachment) are
  added then, so nothing is copied for a compose page that is opened and closed.
- Requests from compose.js (header ``X-Requested-With: compose``) get JSON; plain form
  posts (no JavaScript) get pages, so the form works without scripts too.
- Send refuses, with the error next to the field, a From the account may not use and
  local recipients that do not exist; the message is then held for the undo window
  (``store.outbox.hold``, see mailstore/outbox.py for why that is durable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from html import escape

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mailstore.errors import InvalidName, NotFound, StoreError
from mailstore.identities import IdentityInfo
from mailstore.names import normalise_folder
from mailstore.outbox import SendRefused, parse
from mailstore.store import Store
from mailstore.values import AccountInfo, FolderInfo
from webapp import urls
from webapp.auth import login_required
from webapp.outgoing import (
    Attachment,
    Draft,
    address_problem,
    attachments_of,
    body_of,
    build,
    clean_html,
    estimated_size,
    html_to_plain,
    read_draft,
    text_to_quoted_html,
    to_bytes,
)
from webapp.quoting import (
    attribution,
    forward_html,
    forward_subject,
    forward_text,
    quote_html,
    quote_text,
    references,
    reply_recipients,
    reply_subject,
)
from webapp.templating import human_size, render
from webapp.views.errors import error_page

MAX_FIELD = 100_000
MAX_BODY = 1_000_000
FROM_JS = "compose"


@dataclass(slots=True)
class ComposeForm:
    """What the compose page shows and posts back."""

    draft: Draft
    identity: str  # the address sent from
    draft_uid: int | None = None
    rich: bool = True
    source_folder: str = ""
    source_uid: int | None = None
    source_mode: str = ""  # "forward" (its attachments) or "attach" (itself)
    source_attachments: list[Attachment] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    draft_gone: bool = False  # the form named a draft that was sent or deleted since


def _store(request: Request) -> Store:
    return request.app.state.store


def _account(request: Request) -> AccountInfo:
    return request.state.account


def _uid(request: Request) -> int:
    """The UID in the path; RFC 9051 §2.3.1.1: a 32-bit number (more would overflow)."""
    uid: int = request.path_params["uid"]
    if not 0 < uid < 2**32:
        raise NotFound(f"message {uid} does not exist")
    return uid


def _wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == FROM_JS


def _signature(identity: IdentityInfo) -> tuple[str, str]:
    """(text, HTML) of the identity's signature, each empty when it has none."""
    if not identity.signature.strip():
        return "", ""
    if identity.signature_is_html:
        html = clean_html(identity.signature)
        return html_to_plain(html).rstrip(), html
    return identity.signature.rstrip(), text_to_quoted_html(identity.signature)


def _with_signature(identity: IdentityInfo, text_after: str = "",
                    html_after: str = "") -> tuple[str, str]:
    sig_text, sig_html = _signature(identity)
    text = "\n\n" + (f"-- \n{sig_text}\n" if sig_text else "") + text_after
    html = "<p><br></p>" + (f'<div class="signature">-- <br>{sig_html}</div>'
                            if sig_html else "") + html_after
    return text, html


async def _identities(request: Request) -> list[IdentityInfo]:
    return await _store(request).identities.list(_account(request).id)


async def _original(request: Request) -> tuple[FolderInfo, int, bytes]:
    """The message a reply or forward is about: (its folder, uid, raw bytes)."""
    store = _store(request)
    try:
        name = normalise_folder(request.path_params["folder"])
    except InvalidName as exc:
        raise NotFound(f"folder {request.path_params['folder']} does not exist") from exc
    folder = await store.folders.get(_account(request).id, name)
    message = await store.messages.get(folder.id, _uid(request))
    raw = await asyncio.to_thread(store.messages.read_raw, message.sha256)
    return folder, message.uid, raw


async def _own_addresses(request: Request, original: EmailMessage,
                         identities: list[IdentityInfo]) -> set[str]:
    """The user's addresses among the original's people: identities, and any other
    address that delivers to this account (a plus-address, a catch-all)."""
    own = {i.address for i in identities} | {_account(request).address}
    values = [str(v) for h in ("From", "Reply-To", "To", "Cc") for v in original.get_all(h, [])]
    for _name, addr in getaddresses(values):
        addr = addr.lower()
        if addr and addr not in own and await _store(request).identities.may_send_as(
                _account(request).id, addr):
            own.add(addr)
    return own


def _choose_identity(original: EmailMessage, identities: list[IdentityInfo]) -> IdentityInfo:
    """Answer from the address the mail was sent to, else from the default."""
    values = [str(v) for h in ("To", "Cc", "Delivered-To") for v in original.get_all(h, [])]
    addressed = {a.lower() for _n, a in getaddresses(values)}
    return next((i for i in identities if i.address in addressed), identities[0])


def _page(request: Request, form: ComposeForm, identities: list[IdentityInfo],
          status: int = 200) -> Response:
    max_size: int = request.app.state.max_message_size
    signatures = {i.address: dict(zip(("text", "html"), _signature(i), strict=True))
                  for i in identities}
    return render(request, "compose.html", {
        "signatures": signatures,
        "form": form, "draft": form.draft, "identities": identities,
        "max_size": max_size, "max_size_text": human_size(max_size),
        "attachments": [(i, a) for i, a in enumerate(form.draft.attachments)],
        "title": form.draft.subject or "New message",
    }, status_code=status)


@login_required
async def new(request: Request) -> Response:
    identities = await _identities(request)
    identity = identities[0]
    text, html = _with_signature(identity)
    to = request.query_params.get("to", "")[:MAX_FIELD]
    draft = Draft(sender=identity.formatted, to=to,
                  subject=request.query_params.get("subject", "")[:MAX_FIELD],
                  text=text, html=html)
    return _page(request, ComposeForm(draft, identity.address), identities)


async def _reply(request: Request, everyone: bool) -> Response:
    folder, uid, raw = await _original(request)
    original = parse(raw)
    identities = await _identities(request)
    identity = _choose_identity(original, identities)
    own = await _own_addresses(request, original, identities)
    to, cc = reply_recipients(original, own, everyone)
    in_reply_to, refs = references(original)
    text, html = body_of(original)
    intro = attribution(original)
    reply_text, reply_html = _with_signature(
        identity, f"\n{intro}\n{quote_text(text)}\n",
        f"<p>{escape(intro)}</p>{quote_html(html, text)}")
    draft = Draft(sender=identity.formatted, to=to, cc=cc,
                  subject=reply_subject(str(original.get("Subject", ""))),
                  text=reply_text, html=reply_html, in_reply_to=in_reply_to, references=refs,
                  answers=f"{folder.id} {uid}")
    return _page(request, ComposeForm(draft, identity.address), identities)


@login_required
async def reply(request: Request) -> Response:
    return await _reply(request, everyone=False)


@login_required
async def reply_all(request: Request) -> Response:
    return await _reply(request, everyone=True)


@login_required
async def forward(request: Request) -> Response:
    folder, uid, raw = await _original(request)
    original = parse(raw)
    identities = await _identities(request)
    identity = _choose_identity(original, identities)
    attach = request.query_params.get("attach") == "1"
    text, html = body_of(original)
    if attach:
        body_text, body_html = _with_signature(identity)
        carried = [Attachment(_eml_name(original), "message/rfc822", raw)]
    else:
        body_text, body_html = _with_signature(
            identity, "\n" + forward_text(original, text), forward_html(original, html, text))
        carried = attachments_of(original)
    draft = Draft(sender=identity.formatted,
                  subject=forward_subject(str(original.get("Subject", ""))),
                  text=body_text, html=body_html)
    form = ComposeForm(draft, identity.address, source_folder=folder.name, source_uid=uid,
                       source_mode="attach" if attach else "forward",
                       source_attachments=carried)
    return _page(request, form, identities)


def _eml_name(original: EmailMessage) -> str:
    subject = str(original.get("Subject", "")).strip() or "message"
    safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in subject)[:80].strip()
    return f"{safe or 'message'}.eml"


@login_required
async def edit_draft(request: Request) -> Response:
    uid = _uid(request)
    account = _account(request)
    store = _store(request)
    raw = await store.outbox.read_draft(account.id, uid)
    draft = read_draft(raw)
    identities = await _identities(request)
    senders = getaddresses([draft.sender])
    address = senders[0][1].lower() if senders else identities[0].address
    rich = draft.html is not None
    if draft.html is None:
        draft.html = text_to_quoted_html(draft.text)
    form = ComposeForm(draft, address, draft_uid=uid, rich=rich)
    return _page(request, form, identities)


# Posting the form -------------------------------------------------------------------------
def _text(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _int(form: FormData, name: str) -> int | None:
    try:
        value = int(_text(form, name, 20))
    except ValueError:
        return None
    return value if 0 < value < 2**32 else None


async def _read_form(request: Request) -> tuple[ComposeForm, list[IdentityInfo],
                                                list[UploadFile]]:
    form = await request.form()
    identities = await _identities(request)
    address = _text(form, "from", 320).strip().lower()
    identity = next((i for i in identities if i.address == address), None)
    sender = identity.formatted if identity else address
    rich = _text(form, "format", 10) == "html"
    html = _text(form, "html_body", MAX_BODY) if rich else None
    draft = Draft(sender=sender, to=_text(form, "to"), cc=_text(form, "cc"),
                  bcc=_text(form, "bcc"), subject=_text(form, "subject", 2000).strip(),
                  text=_text(form, "text_body", MAX_BODY), html=html,
                  in_reply_to=_text(form, "in_reply_to", 2000).strip(),
                  references=_text(form, "references", 20000).strip(),
                  answers=_text(form, "answers", 40).strip())
    compose = ComposeForm(draft, address, draft_uid=_int(form, "draft_uid"), rich=rich,
                          source_folder=_text(form, "source_folder", 1000),
                          source_uid=_int(form, "source_uid"),
                          source_mode=_text(form, "source_mode", 10))
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    removed = {int(v) for v in form.getlist("remove") if isinstance(v, str) and v.isdigit()}
    await _gather_attachments(request, compose, removed)
    return compose, identities, files


async def _gather_attachments(request: Request, compose: ComposeForm,
                              removed: set[int]) -> None:
    """Attachments of the previous draft version (less removed ones) and of the original."""
    account = _account(request)
    store = _store(request)
    kept: list[Attachment] = []
    if compose.draft_uid is not None:
        try:
            raw = await store.outbox.read_draft(account.id, compose.draft_uid)
        except NotFound:
            compose.draft_uid = None  # sent or deleted meanwhile: this form makes a new one
            compose.draft_gone = True
        else:
            kept = attachments_of(parse(raw))
    if compose.source_uid is not None and compose.source_folder:
        try:
            folder = await store.folders.get(account.id, compose.source_folder)
            message = await store.messages.get(folder.id, compose.source_uid)
        except (NotFound, StoreError):
            pass
        else:
            raw = await asyncio.to_thread(store.messages.read_raw, message.sha256)
            original = parse(raw)
            if compose.source_mode == "attach":
                kept.append(Attachment(_eml_name(original), "message/rfc822", raw))
            elif compose.source_mode == "forward":
                kept.extend(attachments_of(original))
        compose.source_uid, compose.source_folder, compose.source_mode = None, "", ""
    compose.draft.attachments = [a for i, a in enumerate(kept) if i not in removed]


async def _add_uploads(request: Request, compose: ComposeForm,
                       files: list[UploadFile]) -> None:
    """Add the uploaded files, or set ``errors["attachments"]`` when one is too big."""
    limit: int = request.app.state.max_message_size
    for upload in files:
        data = await upload.read()
        attachment = Attachment(_file_name(upload.filename or "attachment"),
                                upload.content_type or "application/octet-stream", data)
        compose.draft.attachments.append(attachment)
        if estimated_size(compose.draft) > limit:
            compose.draft.attachments.pop()
            compose.errors["attachments"] = (
                f"{attachment.filename} is too big: {human_size(attachment.size)}; a message "
                f"may be at most {human_size(limit)} in total")
            return


def _file_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:200] or "attachment"


def _check_fields(compose: ComposeForm) -> None:
    for name in ("to", "cc", "bcc"):
        problem = address_problem(getattr(compose.draft, name))
        if problem:
            compose.errors[name] = problem


async def _save(request: Request, compose: ComposeForm) -> None:
    raw = to_bytes(build(compose.draft))
    compose.draft_uid = await _store(request).outbox.save_draft(
        _account(request).id, raw, compose.draft_uid)


def _json_state(compose: ComposeForm, status: int = 200) -> JSONResponse:
    return JSONResponse({
        "draft_uid": compose.draft_uid,
        "attachments": [{"index": i, "filename": a.filename, "size": a.size,
                         "size_text": human_size(a.size)}
                        for i, a in enumerate(compose.draft.attachments)],
        "errors": compose.errors,
    }, status_code=status)


def _too_big(request: Request) -> bool:
    """A request body far over the limit is refused before it is read."""
    limit: int = request.app.state.max_message_size
    try:
        length = int(request.headers.get("content-length", "0"))
    except ValueError:
        return False
    return length > limit * 2 + MAX_BODY * 2


async def _refuse_too_big(request: Request) -> Response:
    limit: int = request.app.state.max_message_size
    message = f"The upload is too big: a message may be at most {human_size(limit)} in total"
    if _wants_json(request):
        return JSONResponse({"errors": {"attachments": message}}, status_code=413)
    return error_page(request, 413, message)


@login_required
async def save(request: Request) -> Response:
    """Save the draft (autosave, uploads, "Save draft", removing an attachment)."""
    if _too_big(request):
        return await _refuse_too_big(request)
    compose, identities, files = await _read_form(request)
    await _add_uploads(request, compose, files)
    await _save(request, compose)
    status = 413 if "attachments" in compose.errors else 200
    if _wants_json(request):
        return _json_state(compose, status)
    if compose.errors:
        return _page(request, compose, identities, status)
    return RedirectResponse(urls.compose_draft(compose.draft_uid or 0), status_code=303)


@login_required
async def send(request: Request) -> Response:
    if _too_big(request):
        return await _refuse_too_big(request)
    compose, identities, files = await _read_form(request)
    if compose.draft_gone:
        # Most likely Send was clicked twice: the first click sent this draft already.
        compose.errors["form"] = ("This message was already sent (or its draft deleted) "
                                  "from another click or window. Look in Sent before "
                                  "sending it again.")
        return _page(request, compose, identities, 409)
    await _add_uploads(request, compose, files)
    _check_fields(compose)
    store = _store(request)
    account = _account(request)
    message = build(compose.draft)
    limit: int = request.app.state.max_message_size
    size = len(to_bytes(message))
    if size > limit and "attachments" not in compose.errors:
        compose.errors["attachments"] = (
            f"The message is too big: {human_size(size)}; a message may be at most "
            f"{human_size(limit)} in total. Remove an attachment.")
    if not compose.errors:
        compose.errors.update(await store.outbox.check(account.id, message))
    if compose.errors:
        # Keep what was written and uploaded: the corrected form sends this draft.
        await _save(request, compose)
        status = 413 if "attachments" in compose.errors else 400
        if _wants_json(request):
            return _json_state(compose, status)
        return _page(request, compose, identities, status)
    delay: float = request.app.state.undo_seconds
    try:
        held = await store.outbox.hold(account.id, to_bytes(message), delay,
                                       replaces=compose.draft_uid)
    except SendRefused as exc:
        compose.errors["from"] = str(exc)
        await _save(request, compose)
        return _page(request, compose, identities, 400)
    return RedirectResponse(urls.compose_sending(held.uid), status_code=303)


@login_required
async def sending(request: Request) -> Response:
    """After Send: "Sending… Undo" while the message is held, "Sent" once it left."""
    uid = _uid(request)
    held = await _store(request).outbox.is_held(_account(request).id, uid)
    return render(request, "compose_sent.html", {
        "uid": uid, "held": held, "seconds": request.app.state.undo_seconds})


@login_required
async def undo(request: Request) -> Response:
    uid = _uid(request)
    if await _store(request).outbox.undo(_account(request).id, uid):
        return RedirectResponse(urls.compose_draft(uid), status_code=303)
    return render(request, "compose_sent.html", {
        "uid": uid, "held": False, "seconds": 0, "too_late": True}, status_code=409)


@login_required
async def discard(request: Request) -> Response:
    """Delete the draft being written."""
    form = await request.form()
    uid = _int(form, "draft_uid")
    if uid is not None:
        try:
            await _store(request).outbox.delete_draft(_account(request).id, uid)
        except NotFound:
            pass
    return RedirectResponse(urls.folder("INBOX"), status_code=303)

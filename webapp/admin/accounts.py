"""The accounts pages: everyone who has a mailbox, with quota and usage; create, edit
(quota, admin role, disabled), reset a password, and delete with a choice for the mail."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mailstore.directory import DirectoryError
from mailstore.errors import NotFound, StoreError
from mailstore.values import AccountInfo
from webapp.admin.directory import checked, field_errors, parse_quota, quota_text, text
from webapp.admin.guard import actor
from webapp.admin.mail_export import chunks, export_zip
from webapp.admin.pages import done, page, store
from webapp.downloads import DOWNLOAD_POLICY, content_disposition
from webapp.views.errors import error_page

PATH = "/admin/accounts"
MAX_PASSWORD = 1000


async def _list(request: Request, status: int = 200, **context: Any) -> Response:
    accounts = await store(request).accounts.list()
    domains = await store(request).accounts.list_domains()
    wanted = request.query_params.get("domain", "").strip().lower()[:253]
    if wanted:
        accounts = [a for a in accounts if a.address.rpartition("@")[2] == wanted]
    context.setdefault("errors", {})
    context.setdefault("typed", {"address": "", "quota": "", "is_admin": False})
    return page(request, "admin/accounts.html", PATH, status, accounts=accounts,
                domains=domains, domain=wanted, **context)


async def show(request: Request) -> Response:
    return await _list(request)


async def create(request: Request) -> Response:
    form = await request.form()
    typed = {"address": text(form, "address", 320), "quota": text(form, "quota", 20),
             "is_admin": checked(form, "is_admin")}
    password = form.get("password")
    password = password[:MAX_PASSWORD] if isinstance(password, str) else ""
    try:
        quota = parse_quota(typed["quota"])
        info = await store(request).directory.create_account(
            actor(request), typed["address"], password, is_admin=typed["is_admin"],
            quota_bytes=quota)
    except StoreError as exc:
        return await _list(request, 400, errors=field_errors(exc, "address"), typed=typed)
    return done(f"{PATH}/{info.address}",
                f"Created {info.address}. Give them the password; they sign in at the "
                "webmail with their address.")


async def _account(request: Request) -> AccountInfo | None:
    try:
        return await store(request).accounts.get(request.path_params["address"])
    except StoreError:
        return None


async def _edit(request: Request, account: AccountInfo, status: int = 200,
                **context: Any) -> Response:
    others = [a.address for a in await store(request).accounts.list()
              if a.address != account.address]
    context.setdefault("errors", {})
    context.setdefault("typed", {"quota": quota_text(account.quota_bytes),
                                 "is_admin": account.is_admin, "disabled": account.disabled})
    context.setdefault("delete", {"mail": "give" if others else "delete", "give_to": "",
                                  "redirect": True})
    aliases = [(a, t) for a, t in await store(request).accounts.aliases()
               if t == account.address or a == account.address]
    return page(request, "admin/account.html", PATH, status, target=account, others=others,
                aliases=aliases, is_self=account.address == request.state.account.address,
                **context)


def _missing(request: Request) -> Response:
    return error_page(request, 404, "There is no such account (it may have been deleted).")


async def edit(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return _missing(request)
    return await _edit(request, account)


async def update(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return _missing(request)
    form = await request.form()
    typed = {"quota": text(form, "quota", 20), "is_admin": checked(form, "is_admin"),
             "disabled": checked(form, "disabled")}
    try:
        await store(request).directory.update_account(
            actor(request), account.address, quota_bytes=parse_quota(typed["quota"]),
            is_admin=typed["is_admin"], disabled=typed["disabled"])
    except StoreError as exc:
        return await _edit(request, account, 400, errors=field_errors(exc, "quota"),
                           typed=typed)
    return done(f"{PATH}/{account.address}", f"Saved the settings of {account.address}.")


async def password(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return _missing(request)
    form = await request.form()
    new = form.get("password")
    new = new[:MAX_PASSWORD] if isinstance(new, str) else ""
    again = form.get("again")
    errors: dict[str, str] = {}
    if new != (again if isinstance(again, str) else ""):
        errors = {"again": "The two passwords are not the same"}
    else:
        try:
            await store(request).directory.reset_password(actor(request), account.address, new)
        except StoreError as exc:
            errors = field_errors(exc, "password")
    if errors:
        return await _edit(request, account, 400, errors=errors)
    return done(f"{PATH}/{account.address}",
                f"Changed the password of {account.address}. Tell them the new one; "
                "mail programs will ask for it.")


async def remove(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return _missing(request)
    form = await request.form()
    choice = {"mail": text(form, "mail", 10), "give_to": text(form, "give_to", 320),
              "redirect": checked(form, "redirect")}
    give = choice["mail"] == "give"
    try:
        if choice["mail"] not in ("give", "delete"):
            raise DirectoryError("mail", "Choose what happens to the mail")
        if give and not choice["give_to"]:
            raise DirectoryError("give_to", "Choose the account that gets the mail")
        if text(form, "confirm", 320).lower() != account.address:
            raise DirectoryError("confirm", f"Type {account.address} to confirm")
        removed = await store(request).directory.delete_account(
            actor(request), account.address, give_to=choice["give_to"] if give else None,
            redirect=give and choice["redirect"])
    except NotFound as exc:
        return await _edit(request, account, 400, errors={"give_to": str(exc)},
                           delete=choice)
    except StoreError as exc:
        errors = field_errors(exc, "mail")
        if "address" in errors:
            errors = {"mail": errors["address"]}
        return await _edit(request, account, 400, errors=errors, delete=choice)
    if removed.given_to:
        message = (f"Deleted {removed.address}. Its {removed.messages} message(s) are now in "
                   f"{removed.given_to}, folder “{removed.folder}”.")
        if removed.redirected:
            message += f" New mail for {removed.address} goes to {removed.given_to}."
    else:
        message = f"Deleted {removed.address} and its {removed.messages} message(s)."
    if removed.dropped_aliases:
        message += f" Removed the aliases {', '.join(removed.dropped_aliases)} that led to it."
    if removed.dropped_memberships:
        message += f" It left the lists {', '.join(removed.dropped_memberships)}."
    return done(PATH, message)


async def export(request: Request) -> Response:
    """Every folder of the account as a zip of mbox files (audited: reading someone's
    mail is worth a line in the log even though nothing changes)."""
    account = await _account(request)
    if account is None:
        return _missing(request)
    mail = store(request)
    archive, count = await export_zip(mail, account.id)
    await mail.audit.record(actor(request), "account.export", account.address,
                            new={"messages": count})
    name = f"{account.address}-mail.zip"
    return StreamingResponse(chunks(archive), media_type="application/zip", headers={
        "Content-Disposition": content_disposition(name),
        "content-security-policy": DOWNLOAD_POLICY})


ROUTES = [
    (PATH, show, ["GET"]),
    (PATH, create, ["POST"]),
    (PATH + "/{address}", edit, ["GET"]),
    (PATH + "/{address}", update, ["POST"]),
    (PATH + "/{address}/password", password, ["POST"]),
    (PATH + "/{address}/delete", remove, ["POST"]),
    (PATH + "/{address}/export", export, ["GET"]),
]

"""Collector accounts: the ISP mailboxes the server downloads from, their last runs and
errors, "test connection" (which stage failed) and "run now".

The ISP password is write-only here: it is never put back into a page; an empty password
field on the edit form keeps the saved one. "Run now" makes the account due in the store,
so whichever node's scheduler looks first runs it (this node's is woken at once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from starlette.requests import Request
from starlette.responses import Response

from mailstore.collectors import (
    DEFAULT_PORTS,
    CollectorAccount,
    CollectorInvalid,
    CollectorKeyError,
    CollectorSettings,
    CollectorTaken,
    problems,
    validate,
)
from mailstore.errors import NotFound, StoreError
from webapp.admin.collector_rules import format_rules, parse_rules
from webapp.admin.guard import actor
from webapp.admin.pages import control, done, page, store
from webapp.views.errors import error_page

SECTION = "/admin/collectors"
NO_SERVER = ("This web app is not connected to a running server, so it cannot test "
             "connections; run it with tidings serve.")


@dataclass
class Form:
    """What the admin typed, as text, so a refused form shows it again unchanged."""

    name: str = ""
    protocol: str = "pop3"
    host: str = ""
    port: str = ""
    tls: str = "implicit"
    verify_tls: bool = True
    username: str = ""
    delivery: str = "single"
    recipient: str = ""
    keep: str = "leave"
    delete_after_days: str = ""
    interval: str = "5"
    timeout: str = "60"
    folder: str = "INBOX"
    enabled: bool = True
    rules: str | None = ""  # one rule per line; None: the form sent none (keep the saved)

    @classmethod
    def of(cls, a: CollectorAccount) -> Form:
        default_port = DEFAULT_PORTS[(a.protocol, a.tls)]
        return cls(
            name=a.name, protocol=a.protocol, host=a.host,
            port="" if a.port == default_port else str(a.port), tls=a.tls,
            verify_tls=a.verify_tls, username=a.username,
            delivery="multidrop" if a.multidrop else "single", recipient=a.recipient,
            keep="leave" if a.leave_on_server else "delete",
            delete_after_days="" if a.delete_after_days is None else str(a.delete_after_days),
            interval=_minutes(a.interval), timeout=str(a.timeout), folder=a.folder,
            enabled=a.enabled, rules=format_rules(a.rules))


def _minutes(seconds: int) -> str:
    return str(seconds // 60) if seconds % 60 == 0 else f"{seconds / 60:.2f}".rstrip("0")


async def _read(request: Request) -> tuple[Form, str, str]:
    """The form, the password typed (maybe empty) and the button pressed."""
    data = await request.form()

    def text(name: str, default: str = "") -> str:
        value = data.get(name, default)
        return value.strip()[:1000] if isinstance(value, str) else default

    form = Form(
        name=text("name"), protocol=text("protocol", "pop3"), host=text("host"),
        port=text("port"), tls=text("tls", "implicit"), verify_tls=bool(data.get("verify_tls")),
        username=text("username"), delivery=text("delivery", "single"),
        recipient=text("recipient"), keep=text("keep", "leave"),
        delete_after_days=text("delete_after_days"), interval=text("interval"),
        timeout=text("timeout"), folder=text("folder") or "INBOX",
        enabled=bool(data.get("enabled")))
    rules = data.get("rules")
    form.rules = rules[:20000] if isinstance(rules, str) else None
    password = data.get("password", "")
    return form, password if isinstance(password, str) else "", text("action", "save")


def _settings(form: Form, password: str, errors: dict[str, str]) -> CollectorSettings:
    """Form text to settings; numbers that are not numbers go into ``errors``."""

    def number(name: str, value: str, what: str, optional: bool = False,
               scale: float = 1) -> int | None:
        if not value and optional:
            return None
        try:
            return round(float(value) * scale)
        except ValueError:
            errors[name] = f"{what}: {value!r} is not a number"
            return None

    port = number("port", form.port, "port", optional=True)
    interval = number("interval", form.interval, "check every (minutes)", scale=60)
    timeout = number("timeout", form.timeout, "timeout (seconds)")
    days = number("delete_after_days", form.delete_after_days, "days", optional=True) \
        if form.keep == "leave" else None
    if form.protocol not in ("pop3", "imap"):
        errors["protocol"] = "choose POP3 or IMAP"
    if form.tls not in ("implicit", "starttls", "none"):
        errors["tls"] = "choose how the connection is encrypted"
    if form.delivery not in ("single", "multidrop"):
        errors["delivery"] = "choose where the mail goes"
    rules, problem = parse_rules(form.rules or "")
    if problem:
        errors["rules"] = problem
    settings = CollectorSettings(
        name=form.name, protocol=form.protocol if "protocol" not in errors else "pop3",
        host=form.host, username=form.username, password=password,
        recipient=form.recipient, port=port, tls=form.tls if "tls" not in errors else "none",
        verify_tls=form.verify_tls, interval=interval if interval is not None else 300,
        timeout=timeout if timeout is not None else 60, enabled=form.enabled,
        multidrop=form.delivery == "multidrop", leave_on_server=form.keep == "leave",
        delete_after_days=days, folder=form.folder, rules=rules)
    for name, message in problems(settings).items():
        errors.setdefault(name, _friendly(name, message))
    return settings


def _friendly(name: str, message: str) -> str:
    if name == "interval":
        return "check at most every 10 seconds (0.2 minutes); 5 minutes is usual"
    if name == "delete_after_days":
        return "a number of days, 0 or more (empty: never delete)"
    return message


def _stored_error(exc: StoreError) -> tuple[str, str]:
    """The field a store refusal belongs to."""
    if isinstance(exc, CollectorInvalid | CollectorTaken):
        return exc.field, str(exc)
    return "name", str(exc)


async def _accounts(request: Request) -> list[str]:
    return [a.address for a in await store(request).accounts.list()]


def _form_page(request: Request, template: str, form: Form, errors: dict[str, str],
               status: int = 200, **context: object) -> Response:
    defaults: dict[str, object] = {"stages": None, "test_problem": "", "test_failed": None,
                                   "collector": None, "addresses": []}
    return page(request, template, SECTION, status=status, form=form, errors=errors,
                **{**defaults, **context})


# Views -----------------------------------------------------------------------------------

async def list_collectors(request: Request) -> Response:
    accounts = await store(request).collectors.list()
    return page(request, "admin/collectors.html", SECTION, collectors=accounts,
                now=int(time.time()))


async def new_collector(request: Request) -> Response:
    if request.method == "GET":
        return _form_page(request, "admin/collector_new.html", Form(), {},
                          addresses=await _accounts(request))
    form, password, action = await _read(request)
    errors: dict[str, str] = {}
    settings = _settings(form, password, errors)
    if not password:
        errors["password"] = "type the password of the mailbox at the ISP"
    if action == "test":
        return await _tested(request, "admin/collector_new.html", form, settings, errors,
                             addresses=await _accounts(request))
    if not errors:
        try:
            added = await store(request).collectors.add(settings, actor(request))
        except StoreError as exc:
            field, message = _stored_error(exc)
            errors[field] = message
        else:
            return done(f"{SECTION}/{added.id}", f"Collector {added.name} added; it runs "
                        "within a few seconds.")
    if password and "password" not in errors:
        errors["password"] = "type the password again (it is never sent back to the page)"
    return _form_page(request, "admin/collector_new.html", form, errors, status=400,
                      addresses=await _accounts(request))


async def _tested(request: Request, template: str, form: Form, settings: CollectorSettings,
                  errors: dict[str, str], **context: object) -> Response:
    """Test connection with what is in the form (nothing is saved)."""
    errors.pop("name", None)  # the name does not matter for a test
    errors.pop("recipient", None)
    stages = None
    problem = ""
    running = control(request)
    if any(name != "rules" for name in errors):  # a wrong rule does not stop a test
        problem = "Correct the fields marked below, then test again."
    elif running is None:
        problem = NO_SERVER
    else:
        test = replace(settings, name=settings.name or "test",
                       recipient=settings.recipient or "postmaster@localhost")
        try:
            stages = await running.test_collector(validate(test))
        except StoreError as exc:
            problem = str(exc)
    failed = next((s for s in stages or () if s.state == "failed"), None)
    return _form_page(request, template, form, errors, stages=stages, test_problem=problem,
                      test_failed=failed, **context)


async def _get(request: Request) -> CollectorAccount | None:
    try:
        return await store(request).collectors.get_by_id(request.path_params["id"])
    except NotFound:
        return None


def _missing(request: Request) -> Response:
    return error_page(request, 404, "There is no such collector account (was it removed?).")


async def _detail_context(request: Request, account: CollectorAccount) -> dict[str, object]:
    return {"collector": account, "runs": await store(request).collectors.runs(account.id),
            "now": int(time.time()), "addresses": await _accounts(request)}


async def show(request: Request) -> Response:
    account = await _get(request)
    if account is None:
        return _missing(request)
    if request.method == "GET":
        return _form_page(request, "admin/collector.html", Form.of(account), {},
                          **await _detail_context(request, account))
    form, password, action = await _read(request)
    errors: dict[str, str] = {}
    collectors = store(request).collectors
    if not password:
        try:
            password = (await collectors.get_by_id(account.id, secret=True)).password
            typed = False
        except CollectorKeyError as exc:
            errors["password"] = str(exc)
            typed = False
    else:
        typed = True
    if form.rules is None:  # a client that did not send the rules keeps the saved ones
        form.rules = format_rules(account.rules)
    settings = _settings(form, password, errors)
    if action == "test":
        return await _tested(request, "admin/collector.html", form, settings, errors,
                             **await _detail_context(request, account))
    if not errors:
        try:
            changed = await collectors.change(account.name, settings, actor(request),
                                              new_password=typed)
        except StoreError as exc:
            field, message = _stored_error(exc)
            errors[field] = message
        else:
            return done(f"{SECTION}/{changed.id}", f"Collector {changed.name} saved.")
    if typed and "password" not in errors:
        errors["password"] = "type the new password again (it is never sent back to the page)"
    return _form_page(request, "admin/collector.html", form, errors, status=400,
                      **await _detail_context(request, account))


async def run_now(request: Request) -> Response:
    account = await _get(request)
    if account is None:
        return _missing(request)
    if not account.enabled:
        return done(f"{SECTION}/{account.id}", f"Collector {account.name} is switched off: "
                    "switch it on (Collect from this mailbox) and save, then run it.")
    await store(request).collectors.run_now(account.name, actor(request))
    running = control(request)
    if running is not None:
        running.wake_collectors()
    return done(f"{SECTION}/{account.id}", f"Collector {account.name} will run within a few "
                "seconds; its result appears below.")


async def remove(request: Request) -> Response:
    account = await _get(request)
    if account is None:
        return _missing(request)
    await store(request).collectors.remove(account.name, actor(request))
    return done(SECTION, f"Collector {account.name} removed. Mail already collected stays "
                "where it was delivered; nothing was deleted at the ISP.")


async def status(request: Request) -> Response:
    """The last-run box alone, for htmx to poll while a run is pending."""
    account = await _get(request)
    if account is None:
        return _missing(request)
    return page(request, "admin/_collector_status.html", SECTION, collector=account,
                now=int(time.time()), oob=True,
                runs=await store(request).collectors.runs(account.id))


ROUTES = [
    (SECTION, list_collectors, ["GET"]),
    (f"{SECTION}/new", new_collector, ["GET", "POST"]),
    (SECTION + "/{id:int}", show, ["GET", "POST"]),
    (SECTION + "/{id:int}/status", status, ["GET"]),
    (SECTION + "/{id:int}/run", run_now, ["POST"]),
    (SECTION + "/{id:int}/remove", remove, ["POST"]),
]

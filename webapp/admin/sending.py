"""Sending: how mail leaves the server. Smart hosts, which senders use which way out, the
default way, and the retry schedule.

Implementation notes:
- Everything is saved as settings over tidings.toml (``delivery.smarthost``,
  ``delivery.route``, ``delivery.via``, ``delivery.retry`` ...), checked first with the
  file's own parser (``control.check_settings``); the running queue picks them up at once.
- A smart host list saved here replaces the file's list as a whole; every password in it
  is sealed (``password_sealed``, encrypted with the data folder's key) so the database
  never holds one in clear, and the audit log says only "changed" (server_settings).
- Passwords are never shown back: an empty password field keeps the saved one.
- A smart host that a route or the default way uses cannot be removed or renamed here
  (the admin is told which one uses it), so no sender is left without a way out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.admin.control import CheckResult, ServerControl
from webapp.admin.guard import actor
from webapp.admin.pages import control, done, page, store

DIRECT = "direct"
TLS_MODES = (("starttls", "STARTTLS (port 587, usual)"), ("implicit", "TLS from the start "
             "(port 465)"), ("none", "No encryption (only inside your own network)"))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$")
_DURATION = re.compile(r"^\d+\s*[smhd]?$", re.IGNORECASE)
DEFAULT_RETRY = ["5m", "15m", "30m", "1h", "2h", "4h"]


@dataclass(frozen=True, slots=True)
class HostRow:
    name: str
    host: str
    port: int
    tls: str
    username: str
    has_password: bool
    verify_certificate: bool
    used_by: tuple[str, ...]


def _hosts(ctl: ServerControl) -> list[dict[str, Any]]:
    value = ctl.setting("delivery.smarthost")
    return [dict(h) for h in value if isinstance(h, dict)] if isinstance(value, list) else []


def _routes(ctl: ServerControl) -> list[dict[str, Any]]:
    value = ctl.setting("delivery.route")
    return [dict(r) for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _via_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else [DIRECT]


def _default_via(ctl: ServerControl) -> list[str]:
    value = ctl.setting("delivery.via")
    return _via_list(value) if value is not None else [DIRECT]


def _used_by(ctl: ServerControl, name: str) -> tuple[str, ...]:
    """Where a smart host is used, in words: "the default way", "mail from example.org"."""
    uses = []
    if name in _default_via(ctl):
        uses.append("the default way out")
    for route in _routes(ctl):
        if name in _via_list(route.get("via")):
            uses.append("mail from " + ", ".join(str(s) for s in route.get("senders", [])))
    return tuple(uses)


def _rows(ctl: ServerControl) -> list[HostRow]:
    rows = []
    for h in _hosts(ctl):
        tls = str(h.get("tls", "starttls"))
        rows.append(HostRow(
            str(h.get("name", "")), str(h.get("host", "")),
            int(h.get("port", 465 if tls == "implicit" else 587)), tls,
            str(h.get("username", "")), bool(h.get("password") or h.get("password_sealed")),
            bool(h.get("verify_certificate", True)), _used_by(ctl, str(h.get("name", "")))))
    return rows


def _sealed(ctl: ServerControl, host: dict[str, Any]) -> dict[str, Any]:
    """The table as saved: a clear password (from tidings.toml) sealed."""
    table = dict(host)
    password = table.pop("password", None)
    if password:
        table["password_sealed"] = ctl.seal_secret(str(password))
    return table


def _general_values(ctl: ServerControl) -> dict[str, str]:
    via = _default_via(ctl)
    retry = ctl.setting("delivery.retry")
    return {
        "via": via[0], "via_fallback": via[1] if len(via) > 1 else "",
        "retry": ", ".join(str(r) for r in retry) if isinstance(retry, list)
        else ", ".join(DEFAULT_RETRY),
        "delay_notice_after": str(ctl.setting("delivery.delay_notice_after") or "4h"),
        "expire_after": str(ctl.setting("delivery.expire_after") or "5d"),
    }


def _render(request: Request, status: int = 200, **context: Any) -> Response:
    ctl = control(request)
    if ctl is None:
        return page(request, "admin/sending.html", "/admin/sending", status=status,
                    unavailable=True)
    context.setdefault("general", _general_values(ctl))
    context.setdefault("tested", {})
    context.setdefault("route_form", {"senders": "", "via": DIRECT, "via_fallback": ""})
    return page(request, "admin/sending.html", "/admin/sending", status=status,
                unavailable=False, hosts=_rows(ctl), routes=_routes(ctl),
                tls_modes=TLS_MODES, errors=context.pop("errors", {}), **context)


async def show(request: Request) -> Response:
    return _render(request)


# smart hosts ----------------------------------------------------------------------------
def _field_for(message: str) -> str:
    """Which form field a parser message is about (the parser names the key)."""
    lowered = message.lower()
    for key in ("port", "tls", "username", "password", "verify_certificate"):
        if f" {key} " in lowered or lowered.endswith(f" {key}"):
            return key
    if "needs a host" in lowered:
        return "host"
    if "name" in lowered:
        return "name"
    return "form"


def _host_form_values(form: Any) -> dict[str, str]:
    return {k: str(form.get(k, "")).strip() for k in ("name", "host", "port", "tls",
                                                       "username")} | {
        "verify_certificate": "on" if form.get("verify_certificate") else ""}


async def host_form(request: Request) -> Response:
    """The form for a new smart host, or for editing one (``?name=``)."""
    ctl = control(request)
    if ctl is None:
        return _render(request)
    name = request.path_params.get("name")
    if name is None:
        values = {"name": "", "host": "", "port": "587", "tls": "starttls", "username": "",
                  "verify_certificate": "on"}
        return _host_page(request, values, {}, editing=None)
    existing = next((h for h in _rows(ctl) if h.name == name), None)
    if existing is None:
        return _render(request, 404, errors={"hosts": f"There is no smart host named {name}."})
    values = {"name": existing.name, "host": existing.host, "port": str(existing.port),
              "tls": existing.tls, "username": existing.username,
              "verify_certificate": "on" if existing.verify_certificate else ""}
    return _host_page(request, values, {}, editing=existing)


def _host_page(request: Request, values: dict[str, str], errors: dict[str, str], *,
               editing: HostRow | None, status: int = 200) -> Response:
    return page(request, "admin/smarthost.html", "/admin/sending", status=status,
                values=values, errors=errors, editing=editing, tls_modes=TLS_MODES)


async def save_host(request: Request) -> Response:
    ctl = control(request)
    if ctl is None:
        return _render(request)
    form = await request.form()
    values = _host_form_values(form)
    password = str(form.get("password", ""))
    original = request.path_params.get("name")
    hosts = _hosts(ctl)
    rows = {r.name: r for r in _rows(ctl)}
    editing = rows.get(original) if original is not None else None
    if original is not None and editing is None:
        return _render(request, 404, errors={"hosts": f"There is no smart host named "
                                                      f"{original}."})
    errors: dict[str, str] = {}
    name = values["name"]
    if not name:
        errors["name"] = "Give the smart host a short name, for example: isp"
    elif not _NAME.match(name) or name.lower() in (DIRECT, "new"):
        errors["name"] = ("Use letters, digits, dots, hyphens and underscores (not "
                          "\"direct\" or \"new\"), for example: isp")
    elif name != original and name in rows:
        errors["name"] = f"There is already a smart host named {name}."
    elif editing is not None and name != original and editing.used_by:
        errors["name"] = (f"{original} is used by {'; '.join(editing.used_by)}: change "
                          "that first, or keep the name")
    if not values["host"]:
        errors["host"] = "Enter the server's name, for example: smtp.isp.example"
    elif not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", values["host"]):
        errors["host"] = "A server name has only letters, digits, dots and hyphens"
    tls = values["tls"] or "starttls"
    if tls not in dict(TLS_MODES):
        errors["tls"] = "Choose one of the encryption modes"
    port = values["port"] or ("465" if tls == "implicit" else "587")
    if not port.isdigit() or not 0 < int(port) < 65536:
        errors["port"] = "A port is a number from 1 to 65535 (587 or 465 usually)"
    if password and not values["username"]:
        errors["username"] = "A password needs a user name"
    if errors:
        return _host_page(request, values, errors, editing=editing, status=400)
    table: dict[str, Any] = {"name": name, "host": values["host"], "port": int(port),
                             "tls": tls}
    if values["username"]:
        table["username"] = values["username"]
        old = next((h for h in hosts if h.get("name") == original), {}) if editing else {}
        if password:
            table["password_sealed"] = ctl.seal_secret(password)
        elif old.get("password_sealed"):
            table["password_sealed"] = old["password_sealed"]
        elif old.get("password"):
            table["password"] = old["password"]
    if not values["verify_certificate"]:
        table["verify_certificate"] = False
    if editing is None:
        new_hosts = [*hosts, table]
    else:
        new_hosts = [table if h.get("name") == original else h for h in hosts]
    new_hosts = [_sealed(ctl, h) for h in new_hosts]
    change = {"delivery.smarthost": new_hosts}
    problems = ctl.check_settings(change)
    if problems:
        message = next(iter(problems.values()))
        field = _field_for(message)
        return _host_page(request, values, {field: message}, editing=editing, status=400)
    await store(request).server_settings.change(actor(request), change)
    verb = "added" if editing is None else "saved"
    return done("/admin/sending", f"Smart host {name} {verb}. Use \"Test\" to check that "
                "it accepts our login.")


async def remove_host(request: Request) -> Response:
    ctl = control(request)
    if ctl is None:
        return _render(request)
    name = request.path_params["name"]
    row = next((r for r in _rows(ctl) if r.name == name), None)
    if row is None:
        return _render(request, 404, errors={"hosts": f"There is no smart host named {name}."})
    if row.used_by:
        return _render(request, 400, errors={f"host-{name}": (
            f"{name} is used by {'; '.join(row.used_by)}: send that mail another way first")})
    change = {"delivery.smarthost": [_sealed(ctl, h) for h in _hosts(ctl)
                                     if h.get("name") != name]}
    problems = ctl.check_settings(change)
    if problems:
        return _render(request, 400, errors={f"host-{name}": next(iter(problems.values()))})
    await store(request).server_settings.change(actor(request), change)
    return done("/admin/sending", f"Smart host {name} removed.")


async def test_host(request: Request) -> Response:
    ctl = control(request)
    if ctl is None:
        return _render(request)
    name = request.path_params["name"]
    result: CheckResult = await ctl.test_smarthost(name)
    return _render(request, tested={name: result})


# routes ---------------------------------------------------------------------------------
def _via_from(form: Any, names: set[str]) -> tuple[list[str], str]:
    """The way out chosen in a form (first choice, optional fallback), or an error."""
    first = str(form.get("via", "")).strip() or DIRECT
    fallback = str(form.get("via_fallback", "")).strip()
    if first != DIRECT and first not in names:
        return [], f"There is no smart host named {first}."
    if not fallback or first == DIRECT:
        return [first], ""
    if fallback == DIRECT or fallback not in names:
        return [], "The fallback must be another smart host."
    if fallback == first:
        return [], "The fallback must be a different smart host."
    return [first, fallback], ""


def _senders(text: str) -> tuple[list[str], str]:
    items = [s.strip().lower() for s in re.split(r"[\s,;]+", text) if s.strip()]
    if not items:
        return [], "Enter at least one domain or address, for example: example.org"
    for item in items:
        local, at, domain = item.rpartition("@")
        if at and (not local or not _DOMAIN.match(domain) or domain.startswith("*.")):
            return [], f"{item} is not an address (for example ann@example.com)"
        if not at and not _DOMAIN.match(item):
            return [], (f"{item} is not a domain (for example example.org, or "
                        "*.example.org for its subdomains)")
    return items, ""


async def add_route(request: Request) -> Response:
    ctl = control(request)
    if ctl is None:
        return _render(request)
    form = await request.form()
    values = {"senders": str(form.get("route.senders", "")).strip(),
              "via": str(form.get("via", "")).strip(),
              "via_fallback": str(form.get("via_fallback", "")).strip()}
    errors: dict[str, str] = {}
    senders, problem = _senders(values["senders"])
    if problem:
        errors["route.senders"] = problem
    via, problem = _via_from(form, {h.name for h in _rows(ctl)})
    if problem:
        errors["route.via"] = problem
    if errors:
        return _render(request, 400, errors=errors, route_form=values)
    routes = [*_routes(ctl), {"senders": senders, "via": via}]
    change = {"delivery.route": routes}
    problems = ctl.check_settings(change)
    if problems:
        return _render(request, 400, errors={"route.senders": next(iter(problems.values()))},
                       route_form=values)
    await store(request).server_settings.change(actor(request), change)
    return done("/admin/sending", f"Mail from {', '.join(senders)} now goes "
                f"{_way(via)}.")


def _way(via: list[str]) -> str:
    if via == [DIRECT]:
        return "directly to the recipients' mail servers"
    return "through " + " (then ".join(via) + (")" if len(via) > 1 else "")


async def remove_route(request: Request) -> Response:
    ctl = control(request)
    if ctl is None:
        return _render(request)
    index = request.path_params["index"]
    routes = _routes(ctl)
    if not 0 <= index < len(routes):
        return _render(request, 404, errors={"routes": "That route no longer exists."})
    removed = routes.pop(index)
    await store(request).server_settings.change(actor(request), {"delivery.route": routes})
    senders = ", ".join(str(s) for s in removed.get("senders", []))
    return done("/admin/sending", f"Mail from {senders} now goes the default way.")


# default way and retries ----------------------------------------------------------------
async def save_general(request: Request) -> Response:
    ctl = control(request)
    if ctl is None:
        return _render(request)
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("via", "via_fallback")} | {
        k: str(form.get(f"delivery.{k}", "")).strip()
        for k in ("retry", "delay_notice_after", "expire_after")}
    errors: dict[str, str] = {}
    via, problem = _via_from(form, {h.name for h in _rows(ctl)})
    if problem:
        errors["delivery.via"] = problem
    retry = [r.strip() for r in re.split(r"[\s,;]+", values["retry"]) if r.strip()]
    if not retry:
        errors["delivery.retry"] = "Enter at least one wait, for example: 5m, 15m, 1h"
    elif bad := next((r for r in retry if not _DURATION.match(r)), None):
        errors["delivery.retry"] = (f"{bad} is not a duration: use a number with s, m, h "
                                    "or d, for example 5m, 1h, 2d")
    for key in ("delay_notice_after", "expire_after"):
        if not _DURATION.match(values[key]):
            errors[f"delivery.{key}"] = "A duration such as 4h or 5d"
    if errors:
        return _render(request, 400, errors=errors, general=values)
    current = _general_values(ctl)
    change: dict[str, Any] = {}
    if via != _default_via(ctl):
        change["delivery.via"] = via[0] if len(via) == 1 else via
    if ", ".join(retry) != current["retry"]:
        change["delivery.retry"] = retry
    for key in ("delay_notice_after", "expire_after"):
        if values[key] != current[key]:
            change[f"delivery.{key}"] = values[key]
    if not change:
        return done("/admin/sending", "Nothing was changed.")
    problems = ctl.check_settings(change)
    if problems:
        return _render(request, 400, errors=problems, general=values)
    await store(request).server_settings.change(actor(request), change)
    return done("/admin/sending", f"Saved: mail leaves {_way(via)} unless a route below "
                "says otherwise.")


ROUTES = [
    ("/admin/sending", show, ["GET"]),
    ("/admin/sending/general", save_general, ["POST"]),
    ("/admin/sending/smarthost/new", host_form, ["GET"]),
    ("/admin/sending/smarthost/new", save_host, ["POST"]),
    ("/admin/sending/smarthost/{name}", host_form, ["GET"]),
    ("/admin/sending/smarthost/{name}", save_host, ["POST"]),
    ("/admin/sending/smarthost/{name}/remove", remove_host, ["POST"]),
    ("/admin/sending/smarthost/{name}/test", test_host, ["POST"]),
    ("/admin/sending/route/new", add_route, ["POST"]),
    ("/admin/sending/route/{index:int}/remove", remove_route, ["POST"]),
]

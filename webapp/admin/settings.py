"""Server settings pages: limits, receiving and access, the server's services, TLS.

Implementation notes:
- Every field is a dotted tidings.toml name; the form's text becomes the value the TOML file
  would hold, only changed fields are sent, and ``control.check_settings`` (the file's own
  parser, plus "can this machine listen there?") judges them before
  ``store.server_settings.change`` saves, audits and applies them at once. A refused form
  keeps what the admin typed and puts each error next to its field.
- Two changes need the admin to confirm: a relay network so large that it makes an open
  relay, and a certificate whose names do not cover the server's hostname.
- The web listener's own port and switch are shown, not editable: changing them from this
  page would cut the page off (see ``tidings.control.WEB_ONLY_IN_FILE``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from webapp.admin.guard import actor
from webapp.admin.pages import control, done, page, store

OPEN_RELAY_ADDRESSES = 65_536  # a relay network wider than a /16 is the whole internet's
MAX_PEM = 1024 * 1024
_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the dotted tidings.toml name
    label: str
    help: str = ""
    kind: str = "text"  # text, size, number, port, bool, choice, networks, names
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


@dataclass(frozen=True, slots=True)
class Group:
    heading: str
    fields: tuple[Field, ...]
    intro: str = ""


@dataclass(frozen=True, slots=True)
class SettingsPage:
    path: str
    title: str
    intro: str
    groups: tuple[Group, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def fields(self) -> list[Field]:
        return [f for g in self.groups for f in g.fields]


SMTP_LISTENERS = (("smtp", "SMTP from other servers (MX)"),
                  ("submission", "Submission (mail programs, STARTTLS)"),
                  ("submissions", "Submission with TLS (mail programs)"))
ACCESS_LISTENERS = (("imap", "IMAP"), ("imaps", "IMAP with TLS"), ("pop3", "POP3"),
                    ("pop3s", "POP3 with TLS"))
NETWORK_HELP = "One network per line, e.g. 192.168.1.0/24 or 203.0.113.7."

LIMITS = SettingsPage(
    "/admin/limits", "Limits",
    "How big a message may be, how many people it may go to, and how fast one computer or "
    "one user may send. The limits protect the server from runaway programs and from "
    "senders of junk; they apply to the next message, without a restart.",
    (Group("Messages", (
        Field("smtp.max_message_size", "Largest message",
              "For example 25M or 10M. Attachments grow by about a third when sent, so a 25M "
              "limit takes attachments up to about 18M. The webmail's attachment limit "
              "follows this one.", "size"),
        Field("smtp.max_recipients", "Recipients per message",
              "More recipients than this in one message are refused (the sender may send "
              "the rest in another message).", "number"),
        Field("smtp.mailbox_full_code", "When a recipient's mailbox is full",
              "What the sending server is told.", "choice",
              (("452", "Try again later (452): the mail waits at the sender's server"),
               ("552", "Give up (552): the sender gets it back at once"))),
    )), Group("Rates", (
        Field("smtp.messages_per_minute_per_ip", "Messages per minute from one address",
              "Mail sent without logging in, counted per IP address. 0: no limit.",
              "number"),
        Field("smtp.messages_per_minute_per_user", "Messages per minute from one user",
              "Mail sent by a logged-in user. 0: no limit. A few dozen stops a stolen "
              "password from sending thousands of junk mails.", "number"),
        Field("smtp.max_connections_per_ip", "Connections at once from one address",
              "SMTP connections open at the same time from one IP address. 0: no limit.",
              "number"),
    ))))

ACCESS = SettingsPage(
    "/admin/access", "Receiving and access",
    "Who may connect to each service, which computers may send mail to other domains without "
    "logging in, and how mail from other servers is checked. Changes apply to the next "
    "connection, without a restart.",
    (Group("Relaying", (
        Field("smtp.relay_networks", "Networks that may send without logging in",
              "Computers here may send mail to any address without a password, e.g. your "
              "office network 192.168.1.0/24. Leave it empty if every mail program logs in. "
              "Never put the whole internet (0.0.0.0/0) here: that makes an open relay, and "
              "spammers find it within hours.", "networks"),
    )), Group("Checks of mail from other servers", (
        Field("smtp.check_sender_auth", "Check SPF, DKIM and DMARC",
              "Mail arriving on the SMTP port is checked against the sender domain's "
              "published rules (SPF, DKIM and DMARC). When the domain asks for quarantine, "
              "the message goes to the recipient's Junk folder. Mail from relay networks "
              "and logged-in users is not checked.",
              "bool"),
        Field("smtp.dmarc_reject", "When the sender's domain asks for rejection",
              "Forwarded mail and mailing lists sometimes fail these checks although they "
              "are genuine; Junk keeps such mail where the recipient can still find it.",
              "choice", (("reject", "Refuse the message (the sender is told)"),
                         ("junk", "Deliver it to the recipient's Junk folder"))),
        Field("smtp.dnsbl_zones", "DNS blocklists",
              "Servers listed by one of these are refused when they connect, e.g. "
              "zen.spamhaus.org. One per line; empty: none.", "names"),
    )), Group("Who may connect to SMTP", tuple(
        Field(f"smtp.{kind}.{name}", f"{label}: {word}", help_, "networks")
        for name, label in SMTP_LISTENERS
        for kind, word, help_ in (
            ("allow", "only these networks", "Empty: everyone may connect. " + NETWORK_HELP),
            ("deny", "never these networks", NETWORK_HELP))),
        "A denied address is refused with 554 before the greeting."),
     Group("Who may connect to IMAP and POP3", tuple(
         Field(f"access.{kind}.{name}", f"{label}: {word}", help_, "networks")
         for name, label in ACCESS_LISTENERS
         for kind, word, help_ in (
             ("allow", "only these networks", "Empty: everyone may connect. " + NETWORK_HELP),
             ("deny", "never these networks", NETWORK_HELP))),
         "A denied address is disconnected before the greeting.")))

MAIL_SERVICES = (("smtp", "SMTP from other servers (MX)", "Production port: 25."),
                 ("submission", "Submission (STARTTLS)", "Production port: 587."),
                 ("submissions", "Submission with TLS", "Production port: 465."),
                 ("imap", "IMAP (STARTTLS)", "Production port: 143."),
                 ("imaps", "IMAP with TLS", "Production port: 993."),
                 ("pop3", "POP3 (STARTTLS)", "Production port: 110."),
                 ("pop3s", "POP3 with TLS", "Production port: 995."))

SERVER = SettingsPage(
    "/admin/server", "Server",
    "The server's name, the address it listens on, and which services run on which port. "
    "A change applies at once: a service moved to another port stops listening on the old "
    "one (connections already open finish normally) and listens on the new one.",
    (Group("Identity", (
        Field("server.hostname", "Hostname",
              "The name this server gives in greetings and Received headers, e.g. "
              "mail.example.com. It should match the TLS certificate and the MX record."),
        Field("server.bind", "Listen on address",
              "0.0.0.0: every network of this machine (needed for mail from the internet); "
              "127.0.0.1: this machine only; or one of its addresses. The web listener "
              "keeps its address until the server is restarted."),
    )), Group("Services", tuple(
        f for name, label, help_ in MAIL_SERVICES for f in (
            Field(f"services.{name}", f"{label} switched on", "", "bool"),
            Field(f"ports.{name}", f"{label} port", help_, "port"))),
        "Switch off what nobody uses: every open port is one more door to watch.")),
    ("The web port (this page) can only be changed in tidings.toml, followed by a restart: "
     "changing it here would cut off this page while you use it.",))

PAGES = {p.path: p for p in (LIMITS, ACCESS, SERVER)}


# Values: form text <-> what tidings.toml holds -----------------------------------------------
def shown(value: object, kind: str) -> Any:
    """A setting's value as the form shows it."""
    if kind == "bool":
        return bool(value) if value is not None else None
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def parsed(text: str, kind: str) -> object:
    """The TOML value for what the admin typed (the parser judges it afterwards)."""
    text = text.strip()
    if kind in ("networks", "names"):
        return [item for item in re.split(r"[\s,;]+", text) if item]
    if kind in ("number", "port", "choice") or (kind == "size" and text.isdigit()):
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    return text


def plain(message: str, name: str) -> str:
    """The parser's line for one field, without the ``[table] key`` that names it."""
    table, _, key = name.rpartition(".")
    for prefix in (f"[{table}] {key}: ", f"[{table}] {key} "):
        if message.startswith(prefix):
            rest = message[len(prefix):]
            return rest[:1].upper() + rest[1:]
    return message[:1].upper() + message[1:]


def own_problems(changes: dict[str, object]) -> dict[str, str]:
    """What the file's parser lets through but a form should not."""
    problems = {}
    host = changes.get("server.hostname")
    if isinstance(host, str) and not _HOSTNAME.fullmatch(host):
        problems["server.hostname"] = "Enter a host name such as mail.example.com."
    bind = changes.get("server.bind")
    if isinstance(bind, str):
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            problems["server.bind"] = "Enter an IP address such as 0.0.0.0 or 192.168.1.10."
    zones = changes.get("smtp.dnsbl_zones")
    if isinstance(zones, list):
        bad = [z for z in zones if not _HOSTNAME.fullmatch(z) or "." not in z.strip(".")]
        if bad:
            problems["smtp.dnsbl_zones"] = f"{bad[0]} is not a DNS zone such as zen.spamhaus.org."
    return problems


def open_relay(networks: object) -> str:
    """A warning when a relay network lets a large part of the internet relay ("" if not)."""
    if not isinstance(networks, list):
        return ""
    for text in networks:
        try:
            network = ipaddress.ip_network(str(text), strict=False)
        except ValueError:
            continue
        if network.prefixlen == 0:
            return (f"{network} is the whole internet: anyone could send mail through this "
                    "server without a password (an open relay), and it would be blocklisted "
                    "within days.")
        if network.num_addresses > OPEN_RELAY_ADDRESSES and not network.is_private:
            return (f"{network} holds {network.num_addresses:,} addresses: everyone in it "
                    "could send mail through this server without a password (an open relay).")
    return ""


# Views ----------------------------------------------------------------------------------------
def _values(request: Request, spec: SettingsPage) -> dict[str, Any]:
    running = control(request)
    if running is None:
        return {}
    return {f.name: shown(running.setting(f.name), f.kind) for f in spec.fields}


def _changed_here(request: Request, spec: SettingsPage) -> list[Field]:
    """The page's fields whose value was set in the admin, over tidings.toml's."""
    running = control(request)
    names = running.overridden() if running is not None else frozenset()
    return [f for f in spec.fields if f.name in names]


def _render(request: Request, spec: SettingsPage, values: dict[str, Any],
            errors: dict[str, str], status: int = 200, **extra: Any) -> Response:
    running = control(request)
    return page(request, "admin/settings.html", spec.path, status=status, spec=spec,
                values=values, errors=errors, available=running is not None,
                services=running.services() if running is not None else [],
                changed_here=_changed_here(request, spec), **extra)


async def show(request: Request) -> Response:
    spec = PAGES[request.url.path]
    return _render(request, spec, _values(request, spec), {})


async def save(request: Request) -> Response:
    spec = PAGES[request.url.path]
    running = control(request)
    if running is None:
        return _render(request, spec, {}, {}, 503)
    form = await request.form()
    typed: dict[str, Any] = {}
    changes: dict[str, object] = {}
    for f in spec.fields:
        if f.kind == "bool":
            typed[f.name] = value = f.name in form
        else:
            text = form.get(f.name)
            typed[f.name] = text = text if isinstance(text, str) else ""
            value = parsed(text, f.kind)
        current = running.setting(f.name)
        if value == current or (current is None and value in ([], "")):
            continue
        if f.kind == "size" and isinstance(current, str) and str(value).upper() == current.upper():
            continue
        changes[f.name] = value
    if not changes:
        return done(spec.path, "Nothing changed.")
    errors = own_problems(changes)
    errors.update({name: plain(problem, name) for name, problem in running.check_settings(
        {k: v for k, v in changes.items() if k not in errors}).items()})
    warning = open_relay(changes.get("smtp.relay_networks"))
    confirm = {}
    if warning and not errors and "confirm_open_relay" not in form:
        errors["smtp.relay_networks"] = warning + " Tick the box below to save it anyway."
        confirm["smtp.relay_networks"] = "confirm_open_relay"
    if errors:
        return _render(request, spec, typed, errors, 400, confirm=confirm)
    await store(request).server_settings.change(actor(request), changes)
    names = ", ".join(_said(f, changes[f.name]) for f in spec.fields if f.name in changes)
    return done(spec.path, f"Saved and in use now: {names}.")


async def reset(request: Request) -> Response:
    """Go back to tidings.toml's values for every field of this page changed here."""
    spec = PAGES[request.url.path.removesuffix("/reset")]
    running = control(request)
    if running is None:
        return _render(request, spec, {}, {}, 503)
    fields = _changed_here(request, spec)
    if not fields:
        return done(spec.path, "Nothing to reset: every value here is tidings.toml's.")
    problem = running.check_reset(tuple(f.name for f in fields))
    if problem:
        return _render(request, spec, _values(request, spec), {}, 400,
                       reset_error=f"Cannot go back to tidings.toml's values: {problem}")
    await store(request).server_settings.change(
        actor(request), {}, removed=tuple(f.name for f in fields))
    return done(spec.path, "Back to tidings.toml's values, in use now: "
                + ", ".join(f.label for f in fields) + ".")


def _said(f: Field, value: object) -> str:
    """One change in the confirmation line: "POP3 switched off", "Largest message"."""
    if f.kind != "bool":
        return f.label
    if f.label.endswith(" switched on"):
        return f.label.removesuffix(" on") + (" on" if value else " off")
    return f"{f.label}: {'on' if value else 'off'}"


# TLS ------------------------------------------------------------------------------------------
async def tls_show(request: Request) -> Response:
    return _tls(request, {})


def _tls(request: Request, errors: dict[str, str], status: int = 200,
         warnings: tuple[str, ...] = ()) -> Response:
    running = control(request)
    return page(request, "admin/tls.html", "/admin/tls", status=status,
                available=running is not None,
                certificate=running.certificate() if running is not None else None,
                hostname=running.setting("server.hostname") if running is not None else "",
                errors=errors, warnings=warnings)


async def _pem(form: Any, name: str) -> bytes:
    """An uploaded file, or text pasted into the field of the same name + "_text"."""
    upload = form.get(name)
    data = b""
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_PEM + 1)
    if not data.strip():
        pasted = form.get(name + "_text")
        data = pasted.encode() if isinstance(pasted, str) else b""
    return data[:MAX_PEM + 1]


async def tls_upload(request: Request) -> Response:
    running = control(request)
    if running is None:
        return _tls(request, {}, 503)
    form = await request.form()
    cert, key = await _pem(form, "certificate"), await _pem(form, "key")
    if len(cert) > MAX_PEM or len(key) > MAX_PEM:
        return _tls(request, {"certificate": "This file is far too big for a certificate."},
                    400)
    verdict = running.check_certificate(cert, key)
    if verdict.problems:
        return _tls(request, verdict.problems, 400)
    if verdict.warnings and "confirm" not in form:
        return _tls(request, {}, 400, warnings=verdict.warnings)
    before = running.certificate()
    verdict = running.install_certificate(cert, key)
    if verdict.problems:  # changed between check and install (clock): nothing was written
        return _tls(request, verdict.problems, 400)
    info = verdict.info
    await store(request).audit.record(
        actor(request), "tls certificate", "tls.certificate",
        old=_summary(before), new=_summary(info))
    return done("/admin/tls", "The new certificate is in use for every new connection.")


def _summary(info: Any) -> str | None:
    if info is None:
        return None
    return (f"{', '.join(info.names) or info.subject}, issued by {info.issuer}, "
            f"valid until {info.not_after:%Y-%m-%d}")


ROUTES = [
    *[(path, show, ["GET"]) for path in PAGES],
    *[(path, save, ["POST"]) for path in PAGES],
    *[(path + "/reset", reset, ["POST"]) for path in PAGES],
    ("/admin/tls", tls_show, ["GET"]),
    ("/admin/tls", tls_upload, ["POST"]),
]

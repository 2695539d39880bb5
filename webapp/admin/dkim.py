"""DKIM keys: the signatures that let receivers check our mail really comes from our
domains. Make a key per domain, publish its DNS record, check that DNS shows it.

The private key never leaves the database; the page shows only the public record to copy
into the domain's DNS. The check asks the configured DNS servers (``[smtp] dns_servers``
or ``[delivery] dns_servers``) through the running server (``control.check_dkim_record``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailstore.dkimkeys import RSA_SIZES, DkimKeyInfo
from mailstore.errors import StoreError
from webapp.admin.guard import actor
from webapp.admin.pages import control, done, page, store

# (form value, label): RSA 2048 first, the size every receiver checks.
KEY_TYPES = [("rsa-2048", "RSA 2048 bits (recommended)"),
             *[(f"rsa-{b}", f"RSA {b} bits") for b in RSA_SIZES if b != 2048],
             ("ed25519", "Ed25519 (small; not checked by every receiver yet)")]


def _by_domain(keys: list[DkimKeyInfo]) -> dict[str, list[DkimKeyInfo]]:
    grouped: dict[str, list[DkimKeyInfo]] = {}
    for key in keys:
        grouped.setdefault(key.domain, []).append(key)
    return grouped


def _signers(keys: list[DkimKeyInfo]) -> list[DkimKeyInfo]:
    """The key that signs each domain's mail: its newest active one (as the queue picks)."""
    newest: dict[str, DkimKeyInfo] = {}
    for key in keys:
        if key.active and (key.domain not in newest or
                           key.created_at >= newest[key.domain].created_at):
            newest[key.domain] = key
    return list(newest.values())


async def _render(request: Request, status: int = 200, **context: Any) -> Response:
    s = store(request)
    domains = [d.name for d in await s.accounts.list_domains()]
    keys = await s.dkim.list()
    form = context.pop("form", None) or {
        "domain": domains[0] if domains else "", "selector": "", "key_type": "rsa-2048"}
    return page(request, "admin/dkim.html", "/admin/dkim", status=status, domains=domains,
                keys=_by_domain(keys), key_types=KEY_TYPES, form=form,
                signers={(k.domain, k.selector) for k in _signers(keys)},
                errors=context.pop("errors", {}), checked=context.pop("checked", {}),
                can_check=control(request) is not None, **context)


async def show(request: Request) -> Response:
    return await _render(request)


async def generate(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("domain", "selector", "key_type")}
    errors: dict[str, str] = {}
    domains = [d.name for d in await store(request).accounts.list_domains()]
    if values["domain"] not in domains:
        errors["domain"] = "Choose one of our domains."
    selector = values["selector"].lower() or "tidings"
    kinds = dict(KEY_TYPES)
    if values["key_type"] not in kinds:
        errors["key_type"] = "Choose a key type."
    existing = {k.selector for k in await store(request).dkim.list()
                if k.domain == values["domain"]}
    if not errors and selector in existing:
        errors["selector"] = (f"{values['domain']} already has a key named {selector}: "
                              "choose another name (for example with the year: tidings2027)")
    if errors:
        return await _render(request, 400, errors=errors, form=values)
    algorithm, _, bits = values["key_type"].partition("-")
    try:
        info = await store(request).dkim.generate(
            values["domain"], selector, algorithm, bits=int(bits or 2048), actor=actor(request))
    except StoreError as exc:
        return await _render(request, 400, errors={"selector": str(exc)}, form=values)
    response = done("/admin/dkim", f"Key {info.selector} made for {info.domain}: publish "
                    "the DNS record shown below, then use \"Check DNS\".")
    response.headers["location"] += f"#key-{info.domain}-{info.selector}"
    return response


async def remove(request: Request) -> Response:
    domain, selector = request.path_params["domain"], request.path_params["selector"]
    try:
        await store(request).dkim.remove(domain, selector, actor=actor(request))
    except StoreError as exc:
        return await _render(request, 404, errors={"keys": str(exc)})
    return done("/admin/dkim", f"Key {selector} of {domain} removed: mail from {domain} is "
                "signed with its other key, if it has one. You may now delete its DNS record.")


async def check(request: Request) -> Response:
    domain, selector = request.path_params["domain"], request.path_params["selector"]
    key = next((k for k in await store(request).dkim.list()
                if k.domain == domain and k.selector == selector), None)
    if key is None:
        return await _render(request, 404, errors={
            "keys": f"{domain} has no DKIM key named {selector}."})
    ctl = control(request)
    if ctl is None:
        return await _render(request, 503, errors={
            f"check-{domain}-{selector}": "Not connected to a running server: cannot ask DNS."})
    result = await ctl.check_dkim_record(key.dns_name, key.algorithm, key.public_key)
    return await _render(request, checked={(domain, selector): result})


ROUTES = [
    ("/admin/dkim", show, ["GET"]),
    ("/admin/dkim/generate", generate, ["POST"]),
    ("/admin/dkim/{domain}/{selector}/remove", remove, ["POST"]),
    ("/admin/dkim/{domain}/{selector}/check", check, ["POST"]),
]

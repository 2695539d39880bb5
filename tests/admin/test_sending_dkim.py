"""The DKIM keys page: make a key, copy its DNS record, check it against real DNS (the
loopback server, named in [smtp] dns_servers as an administrator would), remove it."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from mailstore.audit import Actor
from mailstore.store import Store
from tests.dnszone import Zone
from tests.web.conftest import csrf_token
from tidings.control import Control


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_token((await client.get("/admin/dkim")).text)
    return await client.post(path, data={"csrf_token": token, **data})


def record(page: str, domain: str, selector: str) -> tuple[str, str]:
    name = re.search(rf'id="name-{domain}-{selector}" readonly value="([^"]+)"', page)
    value = re.search(rf'id="value-{domain}-{selector}" readonly>([^<]+)<', page)
    assert name and value, page
    return html.unescape(name.group(1)), html.unescape(value.group(1))


def check_result(page: str) -> tuple[str, str]:
    match = re.search(r'class="dns-check [^"]*"[^>]*data-status="(\w+)">([^<]*)<', page)
    assert match, page
    return match.group(1), html.unescape(match.group(2))


@pytest.fixture
async def dns(control: Control, store: Store, dns_server: tuple[Zone, int], zone: Zone) -> Zone:
    """The server asks the loopback DNS server, configured as an administrator would."""
    await store.server_settings.change(Actor("root@example.com"),
                                       {"smtp.dns_servers": [f"127.0.0.1:{dns_server[1]}"]})
    return zone


async def test_generate_publish_and_check_a_key(
        admin: httpx.AsyncClient, store: Store, dns: Zone) -> None:
    page = await admin.get("/admin/dkim")
    assert page.status_code == 200 and "No DKIM keys yet" in page.text
    response = await post(admin, "/admin/dkim/generate",
                          {"domain": "example.com", "selector": "Office", "key_type": "rsa-2048"})
    assert response.status_code == 303, response.text
    page = (await admin.get(response.headers["location"])).text
    assert "Key office made for example.com" in page
    name, value = record(page, "example.com", "office")
    assert name == "office._domainkey.example.com"
    assert value.startswith("v=DKIM1; k=rsa; p=MII")
    [key] = await store.dkim.list()
    assert value == key.txt_record

    check = "/admin/dkim/example.com/office/check"
    status, text = check_result((await post(admin, check, {})).text)
    assert status == "missing" and "no TXT record at office._domainkey.example.com" in text

    other = await store.dkim.generate("example.com", "other")
    dns.txt(name, other.txt_record)
    status, text = check_result((await post(admin, check, {})).text)
    assert status == "different" and "holds a different key" in text

    dns.records.clear()
    dns.txt(name, value)  # 2048-bit: over 255 characters, so two strings, and TCP after TC
    status, text = check_result((await post(admin, check, {})).text)
    assert (status, text) == ("ok", "OK: published correctly at office._domainkey.example.com")

    dns.servfail.add(name)
    status, text = check_result((await post(admin, check, {})).text)
    assert status == "error" and "try again later" in text

    entries = [(e.action, e.target, e.new_value) for e in await store.audit.recent()
               if e.action.startswith("dkim")]
    assert entries == [("dkim key generated", "office._domainkey.example.com", "2048-bit RSA")]


async def test_key_size_and_ed25519_and_remove(admin: httpx.AsyncClient, store: Store) -> None:
    for selector, kind in (("big", "rsa-1024"), ("ed", "ed25519")):
        response = await post(admin, "/admin/dkim/generate",
                              {"domain": "example.com", "selector": selector, "key_type": kind})
        assert response.status_code == 303, response.text
    keys = {k.selector: k for k in await store.dkim.list()}
    assert keys["ed"].algorithm == "ed25519" and len(keys["ed"].public_key) == 44
    # A 1024-bit key's SubjectPublicKeyInfo is 162 bytes: 216 characters of base64.
    assert len(keys["big"].public_key) == 216
    response = await post(admin, "/admin/dkim/example.com/big/remove", {})
    assert response.status_code == 303
    assert [k.selector for k in await store.dkim.list()] == ["ed"]
    missing = await post(admin, "/admin/dkim/example.com/big/remove", {})
    assert missing.status_code == 404 and "has no DKIM key with selector big" in missing.text
    entries = [(e.action, e.target, e.old_value) for e in await store.audit.recent()][:1]
    assert entries == [("dkim key removed", "big._domainkey.example.com", "rsa")]


@pytest.mark.parametrize(("values", "field", "text"), [
    ({"domain": "elsewhere.org"}, "domain", "Choose one of our domains"),
    ({"selector": "bad selector!"}, "selector", "is not valid"),
    ({"key_type": "rsa-512"}, "key_type", "Choose a key type"),
    ({"selector": "tidings"}, "selector", "already has a key named tidings"),
])
async def test_a_wrong_generate_field_gets_its_error(
        admin: httpx.AsyncClient, store: Store, values: dict[str, str], field: str,
        text: str) -> None:
    await store.dkim.generate("example.com", "tidings", "ed25519")
    form = {"domain": "example.com", "selector": "new", "key_type": "ed25519", **values}
    response = await post(admin, "/admin/dkim/generate", form)
    assert response.status_code == 400
    error = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', response.text)
    assert error and text in html.unescape(error.group(1)), response.text
    assert len(await store.dkim.list()) == 1

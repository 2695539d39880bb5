"""The Sending page: smart hosts (passwords sealed, never shown back, never in the audit
log), routes by sender, the default way and the retries, and the smart host test that says
which stage failed; all checked with the file's parser and used by the server at once."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mailstore.audit import Actor
from mailstore.models import ServerSetting
from mailstore.store import Store
from tests.cli import free_port
from tests.outbound.internet import Remote, start_remote
from tests.web.conftest import csrf_token
from tidings.control import Control
from tidings.tls import create_self_signed, server_context

SECRET = "s3cret-Pässword"
ROOT = Actor("root@example.com", "127.0.0.1")


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_token((await client.get("/admin/sending")).text)
    return await client.post(path, data={"csrf_token": token, **data})


def host_form(**values: str) -> dict[str, str]:
    form = {"name": "isp", "host": "smtp.isp.example", "port": "587", "tls": "starttls",
            "username": "office@isp.example", "password": SECRET, "verify_certificate": "on"}
    form.update(values)
    return {k: v for k, v in form.items() if v is not None}


def field_error(page: str, name: str) -> str:
    match = re.search(rf'id="{re.escape(name)}-error"[^>]*>([^<]*)<', page)
    assert match, f"no error for {name}"
    return html.unescape(match.group(1))


async def raw_settings(store: Store) -> str:
    async with store.db.read() as conn:
        rows = (await conn.execute(select(ServerSetting.__table__))).all()
    return json.dumps([list(r) for r in rows], default=str)


async def test_a_new_smart_host_is_used_at_once_and_its_password_is_sealed_and_not_audited(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    page = await admin.get("/admin/sending")
    assert page.status_code == 200 and "No smart host yet" in page.text
    response = await post(admin, "/admin/sending/smarthost/new", host_form())
    assert response.status_code == 303, response.text
    host = control.live.config.delivery.smarthosts["isp"]
    assert (host.host, host.port, host.tls, host.username, host.password) == (
        "smtp.isp.example", 587, "starttls", "office@isp.example", SECRET)
    # The database holds it sealed; the audit log says "changed"; the page never shows it.
    stored = await raw_settings(store)
    assert "password_sealed" in stored and SECRET not in stored
    entry = (await store.audit.recent())[0]
    assert (entry.action, entry.target) == ("setting", "delivery.smarthost")
    assert entry.new_value[0]["password_sealed"] == "changed"
    assert SECRET not in json.dumps([entry.old_value, entry.new_value])
    listing = (await admin.get("/admin/sending")).text
    assert "smtp.isp.example:587" in listing and "password set" in listing
    edit = (await admin.get("/admin/sending/smarthost/isp")).text
    assert SECRET not in listing and SECRET not in edit
    assert "Leave empty to keep the saved password" in edit

    # Editing without typing a password keeps it; the audit shows it kept, not changed.
    response = await post(admin, "/admin/sending/smarthost/isp",
                          host_form(password="", port="2525", verify_certificate=""))
    assert response.status_code == 303, response.text
    host = control.live.config.delivery.smarthosts["isp"]
    assert (host.port, host.password, host.verify_certificate) == (2525, SECRET, False)
    entry = (await store.audit.recent())[0]
    assert entry.old_value[0]["password_sealed"] == "(hidden)"
    assert entry.new_value[0]["password_sealed"] == "(hidden)"
    assert (entry.old_value[0]["port"], entry.new_value[0]["port"]) == (587, 2525)

    # A new password is sealed again and audited as changed.
    response = await post(admin, "/admin/sending/smarthost/isp", host_form(password="new-one"))
    assert response.status_code == 303
    assert control.live.config.delivery.smarthosts["isp"].password == "new-one"
    assert (await store.audit.recent())[0].new_value[0]["password_sealed"] == "changed"


@pytest.mark.parametrize(("values", "field", "text"), [
    ({"name": ""}, "name", "Give the smart host a short name"),
    ({"name": "direct"}, "name", "not \"direct\""),
    ({"name": "my isp"}, "name", "Use letters, digits"),
    ({"host": ""}, "host", "Enter the server's name"),
    ({"host": "smtp isp"}, "host", "only letters, digits"),
    ({"port": "99999"}, "port", "from 1 to 65535"),
    ({"port": "five"}, "port", "from 1 to 65535"),
    ({"tls": "ssl3"}, "tls", "Choose one of the encryption modes"),
    ({"username": ""}, "username", "A password needs a user name"),
])
async def test_a_wrong_smart_host_field_gets_its_error_and_keeps_what_was_typed(
        admin: httpx.AsyncClient, control: Control, store: Store,
        values: dict[str, str], field: str, text: str) -> None:
    response = await post(admin, "/admin/sending/smarthost/new", host_form(**values))
    assert response.status_code == 400
    assert text in field_error(response.text, field)
    for name, value in host_form(**values).items():
        if name not in ("password", "verify_certificate", "tls") and value:
            assert f'value="{value}"' in response.text
    assert SECRET not in response.text  # not even what was typed
    assert control.live.config.delivery.smarthosts == {}
    assert await store.audit.recent() == []


async def test_two_smart_hosts_cannot_share_a_name(admin: httpx.AsyncClient) -> None:
    assert (await post(admin, "/admin/sending/smarthost/new", host_form())).status_code == 303
    response = await post(admin, "/admin/sending/smarthost/new", host_form(host="b.example"))
    assert response.status_code == 400
    assert "already a smart host named isp" in field_error(response.text, "name")


async def test_routes_send_a_domain_through_a_smart_host_which_then_cannot_be_removed(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    assert (await post(admin, "/admin/sending/smarthost/new", host_form())).status_code == 303
    bad = await post(admin, "/admin/sending/route/new",
                     {"route.senders": "example.org, not a domain", "via": "isp"})
    assert bad.status_code == 400
    assert "not is not a domain" in field_error(bad.text, "route-senders")
    assert 'value="example.org, not a domain"' in bad.text
    unknown = await post(admin, "/admin/sending/route/new",
                         {"route.senders": "example.org", "via": "nope"})
    assert "no smart host named nope" in field_error(unknown.text, "route-via")

    response = await post(admin, "/admin/sending/route/new",
                          {"route.senders": "Example.org *.example.org boss@example.com",
                           "via": "isp"})
    assert response.status_code == 303, response.text
    delivery = control.live.config.delivery
    assert delivery.via("ann@example.org") == ("isp",)
    assert delivery.via("x@sub.example.org") == ("isp",)
    assert delivery.via("boss@example.com") == ("isp",)
    assert delivery.via("ann@example.com") == ("direct",)

    refused = await post(admin, "/admin/sending/smarthost/isp/remove", {})
    assert refused.status_code == 400
    assert "used by mail from example.org" in field_error(refused.text, "host-isp")
    renamed = await post(admin, "/admin/sending/smarthost/isp", host_form(name="other"))
    assert "isp is used by mail from example.org" in field_error(renamed.text, "name")

    assert (await post(admin, "/admin/sending/route/0/remove", {})).status_code == 303
    assert control.live.config.delivery.via("ann@example.org") == ("direct",)
    assert (await post(admin, "/admin/sending/smarthost/isp/remove", {})).status_code == 303
    assert control.live.config.delivery.smarthosts == {}
    actions = [(e.action, e.target) for e in await store.audit.recent()]
    assert actions.count(("setting", "delivery.route")) == 2
    assert actions.count(("setting", "delivery.smarthost")) == 2


async def test_the_default_way_and_the_retry_schedule(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    assert (await post(admin, "/admin/sending/smarthost/new", host_form())).status_code == 303
    assert (await post(admin, "/admin/sending/smarthost/new",
                       host_form(name="backup", host="b.example"))).status_code == 303
    general = {"via": "isp", "via_fallback": "backup", "delivery.retry": "1m, 10m 2h",
               "delivery.delay_notice_after": "4h", "delivery.expire_after": "5d"}
    bad = await post(admin, "/admin/sending/general",
                     {**general, "delivery.retry": "1m, soon", "delivery.expire_after": "x"})
    assert bad.status_code == 400
    assert "soon is not a duration" in field_error(bad.text, "delivery-retry")
    assert "A duration" in field_error(bad.text, "delivery-expire_after")
    assert 'value="1m, soon"' in bad.text
    response = await post(admin, "/admin/sending/general", general)
    assert response.status_code == 303, response.text
    delivery = control.live.config.delivery
    assert delivery.default_via == ("isp", "backup")
    assert delivery.retry_intervals == (60, 600, 7200)
    entries = {e.target: e for e in await store.audit.recent()}
    assert entries["delivery.via"].new_value == ["isp", "backup"]
    assert entries["delivery.retry"].new_value == ["1m", "10m", "2h"]
    assert "delivery.expire_after" not in entries  # unchanged values are not saved
    refused = await post(admin, "/admin/sending/smarthost/backup/remove", {})
    assert "used by the default way out" in field_error(refused.text, "host-backup")


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Remote]:
    """A smart host on loopback: STARTTLS (self-signed) and AUTH as office / pw."""
    create_self_signed(tmp_path / "relay-tls", "relay.test")
    remote = await start_remote("127.0.0.1", free_port(),
                                tls=server_context(tmp_path / "relay-tls"),
                                auth={"office": "pw"})
    yield remote
    await remote.close()


async def press_test(admin: httpx.AsyncClient, name: str) -> tuple[str, str]:
    body = (await post(admin, f"/admin/sending/smarthost/{name}/test", {})).text
    match = re.search(r'data-stage="(\w+)">([^<]*)<', body)
    assert match, body
    return match.group(1), html.unescape(match.group(2))


async def test_the_test_button_says_which_stage_failed(
        admin: httpx.AsyncClient, relay: Remote) -> None:
    port = str(relay.port)
    cases = {
        "good": host_form(name="good", host="127.0.0.1", port=port, username="office",
                          password="pw", verify_certificate=""),
        "badlogin": host_form(name="badlogin", host="127.0.0.1", port=port,
                              username="office", password="wrong", verify_certificate=""),
        "badcert": host_form(name="badcert", host="127.0.0.1", port=port, username="office",
                             password="pw"),
        "closed": host_form(name="closed", host="127.0.0.1", port=str(free_port())),
        "nodns": host_form(name="nodns", host="no-such-host.invalid"),
    }
    for form in cases.values():
        assert (await post(admin, "/admin/sending/smarthost/new", form)).status_code == 303
    stage, text = await press_test(admin, "good")
    assert stage == "auth" and text.startswith("Works:") and "accepts the login" in text
    stage, text = await press_test(admin, "badlogin")
    assert stage == "auth" and "refused the login as office" in text
    stage, text = await press_test(admin, "badcert")
    assert stage == "starttls" and "certificate" in text.lower()
    stage, text = await press_test(admin, "closed")
    assert stage == "connect" and "cannot connect to 127.0.0.1" in text
    stage, text = await press_test(admin, "nodns")
    assert stage == "dns" and "no-such-host.invalid cannot be found" in text
    assert relay.received == []  # a test sends nothing


async def test_a_lost_key_file_is_one_clear_line_and_a_reset_hides_the_old_password(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    assert (await post(admin, "/admin/sending/smarthost/new", host_form())).status_code == 303
    (control.live.data_dir / "collector.key").unlink()
    problems = control.check_settings({"delivery.retry": ["1m"]})
    assert "password of smart host 'isp' cannot be decrypted" in problems["delivery.retry"]
    assert "enter it again in the web admin" in problems["delivery.retry"]
    # Entering the password again makes a new key, and the settings work again.
    response = await post(admin, "/admin/sending/smarthost/isp", host_form(password="again"))
    assert response.status_code == 303, response.text
    assert control.check_settings({"delivery.retry": ["1m"]}) == {}
    await store.server_settings.change(ROOT, {}, removed=("delivery.smarthost",))
    entry = (await store.audit.recent())[0]
    assert (entry.action, entry.new_value) == ("setting reset", None)
    assert entry.old_value[0]["password_sealed"] == "(hidden)"
    assert control.live.config.delivery.smarthosts == {}

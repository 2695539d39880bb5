"""The server settings pages (limits, receiving and access, server) over HTTP: values shown,
changes checked with the server's own parser before they are saved, errors next to the field
with what was typed kept, every change audited and applied to the live configuration."""

from __future__ import annotations

import re
import socket

import httpx

from mailstore.store import Store
from tests.web.conftest import csrf_token
from tidings.control import Control


async def post(client: httpx.AsyncClient, path: str, fields: dict[str, str],
               keep: bool = True) -> httpx.Response:
    """Submit the page's form as a browser would: every field of it, with ``fields`` changed."""
    page = await client.get(path)
    form = dict(re.findall(r'<input id="[^"]+" name="([^"]+)" type="text"[^>]*value="([^"]*)"',
                           page.text)) if keep else {}
    for name, text in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>',
                                 page.text):
        form[name] = text
    for name in re.findall(r'<input id="[^"]+" name="([^"]+)" type="checkbox" value="on" checked',
                           page.text):
        form[name] = "on"
    for name, value in re.findall(
            r'<select id="[^"]+" name="([^"]+)".*?<option value="([^"]+)" selected', page.text,
            re.S):
        form[name] = value
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    return await client.post(path, data={**form, "csrf_token": csrf_token(page.text)})


def error_of(html: str, name: str) -> str:
    match = re.search(rf'id="{re.escape(name.replace(".", "-"))}-error"[^>]*>([^<]*)<', html)
    assert match, f"no error shown for {name}"
    return match.group(1)


async def test_every_settings_page_shows_the_values_in_use(admin: httpx.AsyncClient) -> None:
    limits = (await admin.get("/admin/limits")).text
    assert 'name="smtp.max_message_size" type="text" value="25M"' in limits
    assert 'name="smtp.max_recipients" type="text" inputmode="numeric" value="100"' in limits
    assert '<option value="452" selected>' in limits
    access = (await admin.get("/admin/access")).text
    assert 'name="smtp.check_sender_auth" type="checkbox" value="on" checked' in access
    server = (await admin.get("/admin/server")).text
    assert 'value="mail.example.com"' in server
    assert "can only be changed in tidings.toml" in server  # the web port, explained
    assert 'name="ports.web"' not in server


async def test_a_new_size_limit_is_saved_audited_and_used(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    response = await post(admin, "/admin/limits", {"smtp.max_message_size": "10M",
                                                    "smtp.messages_per_minute_per_user": "30"})
    assert response.status_code == 303, response.text
    assert control.live.config.smtp.max_message_size == 10 * 1024 * 1024
    assert control.live.config.smtp.messages_per_minute_per_user == 30
    assert await store.server_settings.all() == {
        "smtp.max_message_size": "10M", "smtp.messages_per_minute_per_user": 30}
    entries = await store.audit.recent()
    assert {(e.actor, e.target, e.old_value, e.new_value) for e in entries} == {
        ("root@example.com", "smtp.max_message_size", None, "10M"),
        ("root@example.com", "smtp.messages_per_minute_per_user", None, 30)}
    shown = (await admin.get(response.headers["location"])).text
    assert "Saved and in use now" in shown
    assert 'value="10M"' in shown


async def test_a_bad_value_is_refused_next_to_its_field_and_nothing_is_saved(
        admin: httpx.AsyncClient, store: Store) -> None:
    response = await post(admin, "/admin/limits", {"smtp.max_message_size": "lots",
                                                    "smtp.max_recipients": "-3",
                                                    "smtp.max_connections_per_ip": "5"})
    assert response.status_code == 400
    assert "is not a size" in error_of(response.text, "smtp.max_message_size")
    assert "whole number" in error_of(response.text, "smtp.max_recipients")
    assert 'value="lots"' in response.text  # the field keeps what was typed
    assert "Traceback" not in response.text
    assert await store.server_settings.all() == {}  # the good field is not saved alone either
    assert await store.audit.recent() == []


async def test_an_unchanged_form_changes_nothing(admin: httpx.AsyncClient, store: Store) -> None:
    response = await post(admin, "/admin/access", {})
    assert response.status_code == 303
    assert "Nothing+changed" in response.headers["location"]
    assert await store.server_settings.all() == {}


async def test_allow_and_deny_lists_are_checked_and_saved(
        admin: httpx.AsyncClient, control: Control) -> None:
    office = "192.168.1.0/24\n10.0.0.0/8"
    response = await post(admin, "/admin/access", {"smtp.allow.submission": office,
                                                   "access.deny.pop3": "203.0.113.300"})
    assert response.status_code == 400
    assert "is not an IP network" in error_of(response.text, "access.deny.pop3")
    response = await post(admin, "/admin/access", {"smtp.allow.submission": office,
                                                   "access.deny.pop3": "203.0.113.0/24",
                                                   "smtp.dnsbl_zones": "zen.spamhaus.org",
                                                   "smtp.check_sender_auth": None})
    assert response.status_code == 303, response.text
    cfg = control.live.config
    assert [str(n) for n in cfg.smtp.listeners["submission"].allow] == [
        "192.168.1.0/24", "10.0.0.0/8"]
    assert [str(n) for n in cfg.access["pop3"][1]] == ["203.0.113.0/24"]
    assert cfg.smtp.dnsbl_zones == ("zen.spamhaus.org",)
    assert cfg.smtp.check_sender_auth is False


async def test_a_relay_network_that_makes_an_open_relay_needs_a_confirmation(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    response = await post(admin, "/admin/access", {"smtp.relay_networks": "0.0.0.0/0"})
    assert response.status_code == 400
    assert "open relay" in error_of(response.text, "smtp.relay_networks")
    assert 'name="confirm_open_relay"' in response.text
    assert await store.server_settings.all() == {}
    response = await post(admin, "/admin/access", {"smtp.relay_networks": "8.0.0.0/8"})
    assert "open relay" in error_of(response.text, "smtp.relay_networks")
    # An office network is not questioned.
    response = await post(admin, "/admin/access", {"smtp.relay_networks": "192.168.0.0/16"})
    assert response.status_code == 303
    response = await post(admin, "/admin/access", {"smtp.relay_networks": "0.0.0.0/0",
                                                   "confirm_open_relay": "yes"})
    assert response.status_code == 303
    assert [str(n) for n in control.live.config.smtp.relay_networks] == ["0.0.0.0/0"]


async def test_a_port_in_use_by_another_program_is_refused_and_nothing_changes(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        response = await post(admin, "/admin/server", {"ports.imap": str(port)})
        assert response.status_code == 400
        assert error_of(response.text, "ports.imap") == \
            f"Port {port} is already in use by another program on this machine"
        assert f'value="{port}"' in response.text
    assert await store.server_settings.all() == {}
    assert control.live.config.ports["imap"] == 1143


async def test_server_identity_and_ports_are_checked(
        admin: httpx.AsyncClient, control: Control) -> None:
    response = await post(admin, "/admin/server", {"server.hostname": "not a name",
                                                   "server.bind": "everywhere",
                                                   "ports.pop3": "1143"})
    assert response.status_code == 400
    assert "host name" in error_of(response.text, "server.hostname")
    assert "IP address" in error_of(response.text, "server.bind")
    assert "both use port 1143" in error_of(response.text, "ports.pop3")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    response = await post(admin, "/admin/server", {"server.hostname": "mx.example.com",
                                                   "ports.pop3": str(free),
                                                   "services.imaps": None})
    assert response.status_code == 303, response.text
    cfg = control.live.config
    assert (cfg.hostname, cfg.ports["pop3"], cfg.enabled["imaps"]) == (
        "mx.example.com", free, False)


def test_the_web_port_is_refused_with_the_reason(control: Control) -> None:
    problems = control.check_settings({"ports.web": 9999, "services.web": False})
    assert set(problems) == {"ports.web", "services.web"}
    assert "would cut off this page" in problems["ports.web"]


def test_a_service_that_failed_to_start_does_not_block_other_changes(control: Control) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        control.live.config = control.live.parse({"ports.imap": port})
        control.problems["imap"] = f"port {port} is already in use"
        assert control.check_settings({"smtp.max_message_size": "10M"}) == {}
        assert "already in use" in control.check_settings({"services.imap": True,
                                                           "ports.imap": port})["ports.imap"]


async def test_values_changed_here_go_back_to_the_files_values(
        admin: httpx.AsyncClient, control: Control, store: Store) -> None:
    limits = (await admin.get("/admin/limits")).text
    assert "Every value on this page comes from tidings.toml" in limits
    assert (await post(admin, "/admin/limits", {"smtp.max_message_size": "10M"})
            ).status_code == 303
    limits = (await admin.get("/admin/limits")).text
    assert "over the values in tidings.toml: Largest message" in limits
    assert control.live.config.smtp.max_message_size == 10 * 1024 * 1024
    response = await admin.post("/admin/limits/reset",
                                data={"csrf_token": csrf_token(limits)})
    assert response.status_code == 303
    assert control.live.config.smtp.max_message_size == 25 * 1024 * 1024
    assert await store.server_settings.all() == {}
    assert (await store.audit.recent())[0].action == "setting reset"
    again = await admin.post("/admin/limits/reset", data={"csrf_token": csrf_token(limits)})
    assert "Nothing+to+reset" in again.headers["location"]

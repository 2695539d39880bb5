"""Smart hosts: TLS required by default, AUTH, a fallback order, per-sender routes."""

from __future__ import annotations

from mailstore.store import Store
from protocols.delivery.settings import Route, SmartHost
from tests.outbound.conftest import Internet
from tests.outbound.internet import start_remote
from tests.outbound.test_queue import queue
from tidings.tls import server_context


async def test_mail_goes_through_the_smart_host_with_starttls_and_auth(
        office: Store, internet: Internet, make_runner) -> None:
    isp = await start_remote("127.0.0.20", internet.port,
                             tls=server_context(internet.tls_dir), auth={"office": "s3cret"})
    internet.remotes.append(isp)
    hosts = {"isp": SmartHost("isp", "127.0.0.20", internet.port, "starttls", "office",
                              "s3cret", verify_certificate=False)}
    await queue(office, "bob@anywhere.test")
    await make_runner(default_via=("isp",), smarthosts=hosts).run_until_idle()
    [got] = isp.received
    assert got.tls and got.recipients == ["bob@anywhere.test"]


async def test_a_smart_host_without_tls_is_refused_by_default(
        office: Store, internet: Internet, make_runner) -> None:
    plain = await start_remote("127.0.0.21", internet.port)
    internet.remotes.append(plain)
    hosts = {"isp": SmartHost("isp", "127.0.0.21", internet.port, "starttls",
                              verify_certificate=False)}
    entry_id = await queue(office, "bob@anywhere.test")
    await make_runner(default_via=("isp",), smarthosts=hosts).run_until_idle()
    assert plain.received == []
    entry = await office.outbound.get(entry_id)
    assert "does not offer STARTTLS" in entry.last_error


async def test_a_wrong_smart_host_password_is_reported_and_retried(
        office: Store, internet: Internet, make_runner) -> None:
    isp = await start_remote("127.0.0.22", internet.port,
                             tls=server_context(internet.tls_dir), auth={"office": "s3cret"})
    internet.remotes.append(isp)
    hosts = {"isp": SmartHost("isp", "127.0.0.22", internet.port, "starttls", "office",
                              "wrong", verify_certificate=False)}
    entry_id = await queue(office, "bob@anywhere.test")
    await make_runner(default_via=("isp",), smarthosts=hosts).run_until_idle()
    entry = await office.outbound.get(entry_id)
    assert entry.status == "queued"
    assert "refused our login as office" in entry.last_error


async def test_the_next_smart_host_takes_over_when_the_first_is_down(
        office: Store, internet: Internet, make_runner) -> None:
    backup = await start_remote("127.0.0.24", internet.port)
    internet.remotes.append(backup)
    hosts = {"main": SmartHost("main", "127.0.0.23", internet.port, "none"),
             "backup": SmartHost("backup", "127.0.0.24", internet.port, "none")}
    await queue(office, "bob@anywhere.test")
    await make_runner(default_via=("main", "backup"), smarthosts=hosts).run_until_idle()
    assert len(backup.received) == 1


async def test_implicit_tls_smart_host(office: Store, internet: Internet, make_runner) -> None:
    isp = await start_remote("127.0.0.25", internet.port,
                             tls=server_context(internet.tls_dir), implicit_tls=True)
    internet.remotes.append(isp)
    hosts = {"isp": SmartHost("isp", "127.0.0.25", internet.port, "implicit",
                              verify_certificate=False)}
    await queue(office, "bob@anywhere.test")
    await make_runner(default_via=("isp",), smarthosts=hosts).run_until_idle()
    assert len(isp.received) == 1


async def test_one_domain_through_the_isp_and_the_rest_direct(
        office: Store, internet: Internet, make_runner) -> None:
    await office.accounts.add_domain("example.net")
    await office.accounts.create("cid@example.net", "correct horse battery")
    isp = await start_remote("127.0.0.26", internet.port)
    internet.remotes.append(isp)
    mx = await internet.mail_server("anywhere.test")
    hosts = {"isp": SmartHost("isp", "127.0.0.26", internet.port, "none")}
    await queue(office, "bob@anywhere.test", sender="cid@example.net")
    await queue(office, "bob@anywhere.test", sender="ann@example.com")
    await make_runner(smarthosts=hosts,
                      routes=(Route(("example.net",), ("isp",)),)).run_until_idle()
    assert [r.mail_from for r in isp.received] == ["cid@example.net"]
    assert [r.mail_from for r in mx.received] == ["ann@example.com"]

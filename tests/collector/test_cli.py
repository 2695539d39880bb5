"""`tidings collector add|list|run|remove`, and the scheduler inside `tidings serve`."""

from __future__ import annotations

import time
from pathlib import Path

from mailstore.store import Store
from tests.cli import assert_one_line_error, run, start_serve, use_free_ports
from tests.collector.conftest import corpus
from tests.collector.isp import Isp


def add(data: Path, env: dict[str, str], isp: Isp, mailbox: tuple[str, str], *extra: str,
        name: str = "office", check: bool = True):
    return run("collector", "add", name, "--data", str(data), "--protocol", "pop3",
               "--host", isp.host, "--port", str(isp.ports["pop3s"]), "--tls", "implicit",
               "--insecure-tls", "--user", mailbox[0], "--password-stdin", *extra,
               env=env, stdin=mailbox[1] + "\n", check=check)


async def stored(data: Path, env: dict[str, str], address: str) -> int:
    from tests.collector.conftest import inbox

    url = env.get("TIDINGS_DATABASE_URL", f"sqlite+aiosqlite:///{data / 'tidings.db'}")
    store = Store(url, data / "blobs")
    try:
        return len(await inbox(store, address))
    finally:
        await store.close()


async def test_add_list_run_remove(data: Path, db_env: dict[str, str], isp: Isp) -> None:
    mailbox = isp.new_mailbox()
    for raw in corpus(3):
        isp.put(mailbox[0], raw)
    out = add(data, db_env, isp, mailbox, "--to", "admin@example.com", "--interval", "10m",
              "--max-size", "10M")
    assert out.stdout.startswith("added collector office: pop3://")
    assert "every 600 s" in out.stdout
    listed = run("collector", "list", "--data", str(data), env=db_env).stdout
    assert "office\tpop3://" in listed and "last run: never" in listed
    ran = run("collector", "run", "office", "--data", str(data), env=db_env).stdout
    assert "office: 3 new message(s) delivered" in ran
    assert ran.count("delivered '") == 3
    assert await stored(data, db_env, "admin@example.com") == 3
    listed = run("collector", "list", "--data", str(data), env=db_env).stdout
    assert "3 new message(s) delivered" in listed and "last error" not in listed
    assert not (data / "collector.key").stat().st_mode & 0o077
    assert mailbox[1] not in (data / "tidings.db").read_bytes().decode("latin-1") \
        if not db_env else True
    run("collector", "remove", "office", "--data", str(data), env=db_env)
    assert "no collectors" in run("collector", "list", "--data", str(data), env=db_env).stdout


async def test_errors_are_one_line(data: Path, db_env: dict[str, str], lonely_isp: Isp
                                   ) -> None:
    isp = lonely_isp
    mailbox = isp.new_mailbox()
    assert_one_line_error(add(data, db_env, isp, mailbox, "--to", "nobody@nowhere",
                              check=False), "")
    add(data, db_env, isp, mailbox, "--to", "admin@example.com")
    assert_one_line_error(add(data, db_env, isp, mailbox, "--to", "admin@example.com",
                              check=False), "already exists")
    assert_one_line_error(add(data, db_env, isp, mailbox, "--multidrop", name="other",
                              check=False), "--multidrop needs --default")
    assert_one_line_error(run("collector", "run", "nope", "--data", str(data), env=db_env,
                              check=False), "no collector called nope")
    run("collector", "remove", "office", "--data", str(data), env=db_env)
    add(data, db_env, isp, (mailbox[0], "wrong"), "--to", "admin@example.com")
    result = run("collector", "run", "office", "--data", str(data), env=db_env, check=False)
    assert_one_line_error(result, "collector office: the ISP 127.0.0.1 refused the login")
    listed = run("collector", "list", "--data", str(data), env=db_env).stdout
    assert "last error (1 in a row): the ISP 127.0.0.1 refused the login" in listed


async def test_serve_collects_on_its_own(data: Path, db_env: dict[str, str], isp: Isp) -> None:
    mailbox = isp.new_mailbox()
    for raw in corpus(2):
        isp.put(mailbox[0], raw)
    add(data, db_env, isp, mailbox, "--to", "admin@example.com", "--interval", "10s")
    use_free_ports(data)
    proc, _ = start_serve(data, db_env, until="collector scheduler running")
    try:
        deadline = time.monotonic() + 30
        while await stored(data, db_env, "admin@example.com") < 2:
            assert time.monotonic() < deadline, "the scheduler did not collect"
            time.sleep(0.3)
        isp.put(mailbox[0], corpus(1, start=2)[0])
        deadline = time.monotonic() + 30
        while await stored(data, db_env, "admin@example.com") < 3:
            assert time.monotonic() < deadline, "the scheduler did not collect again"
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(20)

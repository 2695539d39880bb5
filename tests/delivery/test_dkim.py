"""DKIM keys and signing: signatures verified by dkimpy against records served by real DNS."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import dkim
import dns.resolver
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore.dkimkeys import DkimKeyInfo, SigningKey
from mailstore.errors import AlreadyExists, InvalidName, NotFound
from mailstore.store import Store
from protocols.delivery.dkimsign import relaxed_body, sign
from tests.cli import assert_one_line_error, run
from tests.corpus import message_files
from tests.dnszone import Zone

MESSAGE = (b"From: Ann <ann@example.com>\r\nTo: Bob <bob@example.org>\r\n"
           b"Cc: carol@example.net\r\nSubject: Budget 2027\r\n"
           b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <budget.1@example.com>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"X-Mailer: not signed\r\n\r\nThe numbers are attached.\r\n")


def dnsfunc_for(port: int) -> Callable[..., bytes | None]:
    """dkimpy's DNS hook, asking the loopback DNS server with dnspython (TCP after TC)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 5
    cache: dict[bytes, bytes | None] = {}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        if name not in cache:
            try:
                answer = resolver.resolve(name.decode().rstrip("."), "TXT")
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                cache[name] = None
            else:
                cache[name] = b"".join(answer[0].strings)
        return cache[name]
    return dnsfunc


@pytest.fixture
def verify(dns_server: tuple[Zone, int], zone: Zone) -> Callable[[bytes], bool]:
    dnsfunc = dnsfunc_for(dns_server[1])
    return lambda message: dkim.verify(message, dnsfunc=dnsfunc)


@pytest.fixture
async def keys(store: Store, zone: Zone) -> dict[str, SigningKey]:
    """An RSA and an Ed25519 key of example.com, published in the loopback DNS."""
    await store.accounts.add_domain("example.com")
    for algorithm, selector in (("rsa", "tidings"), ("ed25519", "ed")):
        info = await store.dkim.generate("example.com", selector, algorithm)
        zone.txt(info.dns_name, info.txt_record)
    return {"rsa": await _key_of(store, "tidings"), "ed25519": await _key_of(store, "ed")}


async def _key_of(store: Store, selector: str) -> SigningKey:
    from sqlalchemy import select

    from mailstore.dkimkeys import K, _load
    async with store.db.read() as conn:
        row = (await conn.execute(select(K).where(K.c.selector == selector))).one()
    return SigningKey(row.domain, row.selector, row.algorithm, _load(row.private_key))


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
async def test_signed_message_verifies_against_the_published_record(
        keys: dict[str, SigningKey], verify: Callable[[bytes], bool], zone: Zone,
        algorithm: str) -> None:
    signed = sign(MESSAGE, keys[algorithm])
    assert signed.endswith(MESSAGE) and signed.startswith(b"DKIM-Signature: v=1; a=")
    assert verify(signed)
    assert ("tidings._domainkey.example.com" if algorithm == "rsa" else "ed._domainkey.example.com",
            "TXT") in zone.queries
    header = signed[: signed.index(b"From: Ann")].decode()
    tags = dict(t.strip().split("=", 1) for t in re.sub(r"\s+", " ", header)
                .removeprefix("DKIM-Signature: ").split(";"))
    assert tags["c"] == "relaxed/relaxed" and tags["d"] == "example.com"
    assert tags["a"] == {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}[algorithm]
    assert tags["h"].split(":") == ["from", "to", "cc", "subject", "date", "message-id",
                                    "mime-version", "content-type", "from"]
    assert all(len(line) <= 78 for line in header.splitlines())


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
async def test_tampering_breaks_the_signature(keys: dict[str, SigningKey],
                                              verify: Callable[[bytes], bool],
                                              algorithm: str) -> None:
    signed = sign(MESSAGE, keys[algorithm])
    assert not verify(signed.replace(b"The numbers", b"The Numbers"))
    assert not verify(signed.replace(b"Budget 2027", b"Budget 2028"))
    # A second From added on the way: From is oversigned, so this breaks it too.
    assert not verify(signed.replace(b"\r\n\r\nThe", b"\r\nFrom: evil@example.net\r\n\r\nThe"))
    # What relays do to headers that are not signed, or to whitespace, does not.
    assert verify(signed.replace(b"X-Mailer: not signed", b"X-Mailer: changed"))
    assert verify(signed.replace(b"Subject: Budget 2027", b"Subject:  Budget\r\n 2027"))


async def test_message_without_from_or_with_a_broken_header_goes_out_unsigned(
        keys: dict[str, SigningKey], caplog: pytest.LogCaptureFixture) -> None:
    no_from = b"To: bob@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    broken = b" starts with a continuation\r\nFrom: a@example.com\r\n\r\nbody\r\n"
    for key in keys.values():
        caplog.clear()
        assert sign(no_from, key) == no_from
        assert sign(broken, key) == broken
        warnings = [r for r in caplog.records if "DKIM" in r.getMessage()]
        assert len(warnings) == 2 and not any(r.exc_info for r in warnings)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_signing_never_raises(raw: bytes) -> None:
    signed = sign(raw, SigningKey("example.com", "ed", "ed25519", _ED25519))
    assert signed == raw or (signed.startswith(b"DKIM-Signature:") and signed.endswith(raw))


_ED25519 = ed25519.Ed25519PrivateKey.generate()


@settings(max_examples=500)
@given(st.lists(st.sampled_from([b"a", b"b", b" ", b"  ", b"\t", b"\r\n", b"\r", b"\n"]),
                max_size=40).map(b"".join))
def test_relaxed_body_canonicalization_agrees_with_dkimpy(body: bytes) -> None:
    from dkim.canonicalization import Relaxed

    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # as SMTP delivers it
    if body:
        body += b"\r\n"
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)
    # RFC 6376 §3.4.4: whitespace at the end of the last line goes too, with or without CRLF.
    assert relaxed_body(b"abc \t") == relaxed_body(b"abc\r\n\r\n") == b"abc\r\n"
    assert relaxed_body(b"") == relaxed_body(b"\r\n\r\n") == b""


def _sample() -> list[Path]:
    real = list(message_files("real-mail"))
    return real[::40] + list(message_files("mime-fixtures"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_corpus_messages_verify_after_signing(keys: dict[str, SigningKey],
                                                    verify: Callable[[bytes], bool]) -> None:
    signed_count = 0
    for path in _sample():
        raw = path.read_bytes()
        for key in keys.values():
            signed = sign(raw, key)
            if signed != raw:
                assert verify(signed), (path, key.algorithm)
                signed_count += 1
            else:  # only a message that cannot carry a signature goes out unsigned
                assert not _signable(raw), path
    assert signed_count > len(_sample())


def _signable(raw: bytes) -> bool:
    try:
        headers, _ = dkim.rfc822_parse(raw)
    except Exception:
        return False
    return any(name.lower() == b"from" for name, _ in headers)


# The keys in the store ---------------------------------------------------------------------

async def test_keys_are_made_listed_and_removed(store: Store) -> None:
    await store.accounts.add_domain("example.com")
    rsa = await store.dkim.generate("example.com")
    assert (rsa.selector, rsa.algorithm, rsa.dns_name) == (
        "tidings", "rsa", "tidings._domainkey.example.com")
    assert rsa.txt_record.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")  # 2048-bit SPKI
    strings = re.findall(r'"([^"]*)"', rsa.zone_line)
    assert rsa.zone_line.startswith("tidings._domainkey.example.com. IN TXT ( \"")
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    assert "".join(strings) == rsa.txt_record
    ed = await store.dkim.generate("Example.COM", "ed", "ed25519")
    assert ed.txt_record.startswith("v=DKIM1; k=ed25519; p=") and len(ed.public_key) == 44
    assert [(k.domain, k.selector, k.algorithm) for k in await store.dkim.list()] == [
        ("example.com", "ed", "ed25519"), ("example.com", "tidings", "rsa")]
    assert [k.public_key for k in await store.dkim.list()] == [ed.public_key, rsa.public_key]
    await store.dkim.remove("example.com", "ed")
    assert [k.selector for k in await store.dkim.list()] == ["tidings"]
    with pytest.raises(NotFound, match="no DKIM key with selector ed"):
        await store.dkim.remove("example.com", "ed")


async def test_generate_refuses_other_domains_duplicates_and_bad_names(store: Store) -> None:
    await store.accounts.add_domain("example.com")
    with pytest.raises(NotFound, match="example.org is not one of our domains"):
        await store.dkim.generate("example.org")
    await store.dkim.generate("example.com", "s1", "ed25519")
    with pytest.raises(AlreadyExists, match="already has a DKIM key with selector s1"):
        await store.dkim.generate("example.com", "s1", "rsa")
    with pytest.raises(InvalidName, match="selector"):
        await store.dkim.generate("example.com", "bad selector!")
    with pytest.raises(InvalidName, match="algorithm"):
        await store.dkim.generate("example.com", "s2", "dsa")


async def test_signing_key_is_the_newest_active_one_and_is_cached(store: Store) -> None:
    from sqlalchemy import update

    from mailstore.dkimkeys import K

    await store.accounts.add_domain("example.com")
    assert await store.dkim.signing_key("example.com") is None
    await store.dkim.generate("example.com", "old", "ed25519")
    first = await store.dkim.signing_key("example.com")
    assert first is not None and first.selector == "old"
    assert await store.dkim.signing_key("EXAMPLE.com") is first  # cached, not re-read
    await store.dkim.generate("example.com", "new", "ed25519")
    assert (await store.dkim.signing_key("example.com")).selector == "new"
    async with store.db.write() as conn:
        await conn.execute(update(K).where(K.c.selector == "new").values(active=False))
    # A change made elsewhere (another process) is seen when the cache expires.
    assert (await store.dkim.signing_key("example.com")).selector == "new"
    store.dkim._cache.clear()
    assert (await store.dkim.signing_key("example.com")).selector == "old"
    await store.dkim.remove("example.com", "old")
    assert await store.dkim.signing_key("example.com") is None


def test_zone_line_splits_long_records() -> None:
    info = DkimKeyInfo("example.com", "s", "rsa", "A" * 600, 0)
    strings = re.findall(r'"([^"]*)"', info.zone_line)
    assert [len(s) for s in strings] == [255, 255, 618 - 510]
    assert "".join(strings) == info.txt_record


# The command -------------------------------------------------------------------------------

def test_dkim_command_generates_lists_and_removes_keys(data: Path, db_env: dict[str, str]
                                                       ) -> None:
    folder = ["--data", str(data)]
    out = run("dkim", "generate", "example.com", *folder, env=db_env).stdout
    assert "created a DKIM key for example.com (rsa, selector tidings)" in out
    assert "name:  tidings._domainkey.example.com" in out
    value = re.search(r"value: (v=DKIM1; k=rsa; p=\S+)", out).group(1)
    zone_line = re.search(r"(tidings\._domainkey\.example\.com\. IN TXT \(.*\))", out).group(1)
    assert "".join(re.findall(r'"([^"]*)"', zone_line)) == value
    assert "dig +short TXT tidings._domainkey.example.com" in out
    out = run("dkim", "generate", "example.com", "--selector", "ed", "--algorithm", "ed25519",
              *folder, env=db_env).stdout
    assert "value: v=DKIM1; k=ed25519; p=" in out
    listed = run("dkim", "list", *folder, env=db_env).stdout.splitlines()
    assert [line.split("\t")[:3] for line in listed] == [
        ["example.com", "ed", "ed25519"], ["example.com", "tidings", "rsa"]]
    assert listed[1].endswith("active\tTXT tidings._domainkey.example.com")
    out = run("dkim", "remove", "example.com", "ed", *folder, env=db_env).stdout
    assert "removed the DKIM key of example.com with selector ed" in out
    assert len(run("dkim", "list", *folder, env=db_env).stdout.splitlines()) == 1


def test_dkim_command_errors_are_one_line(data: Path, db_env: dict[str, str]) -> None:
    folder = ["--data", str(data)]
    assert "no DKIM keys" in run("dkim", "list", *folder, env=db_env).stdout
    assert_one_line_error(run("dkim", "generate", "example.org", *folder, env=db_env,
                              check=False), "example.org is not one of our domains")
    run("dkim", "generate", "example.com", "--algorithm", "ed25519", *folder, env=db_env)
    assert_one_line_error(run("dkim", "generate", "example.com", *folder, env=db_env,
                              check=False), "already has a DKIM key with selector tidings")
    assert_one_line_error(run("dkim", "generate", "example.com", "--selector", "a b",
                              *folder, env=db_env, check=False), "selector 'a b' is not valid")
    assert_one_line_error(run("dkim", "remove", "example.com", "nope", *folder, env=db_env,
                              check=False), "no DKIM key with selector nope")
    bad = run("dkim", "generate", "example.com", "--algorithm", "dsa", *folder, env=db_env,
              check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

"""SRS: forwarded mail's envelope sender, and bounces to it routed back to the original sender."""

from __future__ import annotations

import asyncio
import smtplib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailstore.routing import UnknownRecipient
from mailstore.store import Store
from protocols.delivery.srs import Srs, SrsError, is_srs
from protocols.smtp.settings import MX
from tests.smtp.conftest import RunningSmtp

SECRET = b"a secret of the tests"
DAY = 86400
NOW = 20_000 * DAY + 3600  # a fixed day, so expiry tests are exact

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~.-"
local_parts = st.text(ATEXT, min_size=1, max_size=40).filter(lambda s: not is_srs(s))
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join).filter(
    lambda d: d != "fwd.example")
addresses = st.builds(lambda u, d: f"{u}@{d}", local_parts, domains)


def srs(domain: str = "fwd.example", now: float = NOW, **kw) -> Srs:
    return Srs(SECRET, domain, clock=lambda: now, **kw)


def test_forward_writes_srs0_in_our_domain() -> None:
    rewritten = srs().forward("user@example.org")
    local, _, domain = rewritten.rpartition("@")
    tag, hash_, stamp, orig_domain, user = local.split("=")
    assert (tag, orig_domain, user, domain) == ("SRS0", "example.org", "user", "fwd.example")
    assert len(hash_) == 4 and len(stamp) == 2
    assert srs().reverse(rewritten) == "user@example.org"


def test_null_sender_our_domain_and_non_addresses_are_left_alone() -> None:
    s = srs()
    for sender in ("", "ann@fwd.example", "ann@FWD.Example", "postmaster"):
        assert s.forward(sender) == sender


@given(addresses)
def test_every_address_round_trips(address: str) -> None:
    s = srs()
    rewritten = s.forward(address)
    assert rewritten.endswith("@fwd.example") and is_srs(rewritten.partition("=")[0] + "=x")
    assert s.reverse(rewritten) == address
    # Some MTAs lowercase the local part: the hash still matches.
    assert s.reverse(rewritten.lower()) == address.lower()
    assert s.reverse(rewritten.upper()).lower() == address.lower()


@given(addresses)
def test_srs1_chain_goes_back_hop_by_hop(address: str) -> None:
    first, second, third = srs("fwd.example"), srs("two.example"), srs("three.example")
    hop1 = first.forward(address)
    hop2 = second.forward(hop1)
    assert hop2.startswith("SRS1=") and hop2.endswith("@two.example")
    assert "=fwd.example==" in hop2
    # A third forwarder keeps naming the first one: the address does not grow.
    hop3 = third.forward(hop2)
    assert hop3.startswith("SRS1=") and "=fwd.example==" in hop3
    assert len(hop3) == len(hop2) - len("two.example") + len("three.example")
    assert third.reverse(hop3) == hop1
    assert second.reverse(hop2) == hop1
    assert first.reverse(hop1) == address


def test_tampered_addresses_are_refused() -> None:
    s = srs()
    good = s.forward("user@example.org")
    local, _, domain = good.rpartition("@")
    tag, hash_, stamp, orig_domain, user = local.split("=")
    for bad in (
        f"{tag}={hash_}={stamp}=evil.example={user}@{domain}",
        f"{tag}={hash_}={stamp}={orig_domain}=other@{domain}",
        f"{tag}={hash_}={stamp}=example.or=guser@{domain}",  # moved boundary
        f"{tag}=AAAA={stamp}={orig_domain}={user}@{domain}",
        f"{tag}={hash_[:3]}={stamp}={orig_domain}={user}@{domain}",
    ):
        with pytest.raises(SrsError, match="hash does not match"):
            s.reverse(bad)
    with pytest.raises(SrsError, match="hash does not match"):
        Srs(b"another secret", "fwd.example", clock=lambda: NOW).reverse(good)


def test_tampered_srs1_is_refused() -> None:
    hop2 = srs("two.example").forward(srs().forward("user@example.org"))
    with pytest.raises(SrsError, match="hash does not match"):
        srs("two.example").reverse(hop2.replace("=fwd.example==", "=evil.example=="))


def test_expired_and_future_timestamps_are_refused() -> None:
    made = srs(now=NOW).forward("user@example.org")
    assert srs(now=NOW + 21 * DAY).reverse(made) == "user@example.org"
    with pytest.raises(SrsError, match="expired"):
        srs(now=NOW + 22 * DAY).reverse(made)
    with pytest.raises(SrsError, match="expired"):
        srs(now=NOW - 2 * DAY).reverse(made)
    assert srs(now=NOW + 40 * DAY, max_age_days=60).reverse(made) == "user@example.org"
    # The day counter wraps after 1024 days; the age is computed modulo that.
    wrapped = srs(now=1023 * DAY).forward("user@example.org")
    assert srs(now=1025 * DAY).reverse(wrapped) == "user@example.org"


@pytest.mark.parametrize("address", [
    "user@example.org", "SRS0=abc@fwd.example", "SRS0=HHHH=TT=@fwd.example",
    "SRS0=HHHH=TT=example.org@fwd.example", "SRS1=HHHH@fwd.example",
    "SRS1=HHHH=fwd.example=x@fwd.example", "SRS0=", "",
])
def test_malformed_addresses_get_a_clear_error(address: str) -> None:
    with pytest.raises(SrsError, match="SRS|not an SRS address"):
        srs().reverse(address)


def test_a_bad_timestamp_is_malformed() -> None:
    s = srs()
    local = s.forward("user@example.org").partition("@")[0]
    tag, _, _, domain, user = local.split("=")
    forged = s._hash("!!", domain, user)  # even with the right hash
    with pytest.raises(SrsError, match="timestamp"):
        s.reverse(f"{tag}={forged}=!!={domain}={user}@fwd.example")


def test_is_srs() -> None:
    assert is_srs("SRS0=abcd=AB=x=y") and is_srs("srs1+x") and is_srs("SRS0-x")
    assert not is_srs("SRS0") and not is_srs("SRS2=x") and not is_srs("user")
    assert Srs.is_srs("SRS0=x")


def test_constructor_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        Srs(b"", "fwd.example")


# Routing: a bounce to SRS0=…@<a local domain> goes back to the original sender -------------

@pytest.fixture
async def srs_store(store: Store) -> Store:
    await store.accounts.add_domain("example.com")
    await store.accounts.add_domain("other.example")
    await store.accounts.create("ann@other.example", "correct horse battery")
    store.router.srs = Srs(SECRET, "example.com")
    return store


async def test_router_sends_a_bounce_to_an_srs_address_to_the_original_sender(
        srs_store: Store) -> None:
    bounce_to = srs_store.router.srs.forward("zed@example.org")
    route = await srs_store.router.resolve(bounce_to, "")
    assert route.external == ("zed@example.org",) and route.local == ()
    # Lowercased on the way (as our SMTP layer and other MTAs may do): still routed.
    route = await srs_store.router.resolve(bounce_to.lower(), "")
    assert route.external == ("zed@example.org",)


async def test_router_delivers_locally_when_the_original_sender_is_ours(
        srs_store: Store) -> None:
    route = await srs_store.router.resolve(srs_store.router.srs.forward("ann@other.example"))
    assert [m.address for m in route.local] == ["ann@other.example"]


async def test_router_reverses_srs1_to_the_first_forwarder(srs_store: Store) -> None:
    first = Srs(b"their secret", "fwd1.example").forward("zed@example.org")
    ours = srs_store.router.srs.forward(first)
    route = await srs_store.router.resolve(ours)
    assert route.external == (first,)


async def test_router_refuses_srs_addresses_we_did_not_make(srs_store: Store) -> None:
    forged = Srs(b"not our secret", "example.com").forward("zed@example.org")
    with pytest.raises(UnknownRecipient, match="hash does not match"):
        await srs_store.router.resolve(forged)
    old = Srs(SECRET, "example.com", clock=lambda: NOW).forward("zed@example.org")
    with pytest.raises(UnknownRecipient, match="expired"):
        await srs_store.router.resolve(old)


async def test_router_without_srs_treats_srs_addresses_as_ordinary(srs_store: Store) -> None:
    bounce_to = srs_store.router.srs.forward("zed@example.org")
    srs_store.router.srs = None
    with pytest.raises(UnknownRecipient):
        await srs_store.router.resolve(bounce_to)


async def test_srs_addresses_in_foreign_domains_are_not_ours_to_reverse(
        srs_store: Store) -> None:
    from mailstore.routing import NotLocal

    elsewhere = Srs(SECRET, "elsewhere.example").forward("zed@example.org")
    with pytest.raises(NotLocal):
        await srs_store.router.resolve(elsewhere)


def _send(port: int, sender: str, recipients: list[str], data: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(sender, recipients, data)


BOUNCE = (b"From: MAILER-DAEMON@mx.elsewhere.org\r\nTo: undisclosed\r\n"
          b"Subject: Undelivered Mail\r\n\r\nIt did not work.\r\n")


async def test_bounce_to_an_srs_address_is_accepted_by_smtp_and_queued_for_the_sender(
        start_smtp) -> None:
    smtp: RunningSmtp = await start_smtp()
    smtp.store.router.srs = Srs(SECRET, "example.com")
    bounce_to = smtp.store.router.srs.forward("zed@example.org")
    # An unauthenticated client on the MX port: relaying is allowed for this case only.
    assert await asyncio.to_thread(_send, smtp.ports[MX], "", [bounce_to], BOUNCE) == {}
    [summary] = await smtp.store.outbound.list()
    entry = await smtp.store.outbound.get(summary.id)
    assert [r.address for r in entry.pending()] == ["zed@example.org"]
    assert entry.mail_from in ("", "<>") and entry.message.endswith(BOUNCE)  # the null sender

    forged = Srs(b"not ours", "example.com").forward("zed@example.org")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await asyncio.to_thread(_send, smtp.ports[MX], "", [forged], BOUNCE)
    code, text = refused.value.recipients[forged]
    assert code == 550 and text.startswith(b"5.1.1")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await asyncio.to_thread(_send, smtp.ports[MX], "", ["carol@elsewhere.org"], BOUNCE)
    assert refused.value.recipients["carol@elsewhere.org"][0] == 554

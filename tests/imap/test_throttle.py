"""Failed logins lock an address out of every front door, whichever door it guessed at."""

from __future__ import annotations

import imaplib
import smtplib

import pytest

from mailstore.store import Store
from mailstore.throttle import FailureLimiter
from protocols.smtp.server import SmtpServer
from protocols.smtp.settings import SUBMISSION, SmtpSettings
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, listen


async def test_guesses_over_smtp_and_imap_add_up_and_lock_imap_login(
        imap: LiveImap, store: Store) -> None:
    store.logins = FailureLimiter(limit=3, lockout=900)
    smtp = SmtpServer(store, SmtpSettings("mx.test"))
    sock = listen()
    await smtp.start({SUBMISSION: sock})

    def guess_over_smtp() -> None:
        # smtplib tries AUTH PLAIN, then AUTH LOGIN: two failures.
        with smtplib.SMTP("127.0.0.1", sock.getsockname()[1], timeout=10) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("ann@example.com", "wrong password")

    def imap_logins() -> tuple[str, str]:
        refusals = []
        for password in ("still wrong", PASSWORD):
            client = imap.client()
            with pytest.raises(imaplib.IMAP4.error) as refused:
                client.login("ann@example.com", password)
            refusals.append(str(refused.value))
            client.logout()
        return refusals[0], refusals[1]

    try:
        await client_thread(guess_over_smtp)
        wrong, right = await client_thread(imap_logins)
    finally:
        await smtp.stop()
    assert "AUTHENTICATIONFAILED" in wrong
    # The third failure locked the address: even the right password is refused for now.
    assert "UNAVAILABLE" in right and "Too many failed logins" in right


async def test_a_successful_login_clears_the_count(imap: LiveImap, store: Store) -> None:
    store.logins = FailureLimiter(limit=2, lockout=900)

    def scenario() -> str:
        for password in ("wrong", PASSWORD, "wrong", PASSWORD):
            client = imap.client()
            try:
                client.login("ann@example.com", password)
            except imaplib.IMAP4.error:
                pass
            else:
                client.logout()
                continue
            client.logout()
        return "ok"

    assert await client_thread(scenario) == "ok"
    assert not store.logins.locked("127.0.0.1")

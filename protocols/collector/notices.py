"""The short messages the collector delivers locally: a rule kept a message back, or an ISP
mailbox keeps failing. Plain text, one screen, saying what happened and what to do."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailstore.collectors import CollectorAccount, Rule

SENDER = "mailer-daemon"


def _message(to: str, subject: str, body: str, hostname: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Tidings collector <{SENDER}@{hostname}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=hostname)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: never answer this
    message.set_content(body, cte="8bit")  # no soft line breaks in the error line
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def rule_notice(account: CollectorAccount, rule: Rule, to: str, sender: str, subject: str,
                size: int, hostname: str) -> bytes:
    where = ("left on the ISP server (it was not downloaded)" if rule.action == "skip"
             else "deleted from the ISP server without being downloaded")
    body = (f"A message for you at {account.host} (collector {account.name}) was {where},\n"
            f"because of the download rule \"{rule.describe()}\".\n\n"
            f"  From:    {sender or '(none)'}\n"
            f"  Subject: {subject or '(none)'}\n"
            f"  Size:    {size} bytes\n\n"
            "Ask your administrator if you need this message.\n")
    return _message(to, f"Message not downloaded: {subject or '(no subject)'}"[:200], body,
                    hostname)


def admin_notice(account: CollectorAccount, error: str, failures: int, to: str,
                 hostname: str) -> bytes:
    body = (f"Tidings could not collect mail from the ISP mailbox {account.where}\n"
            f"(collector {account.name}) {failures} times in a row.\n\n"
            f"The last error was:\n  {error}\n\n"
            "Mail waiting there is safe on the ISP server; Tidings keeps trying at every "
            f"interval ({account.interval} s). You get this message once; when a collection "
            "succeeds again the alert resets.\n"
            f"See the state with: tidings collector list\n")
    return _message(to, f"Collector {account.name}: cannot collect mail from {account.host}",
                    body, hostname)

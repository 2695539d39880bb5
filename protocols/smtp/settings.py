"""What the SMTP front door needs to know from the configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.smtp.limits import Network

MX, SUBMISSION, SUBMISSIONS = "smtp", "submission", "submissions"


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    name: str
    implicit_tls: bool = False
    auth_required: bool = False  # submission: no mail without AUTH (RFC 6409 §4.3)
    allow: tuple[Network, ...] = ()  # empty: everyone may connect
    deny: tuple[Network, ...] = ()


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    hostname: str
    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 100
    relay_networks: tuple[Network, ...] = ()
    max_connections_per_ip: int = 20
    messages_per_minute_per_ip: int = 0
    messages_per_minute_per_user: int = 0
    mailbox_full_code: int = 452
    check_sender_auth: bool = True
    # What a DMARC p=reject verdict does: "reject" (550 at DATA) or "junk" (the recipient's
    # Junk folder: nothing is lost when a mailing list broke the sender's signature).
    dmarc_reject: str = "reject"
    dnsbl_zones: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()  # "host" or "host:port"; empty: the system's resolver
    timeout: float = 300.0
    duplicate_window_hours: int = 168
    listeners: dict[str, ListenerSettings] = field(default_factory=lambda: {
        MX: ListenerSettings(MX),
        SUBMISSION: ListenerSettings(SUBMISSION, auth_required=True),
        SUBMISSIONS: ListenerSettings(SUBMISSIONS, implicit_tls=True, auth_required=True),
    })

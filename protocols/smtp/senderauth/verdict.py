"""One call for the SMTP server: SPF, DKIM and DMARC of a received message, and what to do.

Implementation notes:
- SPF, DKIM and the DMARC policy lookup run concurrently; DMARC is then evaluated from the
  three. DKIM is verified on the message as received, before any header is removed, since a
  forged Authentication-Results header may itself be signed.
- `message` is what should be stored: our Authentication-Results header first, then the
  received bytes with any forged header claiming our hostname removed (RFC 8601 §5).
- Only a DMARC `fail` changes the action (RFC 7489 §6.6.2 and §6.7 leave the final say to
  us): p=reject → reject, p=quarantine → quarantine. `temperror` never rejects: DNS trouble
  on our side must not bounce mail. The text for a 550 reply is in `rejection`.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

import dns.asyncresolver

from .authresults import authentication_results, header_field, remove_forged_results
from .dkim import DkimResult, verify_dkim
from .dmarc import DmarcResult, DmarcStatus, Policy, discover_policy, evaluate_dmarc, from_domain
from .spf import SpfResult, check_spf

__all__ = ["Action", "AuthVerdict", "authenticate_message"]


class Action(enum.StrEnum):
    ACCEPT = "accept"
    QUARANTINE = "quarantine"  # deliver to Junk
    REJECT = "reject"  # answer 550 5.7.1 (see AuthVerdict.rejection)


@dataclass(frozen=True)
class AuthVerdict:
    """The outcome of sender authentication for one received message."""

    action: Action
    header: bytes  # "Authentication-Results: ...\r\n", folded, to prepend
    message: bytes  # header + the received message without forged A-R headers
    spf: SpfResult
    dkim: tuple[DkimResult, ...]
    dmarc: DmarcResult

    @property
    def header_value(self) -> str:
        """The header value unfolded, for logs and the message trace."""
        text = self.header.decode().split(":", 1)[1]
        return " ".join(text.split())

    @property
    def rejection(self) -> str | None:
        """The SMTP reply for a rejected message, or None."""
        if self.action is not Action.REJECT:
            return None
        return (
            f"550 5.7.1 DMARC policy of {self.dmarc.from_domain} rejects this message: "
            f"{self.dmarc.reason}"
        )


def _action(dmarc: DmarcResult) -> Action:
    if dmarc.result is not DmarcStatus.FAIL:
        return Action.ACCEPT
    if dmarc.disposition is Policy.REJECT:
        return Action.REJECT
    if dmarc.disposition is Policy.QUARANTINE:
        return Action.QUARANTINE
    return Action.ACCEPT


def _linesep(raw: bytes) -> bytes:
    """The message's own line end, so the header we prepend matches it (CRLF by default)."""
    first = raw.find(b"\n")
    return b"\n" if first >= 0 and raw[first - 1 : first] != b"\r" else b"\r\n"


async def authenticate_message(
    raw: bytes,
    ip: str,
    helo: str,
    mail_from: str,
    hostname: str,
    resolver: dns.asyncresolver.Resolver,
) -> AuthVerdict:
    """Authenticate a received message: `raw` as received after DATA, `ip` of the client,
    its HELO/EHLO name, MAIL FROM (no angle brackets, "" for the null sender), and our
    `hostname` (the authserv-id of the header)."""
    spf, dkim, policy = await asyncio.gather(
        check_spf(ip, mail_from, helo, resolver),
        verify_dkim(raw, resolver),
        discover_policy(from_domain(raw), resolver),
    )
    dmarc = evaluate_dmarc(policy, spf, dkim)
    header = header_field(authentication_results(hostname, spf, dkim, dmarc), _linesep(raw))
    return AuthVerdict(
        action=_action(dmarc),
        header=header,
        message=header + remove_forged_results(raw, hostname),
        spf=spf,
        dkim=tuple(dkim),
        dmarc=dmarc,
    )

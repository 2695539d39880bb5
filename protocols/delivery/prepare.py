"""What happens to a message just before it leaves: SRS for forwarded mail, DKIM signing.

Implementation notes:
- SRS (``srs.py``): a message whose envelope sender is not in one of our domains is mail we
  forward; its sender is rewritten into our SRS domain so the receiver's SPF check sees us,
  and a bounce comes back to us to be passed on (mailstore/routing.py reverses it).
  Bounces (null sender) are left alone.
- DKIM (``dkimsign.py``): signed with the key of the From: header's domain, if we have one,
  so that DMARC alignment holds. Signing is last: nothing may change the message after it.
- Our domains are read from the database at most once a minute.
"""

from __future__ import annotations

import time
from email.utils import parseaddr

from mailstore.outbound import QueueEntry
from mailstore.store import Store
from protocols.delivery.dkimsign import sign
from protocols.delivery.srs import Srs
from protocols.smtp.headers import field_values

DOMAINS_TTL = 60.0


class Preparer:
    def __init__(self, store: Store, secret: bytes, hostname: str = "",
                 srs: bool = True) -> None:
        self.store = store
        self.secret = secret
        self.hostname = hostname.lower()
        self.use_srs = srs
        self._domains: set[str] = set()
        self._domains_at = 0.0

    async def domains(self) -> set[str]:
        if time.monotonic() - self._domains_at > DOMAINS_TTL:
            self._domains = {d.name.lower() for d in await self.store.accounts.list_domains()}
            self._domains_at = time.monotonic()
        return self._domains

    async def __call__(self, entry: QueueEntry) -> tuple[str, bytes]:
        message = entry.message or b""
        return await self.envelope_sender(entry.mail_from), await self.signed(message)

    async def envelope_sender(self, sender: str) -> str:
        if not self.use_srs or not sender or "@" not in sender:
            return sender
        ours = await self.domains()
        if sender.rpartition("@")[2].lower() in ours:
            return sender
        domain = self.srs_domain(ours)
        return Srs(self.secret, domain).forward(sender) if domain else sender

    def srs_domain(self, ours: set[str]) -> str:
        """Our domain that our host name is in (mail.example.com → example.com), else the
        first of our domains: bounces to it must reach us."""
        for domain in sorted(ours, key=len, reverse=True):
            if self.hostname == domain or self.hostname.endswith("." + domain):
                return domain
        return min(ours) if ours else ""

    async def signed(self, message: bytes) -> bytes:
        domain = from_domain(message)
        if not domain:
            return message
        key = await self.store.dkim.signing_key(domain)
        return sign(message, key) if key is not None else message


def from_domain(message: bytes) -> str:
    """The domain of the (first) From: address, lower-cased; "" if there is none."""
    values = field_values(message, "From")
    if not values:
        return ""
    _, address = parseaddr(values[0])
    return address.rpartition("@")[2].lower() if "@" in address else ""

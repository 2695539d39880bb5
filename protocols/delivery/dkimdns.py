"""Is a DKIM key published? The TXT record at ``<selector>._domainkey.<domain>`` compared
with the key the queue signs with (RFC 6376 §3.6.1), asked of the configured DNS servers.

Receivers verify a signature against whatever DNS says, so "published" means: a TXT record
there whose ``p=`` is our public key, with ``v=DKIM1`` if present and a key type that
matches. Anything else is reported in words the administrator can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver

from protocols.smtp.senderauth.resolver import DnsStatus, lookup

OK, MISSING, DIFFERENT, ERROR = "ok", "missing", "different", "error"


@dataclass(frozen=True, slots=True)
class PublishedCheck:
    status: str  # ok, missing, different, error
    message: str


def _tags(record: str) -> dict[str, str]:
    """``v=DKIM1; k=rsa; p=MIIB...`` → tags; whitespace inside values is folding, dropped."""
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


async def check_published(resolver: dns.asyncresolver.Resolver, name: str, algorithm: str,
                          public_key: str) -> PublishedCheck:
    answer = await lookup(resolver, name, "TXT")
    if answer.status is DnsStatus.TEMPERROR:
        return PublishedCheck(ERROR, f"DNS did not answer ({answer.reason}); try again later")
    if not answer.ok:
        return PublishedCheck(MISSING, f"no TXT record at {name} yet: publish the record "
                              "below at your DNS provider (changes can take an hour to show)")
    keys = [_tags(r) for r in answer.records if "p=" in r]
    if not keys:
        return PublishedCheck(DIFFERENT, f"the TXT record at {name} is not a DKIM key "
                              "(it has no p= tag)")
    for tags in keys:
        if tags.get("p") == public_key and tags.get("k", "rsa") == algorithm and \
                tags.get("v", "DKIM1") == "DKIM1":
            return PublishedCheck(OK, f"published correctly at {name}")
    if any(tags.get("p") == "" for tags in keys):
        return PublishedCheck(DIFFERENT, f"the key at {name} is revoked (empty p=)")
    return PublishedCheck(DIFFERENT, f"{name} holds a different key: replace its TXT record "
                          "with the one below")

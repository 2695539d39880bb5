"""Sender authentication of incoming mail: SPF, DKIM, DMARC, DNSBL, Authentication-Results.

The SMTP server calls `authenticate_message` after DATA and `dnsbl_listings` at connect,
with a resolver from `make_resolver`.
"""

from __future__ import annotations

from .authresults import authentication_results, header_field, remove_forged_results
from .dkim import DkimResult, DkimStatus, verify_dkim
from .dmarc import DmarcResult, DmarcStatus, FromDomain, Policy, check_dmarc, from_domain
from .dnsbl import Listing, dnsbl_listings
from .resolver import DnsAnswer, DnsStatus, lookup, make_resolver
from .spf import SpfResult, SpfStatus, check_spf
from .verdict import Action, AuthVerdict, authenticate_message

__all__ = [
    "Action",
    "AuthVerdict",
    "DkimResult",
    "DkimStatus",
    "DmarcResult",
    "DmarcStatus",
    "DnsAnswer",
    "DnsStatus",
    "FromDomain",
    "Listing",
    "Policy",
    "SpfResult",
    "SpfStatus",
    "authenticate_message",
    "authentication_results",
    "check_dmarc",
    "check_spf",
    "dnsbl_listings",
    "from_domain",
    "header_field",
    "lookup",
    "make_resolver",
    "remove_forged_results",
    "verify_dkim",
]

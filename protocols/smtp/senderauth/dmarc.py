"""DMARC (RFC 7489): does an aligned SPF or DKIM pass back the From domain, and if not,
what does its owner ask us to do?

Implementation notes:
- The identity is the domain of the RFC5322.From header. A message with no From, several From
  headers, or addresses in more than one domain has no single identity: the result is
  `permerror` with a reason, and no policy is applied (RFC 7489 §6.6.1 leaves this to us;
  rejecting such mail is a decision for the SMTP layer, which sees the reason).
- Organisational domain (§3.2) comes from a small built-in heuristic, not the Public Suffix
  List: the last two labels, or the last three when the last two are a common two-level
  public suffix (co.uk, com.au, ...). It is wrong for rarer suffixes; the effect is only that
  relaxed alignment and the policy fallback are stricter (or looser) than they should be.
- `pct=` is parsed but treated as 100: the policy is applied to every failing message.
- A failure where SPF or DKIM of an aligned domain had a temporary DNS error is reported as
  `temperror`, so that a DNS hiccup never rejects mail.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

import dns.asyncresolver

from .dkim import DkimResult, DkimStatus
from .resolver import lookup
from .spf import SpfResult, SpfStatus

__all__ = [
    "DmarcPolicy",
    "DmarcResult",
    "DmarcStatus",
    "FromDomain",
    "Policy",
    "check_dmarc",
    "discover_policy",
    "evaluate_dmarc",
    "from_domain",
    "organizational_domain",
]


class DmarcStatus(enum.StrEnum):
    """RFC 7489 §11.2 results for Authentication-Results."""

    NONE = "none"
    PASS = "pass"
    FAIL = "fail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class Policy(enum.StrEnum):
    """RFC 7489 §6.3 p= / sp= values."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


@dataclass(frozen=True)
class FromDomain:
    """The RFC5322.From domain, or why there is no single one."""

    domain: str | None
    problem: str = ""


@dataclass(frozen=True)
class DmarcResult:
    """The DMARC outcome for one message."""

    result: DmarcStatus
    from_domain: str  # header.from ("" when the From header gave no single domain)
    policy: Policy = Policy.NONE  # what the domain owner asks for failing mail (p= or sp=)
    disposition: Policy = Policy.NONE  # what to do with this message: policy if result fails
    record_domain: str = ""  # where the record was found (_dmarc.<this>)
    spf_aligned: bool = False
    dkim_aligned: bool = False
    reason: str = ""


# Common two-level public suffixes; see the note at the top of the module.
_TWO_LEVEL_SUFFIXES = frozenset(
    f"{second}.{cc}"
    for cc in ("uk", "au", "nz", "za", "jp", "br", "in", "kr", "il", "tr", "mx", "ar", "sg")
    for second in ("co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "gob", "ltd", "plc")
)


def organizational_domain(domain: str) -> str:
    """RFC 7489 §3.2 organisational domain, by the heuristic described above."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def from_domain(raw: bytes) -> FromDomain:
    """Find the single RFC5322.From domain of a message (RFC 7489 §6.6.1)."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        fields = headers.get_all("From") or []
        if not fields:
            return FromDomain(None, "no From header")
        if len(fields) > 1:
            return FromDomain(None, f"{len(fields)} From headers")  # RFC 5322 §3.6: one
        addresses = fields[0].addresses
    except (ValueError, TypeError, IndexError, AttributeError) as e:
        return FromDomain(None, f"From header cannot be parsed: {e}")
    domains = {a.domain.lower().rstrip(".") for a in addresses if a.domain}
    if not addresses or not domains:
        return FromDomain(None, "From header has no address with a domain")
    if len(domains) > 1:
        # §6.6.1: with several From domains there is no single identity to evaluate.
        return FromDomain(None, f"From addresses in {len(domains)} domains")
    return FromDomain(domains.pop())


@dataclass(frozen=True)
class _Record:
    policy: Policy
    subdomain_policy: Policy
    adkim_strict: bool
    aspf_strict: bool
    pct: int


class _BadRecord(Exception):
    pass


def _parse_record(text: str) -> _Record:
    """RFC 7489 §6.3/§6.4: a tag-value list; v=DMARC1 first, p= required."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        if not eq:
            raise _BadRecord(f"not a tag=value pair: {part.strip()!r}")
        tags.setdefault(name.strip().lower(), value.strip())
    policies = {p.value: p for p in Policy}
    p = tags.get("p", "").lower()
    if p not in policies:
        # §6.6.3: without a valid p=, a record with rua= acts as p=none; otherwise no DMARC
        if "rua" in tags:
            p = "none"
        else:
            raise _BadRecord(f"invalid or missing p= in {text!r}")
    sp = tags.get("sp", p).lower()
    if sp not in policies:
        raise _BadRecord(f"invalid sp= in {text!r}")
    try:
        pct = int(tags.get("pct", "100"))
    except ValueError:
        pct = 100
    return _Record(
        policies[p],
        policies[sp],
        tags.get("adkim", "r").lower() == "s",
        tags.get("aspf", "r").lower() == "s",
        max(0, min(100, pct)),
    )


def _aligned(domain: str, from_dom: str, strict: bool) -> bool:
    """RFC 7489 §3.1: strict is the same domain, relaxed the same organisational domain."""
    domain = domain.lower().rstrip(".")
    if strict:
        return domain == from_dom
    return organizational_domain(domain) == organizational_domain(from_dom)


def _is_dmarc_record(text: str) -> bool:
    # §6.6.3: records that do not start with "v=DMARC1" are discarded
    return re.match(r"^v\s*=\s*DMARC1\s*(;|$)", text) is not None


@dataclass(frozen=True)
class DmarcPolicy:
    """The outcome of policy discovery (§6.6.3), made before SPF and DKIM are known so the
    lookups can run concurrently with them. `decided` is set when no evaluation is needed."""

    from_domain: str
    record_domain: str = ""
    record: _Record | None = None
    decided: DmarcResult | None = None


async def discover_policy(
    from_dom: FromDomain | str, resolver: dns.asyncresolver.Resolver
) -> DmarcPolicy:
    """Find the DMARC record for the From domain, falling back to its organisational domain."""
    if isinstance(from_dom, str):
        from_dom = FromDomain(from_dom.lower().rstrip(".") or None, "empty From domain")
    if from_dom.domain is None:
        return DmarcPolicy("", decided=DmarcResult(
            DmarcStatus.PERMERROR, "", reason=from_dom.problem))
    domain = from_dom.domain
    org = organizational_domain(domain)
    # §6.6.3 policy discovery: the From domain, then the organisational domain.
    record_domain = domain
    answer = await lookup(resolver, f"_dmarc.{domain}", "TXT")
    records = [r for r in answer.records if _is_dmarc_record(r)]
    if not answer.temporary and not records and org != domain:
        record_domain = org
        answer = await lookup(resolver, f"_dmarc.{org}", "TXT")
        records = [r for r in answer.records if _is_dmarc_record(r)]
    if answer.temporary:
        return DmarcPolicy(domain, decided=DmarcResult(
            DmarcStatus.TEMPERROR, domain, reason=answer.reason))
    if len(records) != 1:
        # §6.6.3: no record, or several, means DMARC does not apply
        why = "no DMARC record" if not records else "several DMARC records"
        return DmarcPolicy(domain, decided=DmarcResult(
            DmarcStatus.NONE, domain, reason=f"{why} for {domain}"))
    try:
        record = _parse_record(records[0])
    except _BadRecord as e:
        return DmarcPolicy(domain, record_domain, decided=DmarcResult(
            DmarcStatus.PERMERROR, domain, record_domain=record_domain, reason=str(e)))
    return DmarcPolicy(domain, record_domain, record)


def evaluate_dmarc(
    found: DmarcPolicy, spf: SpfResult, dkim: Sequence[DkimResult]
) -> DmarcResult:
    """Apply a discovered policy to the SPF and DKIM results (§4.2, §6.6.2)."""
    if found.decided is not None:
        return found.decided
    assert found.record is not None
    record, domain = found.record, found.from_domain
    # §6.3 sp=: the subdomain policy applies to a From domain below the record's domain
    policy = record.subdomain_policy if found.record_domain != domain else record.policy
    # record.pct is not applied: every failing message gets the policy (see module notes)
    spf_aligned = spf.result is SpfStatus.PASS and _aligned(spf.domain, domain, record.aspf_strict)
    dkim_aligned = any(
        r.result is DkimStatus.PASS and _aligned(r.domain, domain, record.adkim_strict)
        for r in dkim
    )
    result = DmarcResult(
        DmarcStatus.PASS, domain, policy=policy, record_domain=found.record_domain,
        spf_aligned=spf_aligned, dkim_aligned=dkim_aligned,
    )
    if spf_aligned or dkim_aligned:  # §4.2: either aligned pass is a DMARC pass
        via = "SPF" if spf_aligned else "DKIM"
        return replace(result, reason=f"aligned {via} pass")
    temporary = (
        spf.result is SpfStatus.TEMPERROR and _aligned(spf.domain, domain, record.aspf_strict)
    ) or any(
        r.result is DkimStatus.TEMPERROR and _aligned(r.domain, domain, record.adkim_strict)
        for r in dkim
    )
    if temporary:
        return replace(result, result=DmarcStatus.TEMPERROR,
                       reason="aligned SPF or DKIM had a temporary error")
    return replace(result, result=DmarcStatus.FAIL, disposition=policy,
                   reason="no aligned SPF or DKIM pass")


async def check_dmarc(
    from_dom: FromDomain | str,
    spf: SpfResult,
    dkim: Sequence[DkimResult],
    resolver: dns.asyncresolver.Resolver,
) -> DmarcResult:
    """Evaluate DMARC for the From domain given the SPF and DKIM results."""
    return evaluate_dmarc(await discover_policy(from_dom, resolver), spf, dkim)

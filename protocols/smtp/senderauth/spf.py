"""SPF (RFC 7208): may this IP address send mail for the MAIL FROM domain?

Implementation notes:
- A record is parsed whole before any mechanism is evaluated: a syntax error anywhere is a
  `permerror` even when an earlier mechanism would match (RFC 7208 §4.6).
- One `_Evaluation` carries the DNS-lookup and void-lookup counters through every include and
  redirect of a check: the limits are for the whole check, not per record (§4.6.4).
- DNS failures (timeout, SERVFAIL) end the check with `temperror` at once (§4.4, §5), except
  inside `ptr`, where they only make the mechanism not match (§5.5).
- Only the MAIL FROM identity is checked (or postmaster@HELO for the null sender, §2.4); a
  separate HELO check is not done. `exp=` is parsed but never fetched: we do not send the
  explanation to anyone (§6.2 makes it optional). `%{p}` is expanded by the same PTR
  validation as the `ptr` mechanism, which the RFC discourages but allows.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field

import dns.asyncresolver

from .resolver import DnsAnswer, lookup

__all__ = ["SpfResult", "SpfStatus", "check_spf"]

# RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups, at most 2 void lookups.
MAX_DNS_TERMS = 10
MAX_VOID_LOOKUPS = 2
MAX_MX_NAMES = 10  # §4.6.4: more than 10 MX names → permerror
MAX_PTR_NAMES = 10  # §4.6.4: look at no more than 10 PTR names; ignore the rest


class SpfStatus(enum.StrEnum):
    """RFC 7208 §2.6 results; the values are the words of Authentication-Results."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


@dataclass(frozen=True)
class SpfResult:
    """Outcome of check_host for the MAIL FROM (or HELO) domain."""

    result: SpfStatus
    domain: str  # the domain whose policy was checked (MAIL FROM domain, or HELO)
    reason: str = ""
    sender: str = ""  # the full identity checked, for smtp.mailfrom
    scope: str = "mailfrom"  # "helo" when the null sender made us check the HELO name


class _Stop(Exception):
    """Ends the whole check with a result (temperror/permerror), from any depth."""

    def __init__(self, result: SpfStatus, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


def _permerror(reason: str) -> _Stop:
    return _Stop(SpfStatus.PERMERROR, reason)


# ---------------------------------------------------------------------------- macros (§7)

_MACRO_LETTERS = "slodiphv"  # c, r and t are only valid in an explanation (§7.2)
_MACRO_RE = re.compile(r"%\{([A-Za-z])(\d*)(r?)([.\-+,/_=]*)\}", re.IGNORECASE)


@dataclass(frozen=True)
class _Macro:
    letter: str
    digits: int | None
    reverse: bool
    delimiters: str


def _parse_macro_string(text: str) -> list[str | _Macro]:
    """Split a macro-string into literals and macros; permerror on a bad % (§7.1)."""
    out: list[str | _Macro] = []
    i = 0
    literal = ""
    while i < len(text):
        ch = text[i]
        if ch != "%":
            # §7.1: macro-literal = %x21-24 / %x26-7E (visible characters but "%")
            if not 0x21 <= ord(ch) <= 0x7E:
                raise _permerror(f"invalid character {ch!r} in {text!r}")
            literal += ch
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "%":
            literal += "%"
            i += 2
        elif nxt == "_":
            literal += " "
            i += 2
        elif nxt == "-":
            literal += "%20"
            i += 2
        elif nxt == "{":
            m = _MACRO_RE.match(text, i)
            if m is None:
                raise _permerror(f"invalid macro in {text!r}")
            letter, digits, rev, delims = m.groups()
            if letter.lower() not in _MACRO_LETTERS:
                raise _permerror(f"macro %{{{letter}}} not allowed here in {text!r}")
            if digits and int(digits) == 0:
                raise _permerror(f"macro with zero parts in {text!r}")  # §7.3: nonzero
            if literal:
                out.append(literal)
                literal = ""
            out.append(_Macro(letter, int(digits) if digits else None, bool(rev), delims))
            i = m.end()
        else:
            raise _permerror(f"a lone % in {text!r}")
    if literal:
        out.append(literal)
    return out


_TOPLABEL_RE = re.compile(
    r"\.([A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9])\.?$"
)


def _parse_domain_spec(text: str) -> list[str | _Macro]:
    """RFC 7208 §7.1: domain-spec = macro-string domain-end."""
    if not text:
        raise _permerror("empty domain-spec")
    parts = _parse_macro_string(text)
    # domain-end = ( "." toplabel [ "." ] ) / macro-expand
    if isinstance(parts[-1], _Macro):
        return parts
    if not text.endswith("}") and not _TOPLABEL_RE.search(text):
        raise _permerror(f"domain-spec {text!r} does not end in a top-level label")
    return parts


# ----------------------------------------------------------------------- terms (§4.6.1)


@dataclass(frozen=True)
class _Directive:
    qualifier: SpfStatus
    mechanism: str
    domain_spec: list[str | _Macro] | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    cidr4: int = 32
    cidr6: int = 128
    text: str = ""


@dataclass
class _Record:
    directives: list[_Directive] = field(default_factory=list)
    redirect: list[str | _Macro] | None = None


_QUALIFIERS = {
    "+": SpfStatus.PASS,
    "-": SpfStatus.FAIL,
    "~": SpfStatus.SOFTFAIL,
    "?": SpfStatus.NEUTRAL,
}
_MODIFIER_RE = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*)=(.*)$", re.DOTALL)
# a/mx arguments: [":" domain-spec] [ "/" ip4-cidr ] [ "//" ip6-cidr ]; a domain-spec may hold
# "/" inside a macro ("%{l/}"), so the spec is "macros or anything but /".
_DUAL_CIDR_RE = re.compile(
    r"^(?::(?P<spec>(?:%\{[^}]*\}|[^/])+))?(?:/(?P<c4>0|[1-9]\d?))?(?://(?P<c6>0|[1-9]\d{0,2}))?$"
)
_CIDR_RE = re.compile(r"^(?P<addr>[^/]+)(?:/(?P<len>0|[1-9]\d{0,2}))?$")


def _parse_record(text: str) -> _Record:
    """Parse a whole "v=spf1 ..." record, or raise permerror (§4.6)."""
    record = _Record()
    seen_exp = False
    for term in text.split(" ")[1:]:
        if not term:
            continue  # §4.6.1: terms are separated by 1*SP
        m = _MODIFIER_RE.match(term)
        if m:
            name, value = m.group(1).lower(), m.group(2)
            if name == "redirect":
                if record.redirect is not None:  # §6: each modifier at most once
                    raise _permerror("more than one redirect= modifier")
                record.redirect = _parse_domain_spec(value)
            elif name == "exp":
                if seen_exp:
                    raise _permerror("more than one exp= modifier")
                seen_exp = True
                _parse_domain_spec(value)  # checked for syntax, never fetched
            else:
                _parse_macro_string(value)  # §6: unknown modifiers are ignored, if valid
            continue
        record.directives.append(_parse_directive(term))
    return record


def _parse_directive(term: str) -> _Directive:
    qualifier = SpfStatus.PASS
    rest = term
    if rest[0] in _QUALIFIERS:
        qualifier = _QUALIFIERS[rest[0]]
        rest = rest[1:]
    m = re.match(r"^[A-Za-z][A-Za-z0-9\-_.]*", rest)
    if not m:
        raise _permerror(f"invalid term {term!r}")
    name, args = m.group(0).lower(), rest[m.end() :]
    if name == "all":
        if args:
            raise _permerror(f"'all' takes no argument: {term!r}")
        return _Directive(qualifier, name, text=term)
    if name in ("include", "exists"):
        if not args.startswith(":"):
            raise _permerror(f"{name} needs a domain: {term!r}")
        return _Directive(qualifier, name, _parse_domain_spec(args[1:]), text=term)
    if name in ("a", "mx"):
        m = _DUAL_CIDR_RE.match(args)
        if not m:
            raise _permerror(f"invalid {name} mechanism: {term!r}")
        c4 = int(m["c4"]) if m["c4"] else 32
        c6 = int(m["c6"]) if m["c6"] else 128
        if c4 > 32 or c6 > 128:
            raise _permerror(f"invalid CIDR length: {term!r}")
        spec = _parse_domain_spec(m["spec"]) if m["spec"] is not None else None
        return _Directive(qualifier, name, spec, cidr4=c4, cidr6=c6, text=term)
    if name == "ptr":
        if args and not args.startswith(":"):
            raise _permerror(f"invalid ptr mechanism: {term!r}")
        spec = _parse_domain_spec(args[1:]) if args else None
        return _Directive(qualifier, name, spec, text=term)
    if name in ("ip4", "ip6"):
        m = _CIDR_RE.match(args[1:]) if args.startswith(":") else None
        if not m:
            raise _permerror(f"invalid {name} mechanism: {term!r}")
        try:
            addr = ipaddress.ip_address(m["addr"])
        except ValueError:
            raise _permerror(f"invalid address in {term!r}") from None
        if (name == "ip4") != (addr.version == 4):
            raise _permerror(f"{name} with an IPv{addr.version} address: {term!r}")
        length = int(m["len"]) if m["len"] else addr.max_prefixlen
        if length > addr.max_prefixlen:
            raise _permerror(f"invalid CIDR length: {term!r}")
        # §5.6: bits past the prefix are ignored, so strict=False.
        net = ipaddress.ip_network(f"{addr}/{length}", strict=False)
        return _Directive(qualifier, name, network=net, text=term)
    raise _permerror(f"unknown mechanism {name!r}")  # §4.6.1: unknown mechanisms → permerror


# ------------------------------------------------------------------------ evaluation


def _valid_domain(domain: str) -> bool:
    """§4.3: a multi-label domain of labels 1-63 characters, at most 253 in all."""
    d = domain.rstrip(".")
    if not d or len(d) > 253 or "." not in d:
        return False
    labels = d.split(".")
    if not all(0 < len(label) <= 63 for label in labels):
        return False
    try:
        ipaddress.ip_address(d)
        return False
    except ValueError:
        return True


def _ip_nibbles(ip: ipaddress.IPv6Address) -> list[str]:
    return list(ip.exploded.replace(":", ""))


@dataclass
class _Evaluation:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sender: str
    helo: str
    resolver: dns.asyncresolver.Resolver
    dns_terms: int = 0
    void_lookups: int = 0
    _validated_name: str | None = None

    def count_term(self, term: str) -> None:
        self.dns_terms += 1
        if self.dns_terms > MAX_DNS_TERMS:  # §4.6.4
            raise _permerror(f"more than {MAX_DNS_TERMS} DNS lookups (at {term!r})")

    async def query(self, name: str, rdtype: str, *, count_void: bool = True) -> DnsAnswer:
        answer = await lookup(self.resolver, name, rdtype)
        if answer.temporary:  # §4.4, §5: a DNS error ends the check with temperror
            raise _Stop(SpfStatus.TEMPERROR, answer.reason)
        if answer.void and count_void:
            self.void_lookups += 1
            if self.void_lookups > MAX_VOID_LOOKUPS:  # §4.6.4
                raise _permerror(f"more than {MAX_VOID_LOOKUPS} void DNS lookups ({name})")
        return answer

    @property
    def addr_type(self) -> str:
        return "A" if self.ip.version == 4 else "AAAA"

    async def expand(self, spec: list[str | _Macro], domain: str) -> str:
        """§7.3: expand a domain-spec; over 253 characters, drop labels from the left."""
        out = ""
        for part in spec:
            out += part if isinstance(part, str) else await self._expand_macro(part, domain)
        out = out.rstrip(".")
        while len(out) > 253 and "." in out:
            out = out.split(".", 1)[1]
        return out

    async def _expand_macro(self, macro: _Macro, domain: str) -> str:
        local, _, sender_domain = self.sender.rpartition("@")
        letter = macro.letter.lower()
        if letter == "s":
            value = self.sender
        elif letter == "l":
            value = local
        elif letter == "o":
            value = sender_domain
        elif letter == "d":
            value = domain
        elif letter == "h":
            value = self.helo
        elif letter == "v":
            value = "in-addr" if self.ip.version == 4 else "ip6"
        elif letter == "i":
            # §7.3: IPv6 in "dot-format", 32 nibbles separated by dots
            value = str(self.ip) if self.ip.version == 4 else ".".join(_ip_nibbles(self.ip))
        else:  # "p"
            value = await self._validated_domain(domain) or "unknown"
        delims = macro.delimiters or "."
        parts = re.split("[" + re.escape(delims) + "]", value)
        if macro.reverse:
            parts.reverse()
        if macro.digits is not None:
            parts = parts[-macro.digits :]
        value = ".".join(parts)
        if macro.letter.isupper():  # §7.3: uppercase macro letters are URL-escaped
            value = urllib.parse.quote(value, safe="")
        return value

    async def _ptr_names(self, target: str) -> list[str]:
        """§5.5: names from PTR whose own A/AAAA records hold the IP, subdomains first."""
        answer = await lookup(self.resolver, self.ip.reverse_pointer, "PTR")
        if not answer.ok:
            return []  # §5.5: a DNS error in ptr only means no match
        validated: list[str] = []
        for name in answer.records[:MAX_PTR_NAMES]:
            addrs = await lookup(self.resolver, name, self.addr_type)
            if addrs.ok and any(ipaddress.ip_address(a) == self.ip for a in addrs.records):
                validated.append(name.lower())
        target = target.lower()
        validated.sort(key=lambda n: not (n == target or n.endswith("." + target)))
        return validated

    async def _validated_domain(self, domain: str) -> str | None:
        if self._validated_name is None:
            names = await self._ptr_names(domain)
            self._validated_name = names[0] if names else ""
        return self._validated_name or None

    def matches(self, addresses: tuple[str, ...], cidr4: int, cidr6: int) -> bool:
        length = cidr4 if self.ip.version == 4 else cidr6
        for text in addresses:
            try:
                addr = ipaddress.ip_address(text)
            except ValueError:
                continue
            if addr.version != self.ip.version:
                continue
            if self.ip in ipaddress.ip_network(f"{addr}/{length}", strict=False):
                return True
        return False

    async def check_host(self, domain: str) -> tuple[SpfStatus, str]:
        """§4: check_host() for one domain; recursion for include/redirect."""
        if not _valid_domain(domain):
            return SpfStatus.NONE, f"{domain!r} is not a valid domain"  # §4.3
        record = await self._fetch_record(domain)
        if record is None:
            return SpfStatus.NONE, f"no SPF record at {domain}"
        parsed = _parse_record(record)  # §4.6: syntax errors → permerror before anything
        for directive in parsed.directives:
            if await self._evaluate(directive, domain):
                return directive.qualifier, f"matched {directive.text} in {domain}"
        if parsed.redirect is not None:
            self.count_term("redirect")
            target = await self.expand(parsed.redirect, domain)
            result, reason = await self.check_host(target)
            if result is SpfStatus.NONE:  # §6.1: a redirect to no record is permerror
                raise _permerror(f"redirect to {target} which has no SPF record")
            return result, reason
        return SpfStatus.NEUTRAL, f"no mechanism matched in {domain}"  # §4.7

    async def _fetch_record(self, domain: str) -> str | None:
        # §4.4: the TXT lookup; NXDOMAIN → none. §4.6.4 void limits count mechanism lookups
        # (include's record fetch among them), not the first one of check_host.
        answer = await lookup(self.resolver, domain, "TXT")
        if answer.temporary:
            raise _Stop(SpfStatus.TEMPERROR, answer.reason)
        # §4.5: records beginning "v=spf1" followed by a space or the end
        spf = [
            r for r in answer.records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")
        ]
        if len(spf) > 1:
            raise _permerror(f"{domain} has {len(spf)} SPF records")  # §4.5
        return spf[0] if spf else None

    async def _evaluate(self, d: _Directive, domain: str) -> bool:
        if d.mechanism == "all":
            return True
        if d.mechanism in ("ip4", "ip6"):
            assert d.network is not None
            return self.ip.version == d.network.version and self.ip in d.network
        self.count_term(d.text)  # §4.6.4: include, a, mx, ptr and exists count
        target = await self.expand(d.domain_spec, domain) if d.domain_spec else domain
        if d.mechanism == "include":
            result, reason = await self.check_host(target)
            # §5.2: pass matches; fail, softfail and neutral do not; none is permerror
            if result is SpfStatus.PASS:
                return True
            if result in (SpfStatus.FAIL, SpfStatus.SOFTFAIL, SpfStatus.NEUTRAL):
                return False
            if result is SpfStatus.NONE:
                raise _permerror(f"include:{target} has no SPF record")
            raise _Stop(result, reason)
        if d.mechanism == "a":
            answer = await self.query(target, self.addr_type)
            return self.matches(answer.records, d.cidr4, d.cidr6)
        if d.mechanism == "mx":
            answer = await self.query(target, "MX")
            hosts = [r.split(" ", 1)[1] for r in answer.records]
            hosts = [h for h in hosts if h not in ("", ".")]  # RFC 7505 null MX
            if len(hosts) > MAX_MX_NAMES:  # §4.6.4
                raise _permerror(f"{target} has more than {MAX_MX_NAMES} MX names")
            for host in hosts:
                addrs = await self.query(host, self.addr_type)
                if self.matches(addrs.records, d.cidr4, d.cidr6):
                    return True
            return False
        if d.mechanism == "exists":
            # §5.7: always an A query, whatever the IP version of the client
            answer = await self.query(target, "A")
            return answer.ok
        if d.mechanism == "ptr":
            target = target.lower()
            names = await self._ptr_names(target)
            return any(n == target or n.endswith("." + target) for n in names)
        raise _permerror(f"unknown mechanism {d.mechanism!r}")  # unreachable: parsed above


def _parse_ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    addr = ipaddress.ip_address(ip.strip().strip("[]"))
    # RFC 7208 §5: an IPv4-mapped IPv6 address is evaluated as the IPv4 address
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


async def check_spf(
    ip: str, mail_from: str, helo: str, resolver: dns.asyncresolver.Resolver
) -> SpfResult:
    """Run RFC 7208 check_host for a connection's IP and envelope sender.

    `mail_from` is the MAIL FROM address without angle brackets (empty for the null
    sender, which is then checked as postmaster@`helo`, RFC 7208 §2.4).
    """
    helo = helo.strip().rstrip(".")
    sender = mail_from.strip().strip("<>")
    scope = "mailfrom"
    if not sender:
        sender, scope = f"postmaster@{helo}", "helo"  # §2.4
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = "", sender
    if not local:
        sender = f"postmaster@{domain}"  # §4.3: no local-part → "postmaster"
    domain = domain.rstrip(".").lower()
    try:
        addr = _parse_ip(ip)
    except ValueError:
        return SpfResult(SpfStatus.PERMERROR, domain, f"invalid client IP {ip!r}", sender, scope)
    evaluation = _Evaluation(addr, sender, helo, resolver)
    try:
        result, reason = await evaluation.check_host(domain)
    except _Stop as stop:
        result, reason = stop.result, stop.reason
    return SpfResult(result, domain, reason, sender, scope)

"""DKIM (RFC 6376) verification of every signature in a message, with dkimpy.

Implementation notes:
- dkimpy asks DNS through a synchronous `dnsfunc`. We never let it block the event loop or
  use its own resolver: the keys (`<s>._domainkey.<d>` TXT) are fetched first with our async
  resolver, concurrently, and dkimpy is then run in a worker thread (`asyncio.to_thread`)
  with a dnsfunc that only answers from that prefetched dict.
- Because we fetched the keys ourselves, we classify key problems before dkimpy sees them
  (dkimpy turns every key problem into a plain "False"): DNS failure → temperror, no key
  record → permerror, unusable or revoked key → permerror (RFC 6376 §6.1.2, RFC 8601 §2.7.1).
  A signature that does not verify (body hash or header signature) → fail; a signature header
  that cannot be parsed → neutral; a parsed one missing required tags, with an unknown
  algorithm or expired → permerror.
- The message bytes are given to dkimpy unchanged (CRLF or LF); nothing here modifies them.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

import dkim as dkimpy
import dkim.util as dkimpy_util
import dns.asyncresolver

from .resolver import DnsAnswer, lookup

__all__ = ["DkimResult", "DkimStatus", "verify_dkim"]


class DkimStatus(enum.StrEnum):
    """RFC 8601 §2.7.1 DKIM results."""

    NONE = "none"
    PASS = "pass"
    FAIL = "fail"
    NEUTRAL = "neutral"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


@dataclass(frozen=True)
class DkimResult:
    """The outcome for one DKIM-Signature header (or `none` for an unsigned message)."""

    result: DkimStatus
    domain: str = ""  # d=, lower-cased
    selector: str = ""  # s=
    reason: str = ""
    algorithm: str = ""  # a=, e.g. rsa-sha256, ed25519-sha256


@dataclass
class _Signature:
    index: int
    domain: str
    selector: str
    algorithm: str
    error: DkimResult | None = None

    @property
    def key_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


def _parse_signatures(verifier: dkimpy.DKIM) -> list[_Signature]:
    """Read d=, s= and a= of every DKIM-Signature header, in header order."""
    sigs: list[_Signature] = []
    values = [v for k, v in verifier.headers if k.lower() == b"dkim-signature"]
    for index, value in enumerate(values):
        try:
            tags = dkimpy_util.parse_tag_value(value)
        except dkimpy_util.InvalidTagValueList as e:
            sigs.append(_Signature(index, "", "", "", DkimResult(
                DkimStatus.NEUTRAL, reason=f"unparseable DKIM-Signature: {e}")))
            continue
        try:
            domain = tags.get(b"d", b"").decode("ascii").strip().lower().rstrip(".")
            selector = tags.get(b"s", b"").decode("ascii").strip()
            algorithm = tags.get(b"a", b"").decode("ascii").strip().lower()
        except UnicodeDecodeError:
            sigs.append(_Signature(index, "", "", "", DkimResult(
                DkimStatus.NEUTRAL, reason="non-ASCII d=, s= or a= in DKIM-Signature")))
            continue
        sig = _Signature(index, domain, selector, algorithm)
        if not domain or not selector:
            # RFC 6376 §3.5: d= and s= are required; §6.1.1 → PERMFAIL
            sig.error = DkimResult(
                DkimStatus.PERMERROR, domain, selector, "DKIM-Signature lacks d= or s=",
                algorithm,
            )
        sigs.append(sig)
    return sigs


def _key_text(answer: DnsAnswer) -> str:
    # RFC 6376 §3.6.2.2: several TXT records at the key name give undefined results; take
    # the first that looks like a key record.
    for record in answer.records:
        if "p=" in record:
            return record
    return answer.records[0]


def _verify_all(
    verifier: dkimpy.DKIM, sigs: list[_Signature], keys: dict[str, DnsAnswer]
) -> list[DkimResult]:
    """The CPU part, run in a worker thread: check keys, then each signature."""
    texts: dict[str, bytes] = {}
    results: list[DkimResult] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return texts.get(name.decode("ascii", "replace").lower().rstrip("."))

    for sig in sigs:
        def result(status: DkimStatus, reason: str, sig: _Signature = sig) -> DkimResult:
            return DkimResult(status, sig.domain, sig.selector, reason, sig.algorithm)

        if sig.error is not None:
            results.append(sig.error)
            continue
        answer = keys[sig.key_name.lower()]
        if answer.temporary:  # RFC 6376 §6.1.2: key query failed → TEMPFAIL
            results.append(result(DkimStatus.TEMPERROR, answer.reason))
            continue
        if not answer.ok:  # §6.1.2: no key record → PERMFAIL
            results.append(result(DkimStatus.PERMERROR, f"no key at {sig.key_name}"))
            continue
        text = _key_text(answer).encode("ascii", "replace")
        try:
            dkimpy.evaluate_pk(sig.key_name.encode(), text)
        except (dkimpy.DKIMException, ValueError, KeyError) as e:
            # §3.6.1: an empty p= is a revoked key; other unusable keys are permanent too
            results.append(result(DkimStatus.PERMERROR, f"unusable key {sig.key_name}: {e}"))
            continue
        texts[sig.key_name.lower()] = text
        try:
            verifier.verify_headerprep(sig.index)
        except dkimpy.MessageFormatError as e:
            results.append(result(DkimStatus.NEUTRAL, f"malformed signature: {e}"))
            continue
        except dkimpy.DKIMException as e:
            # missing tags, unknown algorithm, expired (§3.5 x=), i= outside d=, ...
            results.append(result(DkimStatus.PERMERROR, str(e)))
            continue
        try:
            ok = verifier.verify(idx=sig.index, dnsfunc=dnsfunc)
        except dkimpy.ValidationError as e:
            # body hash mismatch is raised, not returned (RFC 6376 §6.1.3)
            results.append(result(DkimStatus.FAIL, str(e)))
            continue
        except dkimpy.KeyFormatError as e:  # e.g. a key shorter than 1024 bits (§3.3.3)
            results.append(result(DkimStatus.PERMERROR, str(e)))
            continue
        except dkimpy.DKIMException as e:
            results.append(result(DkimStatus.PERMERROR, str(e)))
            continue
        if ok:
            results.append(result(DkimStatus.PASS, "signature verified"))
        else:
            results.append(result(DkimStatus.FAIL, "signature did not verify"))
    return results


async def verify_dkim(raw: bytes, resolver: dns.asyncresolver.Resolver) -> list[DkimResult]:
    """Verify every DKIM-Signature of `raw`; `[DkimResult(none)]` when there is none.

    Results are in the order of the signature headers, top first.
    """
    try:
        verifier = await asyncio.to_thread(dkimpy.DKIM, raw)
    except dkimpy.DKIMException as e:
        return [DkimResult(DkimStatus.PERMERROR, reason=f"message cannot be parsed: {e}")]
    sigs = _parse_signatures(verifier)
    if not sigs:
        return [DkimResult(DkimStatus.NONE, reason="message not signed")]
    names = sorted({s.key_name.lower() for s in sigs if s.error is None})
    answers = await asyncio.gather(*(lookup(resolver, n, "TXT") for n in names))
    keys = dict(zip(names, answers, strict=True))
    return await asyncio.to_thread(_verify_all, verifier, sigs, keys)

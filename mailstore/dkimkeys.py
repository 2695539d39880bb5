"""DKIM signing keys of our domains: made here, published by the admin in DNS, used by the queue.

Implementation notes:
- Keys are RSA 2048 (what every receiver verifies) or Ed25519 (RFC 8463; small, fast, but
  not yet verified everywhere, so a domain usually has an RSA key too). The private key is
  stored as unencrypted PKCS#8 PEM in ``dkim_keys`` (the database is as secret as the mail).
- Only our own domains get keys: signing for a domain we do not serve would be pointless.
- ``signing_key`` is on the hot path of the queue (one call per message), so the parsed key
  is cached in memory per domain. The cache is dropped by this object's own changes and
  expires after ``CACHE_SECONDS``, so a key made with ``tidings dkim generate`` (another
  process) is picked up by a running server within that time.
- The newest active key of a domain signs; older ones stay listed (and published) until
  removed, so a key can be rotated without a gap.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import delete, insert, select

from mailstore.audit import Actor, AuditLog
from mailstore.database import Database
from mailstore.errors import AlreadyExists, InvalidName, NotFound
from mailstore.models import DkimKey, Domain
from mailstore.names import normalise_domain

K = DkimKey.__table__
D = Domain.__table__

ALGORITHMS = ("rsa", "ed25519")
RSA_BITS = 2048
RSA_SIZES = (1024, 2048, 3072, 4096)  # 1024 only for DNS hosts that cannot hold longer TXT
CACHE_SECONDS = 60.0
_SELECTOR = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True, slots=True)
class SigningKey:
    """What signing needs: the parsed private key and where its public half is published."""

    domain: str
    selector: str
    algorithm: str  # "rsa" | "ed25519"
    private: PrivateKey


@dataclass(frozen=True, slots=True)
class DkimKeyInfo:
    domain: str
    selector: str
    algorithm: str
    public_key: str  # base64, as in the p= tag
    created_at: int
    active: bool = True

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def txt_record(self) -> str:
        """The TXT record to publish at ``dns_name`` (RFC 6376 §3.6.1)."""
        return f"v=DKIM1; k={self.algorithm}; p={self.public_key}"

    @property
    def zone_line(self) -> str:
        """The record as a zone-file line: one TXT record made of strings of at most 255
        characters (RFC 1035 §3.3.14; resolvers join them back)."""
        text = self.txt_record
        chunks = [text[i:i + 255] for i in range(0, len(text), 255)]
        strings = " ".join(f'"{chunk}"' for chunk in chunks)
        return f"{self.dns_name}. IN TXT ( {strings} )"


def _public_key(private: PrivateKey) -> str:
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    else:
        raw = private.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(raw).decode("ascii")


def _load(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise InvalidName(f"unsupported DKIM key type {type(key).__name__}")
    return key


def _new_key(algorithm: str, bits: int = RSA_BITS) -> str:
    """A fresh private key as PKCS#8 PEM (RSA generation takes a while: run in a thread)."""
    private: PrivateKey
    if algorithm == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode("ascii")


def _info(row: object) -> DkimKeyInfo:
    return DkimKeyInfo(row.domain, row.selector, row.algorithm,
                       _public_key(_load(row.private_key)), row.created_at, bool(row.active))


class DkimKeys:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, SigningKey | None]] = {}

    async def generate(self, domain: str, selector: str = "tidings",
                       algorithm: str = "rsa", *, bits: int = RSA_BITS,
                       actor: Actor | None = None) -> DkimKeyInfo:
        """A new key for one of our domains; refuses a selector the domain already has.
        With ``actor`` (the web admin) the new key is audited in the same transaction."""
        name = normalise_domain(domain)
        selector = selector.strip().lower()
        if not _SELECTOR.match(selector):
            raise InvalidName(f"selector {selector!r} is not valid: use letters, digits and "
                              "hyphens (for example: tidings, mail2026)")
        if algorithm not in ALGORITHMS:
            raise InvalidName(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
        if algorithm == "rsa" and bits not in RSA_SIZES:
            raise InvalidName(f"an RSA key size must be one of "
                              f"{', '.join(str(b) for b in RSA_SIZES)} bits")
        async with self.db.read() as conn:
            if await conn.scalar(select(D.c.id).where(D.c.name == name)) is None:
                raise NotFound(f"{name} is not one of our domains (add it with: "
                               f"tidings domain add {name})")
        pem = await asyncio.to_thread(_new_key, algorithm, bits)
        now = int(time.time())
        async with self.db.write() as conn:
            if await conn.scalar(select(K.c.id).where(
                    K.c.domain == name, K.c.selector == selector)) is not None:
                raise AlreadyExists(
                    f"{name} already has a DKIM key with selector {selector}: remove it first "
                    f"(tidings dkim remove {name} {selector}) or choose another --selector")
            await conn.execute(insert(K).values(
                domain=name, selector=selector, algorithm=algorithm, private_key=pem,
                created_at=now, active=True))
            if actor is not None:  # never the private key: what it is and where it goes
                size = f"{bits}-bit RSA" if algorithm == "rsa" else "Ed25519"
                await AuditLog.record_in(conn, actor, "dkim key generated",
                                         f"{selector}._domainkey.{name}", new=size)
        self._cache.pop(name, None)
        return DkimKeyInfo(name, selector, algorithm, _public_key(_load(pem)), now)

    async def list(self) -> list[DkimKeyInfo]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(K).order_by(K.c.domain, K.c.selector))).all()
        return [_info(row) for row in rows]

    async def remove(self, domain: str, selector: str, *, actor: Actor | None = None) -> None:
        name = normalise_domain(domain)
        selector = selector.strip().lower()
        async with self.db.write() as conn:
            row = (await conn.execute(select(K.c.algorithm).where(
                K.c.domain == name, K.c.selector == selector))).first()
            if row is not None:
                await conn.execute(delete(K).where(K.c.domain == name, K.c.selector == selector))
                if actor is not None:
                    await AuditLog.record_in(conn, actor, "dkim key removed",
                                             f"{selector}._domainkey.{name}", old=row.algorithm)
        self._cache.pop(name, None)
        if row is None:
            raise NotFound(f"{name} has no DKIM key with selector {selector}")

    async def signing_key(self, domain: str) -> SigningKey | None:
        """The newest active key of ``domain`` (None: do not sign), cached."""
        name = domain.strip().lower().rstrip(".")
        cached = self._cache.get(name)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self.db.read() as conn:
            row = (await conn.execute(
                select(K).where(K.c.domain == name, K.c.active.is_(True))
                .order_by(K.c.created_at.desc(), K.c.id.desc()).limit(1))).first()
        key = None if row is None else SigningKey(
            row.domain, row.selector, row.algorithm, _load(row.private_key))
        self._cache[name] = (now, key)
        return key

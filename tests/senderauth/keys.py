"""Signing keys made in the tests, and a helper that signs messages with dkimpy."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache

import dkim
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.dnszone import Zone


@dataclass(frozen=True)
class Key:
    algorithm: str  # dkimpy signature_algorithm
    private: bytes  # as dkimpy.sign wants it
    record: str  # the TXT record to publish


@cache
def rsa_key(bits: int = 2048) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Key("rsa-sha256", pem, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}")


@cache
def ed25519_key() -> Key:
    signing = nacl.signing.SigningKey.generate()
    private = base64.b64encode(bytes(signing))
    public = base64.b64encode(bytes(signing.verify_key)).decode()
    return Key("ed25519-sha256", private, f"v=DKIM1; k=ed25519; p={public}")


def publish(zone: Zone, key: Key, domain: str, selector: str) -> None:
    zone.txt(f"{selector}._domainkey.{domain}", key.record)


def sign(message: bytes, key: Key, domain: str, selector: str) -> bytes:
    """Return `message` with a DKIM-Signature header prepended."""
    header = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        key.private,
        signature_algorithm=key.algorithm.encode(),
        include_headers=[b"from", b"to", b"subject", b"date"],
    )
    return header + message


def message(
    from_: str = "Alice <alice@example.org>",
    body: str = "Hello Bob,\r\n\r\nthe report is attached.\r\n",
    extra: str = "",
) -> bytes:
    return (
        f"From: {from_}\r\nTo: bob@example.com\r\nSubject: Quarterly report\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <r1@example.org>\r\n{extra}"
        f"\r\n{body}"
    ).encode()

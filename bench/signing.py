"""DKIM signing speed: messages/s for 10 KB messages, RSA 2048 and Ed25519, on one core.

Run: .venv/bin/python bench/signing.py [--seconds 3]
(Not bench/dkim.py: the scripts folder comes first on sys.path, and would hide dkimpy.)

Signs the same 10 KB message (realistic headers, a text body) for a fixed time with
``protocols.delivery.dkimsign.sign`` (what the queue calls) and, for comparison, with
dkimpy's own ``dkim.sign`` (pure-Python RSA). Best of 3 runs per figure.
"""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This file's folder comes first on sys.path and this file is named like the dkim package:
# put the repository there instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import dkim  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa  # noqa: E402

from mailstore.dkimkeys import SigningKey  # noqa: E402
from protocols.delivery.dkimsign import sign  # noqa: E402

HEAD = (b"From: Ann Example <ann@example.com>\r\nTo: Bob <bob@example.org>\r\n"
        b"Cc: carol@example.net\r\nSubject: Minutes of the Tuesday meeting\r\n"
        b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <minutes.42@example.com>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
LINE = b"The quick brown fox jumps over the lazy dog, and the minutes say so.\r\n"
MESSAGE = HEAD + LINE * ((10240 - len(HEAD)) // len(LINE))


def rate(action: Callable[[], object], seconds: float) -> float:
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            action()
            done += 1
        best = max(best, done / elapsed)
    return best


def main() -> None:
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv \
        else 3.0
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    ed_seed = base64.b64encode(ed_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption()))
    rsa_signing = SigningKey("example.com", "tidings", "rsa", rsa_key)
    ed_signing = SigningKey("example.com", "ed", "ed25519", ed_key)
    relaxed = (b"relaxed", b"relaxed")
    print(f"message size: {len(MESSAGE)} bytes, {seconds:g} s per figure")
    figures = [
        ("tidings sign, rsa-2048", lambda: sign(MESSAGE, rsa_signing)),
        ("tidings sign, ed25519", lambda: sign(MESSAGE, ed_signing)),
        ("dkimpy dkim.sign, rsa-2048", lambda: dkim.sign(
            MESSAGE, b"tidings", b"example.com", rsa_pem, canonicalize=relaxed)),
        ("dkimpy dkim.sign, ed25519", lambda: dkim.sign(
            MESSAGE, b"ed", b"example.com", ed_seed, canonicalize=relaxed,
            signature_algorithm=b"ed25519-sha256")),
    ]
    for name, action in figures:
        print(f"{name:<28} {rate(action, seconds):8.0f} messages/s")


if __name__ == "__main__":
    main()

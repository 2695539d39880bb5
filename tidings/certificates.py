"""Checking a TLS certificate before the server uses it, and installing it without a restart.

Implementation notes:
- Every check runs before anything is written: the PEM parses, the key is not protected by
  a passphrase (the server could not read it at start), the key belongs to the certificate,
  the certificate is valid today, and OpenSSL itself loads the pair. A name that does not
  cover the server's hostname is a warning, not a refusal: mail clients will complain, but
  the admin may be switching the hostname next.
- Installing writes ``cert.pem`` and ``key.pem`` with temp file + rename (the key readable by
  the owner only), then loads them into the one ``ssl.SSLContext`` every listener shares:
  new handshakes get the new certificate, connections already open keep theirs.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID, NameOID

from webapp.admin.control import CertificateCheck, CertificateInfo

CERT_NAME, KEY_NAME = "cert.pem", "key.pem"


def describe(cert: x509.Certificate, now: dt.datetime | None = None) -> CertificateInfo:
    now = now or dt.datetime.now(dt.UTC)
    not_after = cert.not_valid_after_utc
    return CertificateInfo(
        subject=_common_name(cert.subject) or cert.subject.rfc4514_string(),
        names=_names(cert), issuer=_common_name(cert.issuer) or cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc, not_after=not_after,
        days_left=(not_after - now).days if not_after > now else -(now - not_after).days - 1,
        self_signed=cert.issuer == cert.subject)


def read(directory: Path) -> CertificateInfo | None:
    """The certificate in the data folder's ``tls`` folder, or None if it cannot be read."""
    try:
        return describe(x509.load_pem_x509_certificates((directory / CERT_NAME).read_bytes())[0])
    except (OSError, ValueError):
        return None


def check(cert_pem: bytes, key_pem: bytes, hostname: str,
          now: dt.datetime | None = None) -> CertificateCheck:
    """Every reason the pair cannot be used, by field, and warnings about a usable one."""
    now = now or dt.datetime.now(dt.UTC)
    problems: dict[str, str] = {}
    chain: list[x509.Certificate] = []
    if not cert_pem.strip():
        problems["certificate"] = "Choose the certificate file (PEM)."
    else:
        try:
            chain = x509.load_pem_x509_certificates(cert_pem)
        except ValueError:
            problems["certificate"] = ("This is not a PEM certificate: the file should begin "
                                       "with -----BEGIN CERTIFICATE-----.")
    key = None
    if not key_pem.strip():
        problems["key"] = "Choose the private key file (PEM)."
    else:
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except TypeError:
            problems["key"] = ("This key is protected by a passphrase; the server could not "
                               "read it when it starts. Export it without one.")
        except (ValueError, UnsupportedAlgorithm):
            problems["key"] = ("This is not a PEM private key: the file should begin with "
                               "-----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY).")
    if not chain:
        return CertificateCheck(problems)
    cert = chain[0]
    info = describe(cert, now)
    if cert.not_valid_after_utc <= now:
        problems["certificate"] = (f"This certificate expired on {info.not_after:%d %B %Y}; "
                                   "get a renewed one from whoever issued it.")
    elif cert.not_valid_before_utc > now:
        problems["certificate"] = (f"This certificate is not valid before "
                                   f"{info.not_before:%d %B %Y %H:%M} UTC.")
    if key is not None and "key" not in problems and not _same_key(cert, key):
        problems["key"] = "This key does not belong to the certificate (their public keys differ)."
    if not problems:
        problem = _openssl_loads(cert_pem, key_pem)
        if problem:
            problems["certificate"] = problem
    warnings = []
    if not any(_matches(name, hostname) for name in info.names):
        warnings.append(f"The certificate is for {', '.join(info.names) or info.subject}, not "
                        f"for this server's hostname {hostname}: mail programs will warn "
                        "their users.")
    if info.self_signed:
        warnings.append("The certificate is self-signed: mail programs will warn their users "
                        "until each of them trusts it.")
    return CertificateCheck(problems, tuple(warnings), info)


def install(directory: Path, cert_pem: bytes, key_pem: bytes,
            context: ssl.SSLContext | None) -> None:
    """Save the pair (already checked) and load it into the listeners' TLS context."""
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / KEY_NAME, key_pem, 0o600)
    _write(directory / CERT_NAME, cert_pem, 0o644)
    if context is not None:
        context.load_cert_chain(directory / CERT_NAME, directory / KEY_NAME)


def stamp(directory: Path) -> tuple[int, ...]:
    """Changes when ``cert.pem`` or ``key.pem`` is replaced (by the admin page, certbot...)."""
    try:
        return tuple(x for name in (CERT_NAME, KEY_NAME)
                     for st in [(directory / name).stat()] for x in (st.st_mtime_ns, st.st_size))
    except OSError:
        return ()


def reload(directory: Path, context: ssl.SSLContext) -> str:
    """Load the files into ``context`` if OpenSSL accepts them as a pair; else why not
    (the context keeps serving the certificate it had)."""
    try:
        probe = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        probe.load_cert_chain(directory / CERT_NAME, directory / KEY_NAME)
        context.load_cert_chain(directory / CERT_NAME, directory / KEY_NAME)
    except (OSError, ssl.SSLError) as exc:
        return str(exc)
    return ""


def _write(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _openssl_loads(cert_pem: bytes, key_pem: bytes) -> str:
    """OpenSSL's own verdict (it refuses what cryptography accepts in a few cases)."""
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder) / CERT_NAME, Path(folder) / KEY_NAME
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                cert_path, key_path)
        except ssl.SSLError as exc:
            return f"The TLS library cannot use this pair: {exc.reason or exc}."
    return ""


def _same_key(cert: x509.Certificate, key: object) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        return cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)
    except (AttributeError, ValueError):
        return False


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        alt = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        name = _common_name(cert.subject)
        return (name,) if name else ()
    return tuple(alt.value.get_values_for_type(x509.DNSName))


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _matches(pattern: str, hostname: str) -> bool:
    """RFC 6125 §6.4.3: a wildcard stands for exactly one leftmost label."""
    pattern, hostname = pattern.lower().rstrip("."), hostname.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = hostname.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == hostname

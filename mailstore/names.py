"""Validation and normalisation of domain names, addresses and folder names."""

from __future__ import annotations

import re

from mailstore.errors import InvalidName

DELIMITER = "/"
# IMAP NAMESPACE prefixes kept for other users' folders and shared folders (RFC 2342): no
# personal folder may be created under them, so sharing can be added without renaming.
RESERVED_PREFIXES = ("Other Users", "Shared Folders")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


def normalise_domain(name: str) -> str:
    domain = name.strip().lower().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidName(f"{name!r} is not a valid domain name") from exc
    labels = ascii_domain.split(".")
    # Single-label names ("localhost", "office") are fine for a LAN-only server.
    if len(ascii_domain) > 253 or not all(
        _DOMAIN_LABEL.match(label) for label in labels
    ):
        raise InvalidName(f"{name!r} is not a valid domain name (for example: example.com)")
    return ascii_domain


def normalise_address(address: str) -> str:
    """Lowercase the whole address; the local part is case-insensitive in practice."""
    text = address.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not _LOCAL_PART.match(local) or ".." in local \
            or local.startswith(".") or local.endswith("."):
        raise InvalidName(
            f"{address!r} is not a valid email address (for example: ann@example.com)")
    return f"{local}@{normalise_domain(domain)}"


def normalise_folder(name: str) -> str:
    """INBOX is case-insensitive (RFC 9051 §5.1); other names are kept as given."""
    if not name or name != name.strip():
        raise InvalidName(f"folder name {name!r} must not be empty or start/end with a space")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in name) or "*" in name or "%" in name:
        raise InvalidName(f"folder name {name!r} contains a character that is not allowed")
    parts = name.split(DELIMITER)
    if any(part == "" for part in parts):
        raise InvalidName(f"folder name {name!r} has an empty level")
    if len(name) > 1000:
        raise InvalidName("folder name is longer than 1000 characters")
    if parts[0].upper() == "INBOX":
        parts[0] = "INBOX"
    return DELIMITER.join(parts)


def check_not_reserved(folder: str) -> None:
    """Refuse a new personal folder name in a namespace kept for sharing."""
    top = folder.split(DELIMITER, 1)[0].casefold()
    for prefix in RESERVED_PREFIXES:
        if top == prefix.casefold():
            raise InvalidName(f"the name {prefix!r} is kept for folders that others share "
                              "with you; choose another name")

"""What the directory pages (domains, accounts, aliases, lists) share: reading form fields
and turning a store refusal into the one-line error next to its field."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from mailstore.directory import DirectoryError
from mailstore.errors import StoreError

MAX_FIELD = 1000
MB = 1024 * 1024


def text(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    """A text field as typed (trimmed, cut at ``limit``); "" when it is missing."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def checked(form: FormData, name: str) -> bool:
    return text(form, name, 5) in ("1", "on", "yes")


def parse_quota(value: str) -> int | None:
    """The quota field: megabytes, empty for no limit. Raises DirectoryError("quota")."""
    if not value:
        return None
    try:
        megabytes = float(value.replace(",", "."))
    except ValueError:
        megabytes = -1.0
    if not megabytes >= 0 or megabytes > 1e9:
        raise DirectoryError("quota", "Write a number of MB (for example 500), or leave it "
                                      "empty for no limit")
    return int(megabytes * MB)


def quota_text(quota_bytes: int | None) -> str:
    """A quota as the form shows it (MB, no needless decimals)."""
    if quota_bytes is None:
        return ""
    megabytes = quota_bytes / MB
    return f"{megabytes:.0f}" if megabytes == int(megabytes) else f"{megabytes:.2f}"


def field_errors(exc: StoreError, default: str) -> dict[str, Any]:
    """The refusal as {field: message}; store errors without a field go to ``default``."""
    if isinstance(exc, DirectoryError):
        return {exc.field: exc.message}
    return {default: str(exc)}

"""The corpus archives parsed once per test session (only the fields the tests check)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from mailstore.mime import Attachment, parse_message
from tests.corpus import message_files

ARCHIVES = ("real-mail", "mime-fixtures", "spamham")


class Parsed(NamedTuple):
    path: Path
    bodystructure: str
    body: str
    envelope: str
    sections: tuple
    attachments: tuple[Attachment, ...]
    parse_error: str | None


_cache: dict[str, list[Parsed]] = {}


def parsed_archive(name: str) -> list[Parsed]:
    """Every message of an archive parsed once (only the fields the tests check are kept)."""
    if name not in _cache:
        out = []
        for path in message_files(name):
            m = parse_message(path.read_bytes())
            out.append(
                Parsed(
                    path,
                    m.bodystructure,
                    m.body,
                    m.envelope,
                    m.sections,
                    m.attachments,
                    m.parse_error,
                )
            )
        _cache[name] = out
    return _cache[name]

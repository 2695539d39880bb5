"""Shared fixtures for the MIME parser tests."""

from __future__ import annotations

import pytest

from tests.mime.corpus_cache import ARCHIVES, Parsed, parsed_archive


@pytest.fixture(params=ARCHIVES, scope="session")
def corpus(request: pytest.FixtureRequest) -> list[Parsed]:
    """Every message of one archive, parsed once per session."""
    return parsed_archive(request.param)

"""Fixtures for the delivery parts: the real SMTP server of tests/smtp, reused."""

from __future__ import annotations

from tests.smtp.conftest import office, start_smtp, tls_files  # noqa: F401

"""Errors the store reports; each message is one line a user can act on."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: a request the store refuses, with a human-readable reason."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class InvalidName(StoreError):
    pass


class QuotaExceeded(StoreError):
    pass

"""The Starlette application: webmail (read path so far). Entry point: ``create_app``."""

from __future__ import annotations

from webapp.app import create_app

__all__ = ["create_app"]

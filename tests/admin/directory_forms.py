"""Helpers for the directory page tests: post a form as the browser would (with the
page's CSRF token), and read the audit log."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from mailstore.audit import AuditRecord
from mailstore.store import Store
from tests.web.conftest import csrf_token


async def post(client: httpx.AsyncClient, path: str, data: dict[str, Any]) -> httpx.Response:
    token = csrf_token((await client.get("/admin")).text)
    return await client.post(path, data={"csrf_token": token, **data})


def field_error(page: str, name: str) -> str:
    """The error shown next to the field ``name``; "" when there is none."""
    match = re.search(rf'id="{re.escape(name)}-error" role="alert">([^<]*)<', page)
    return html.unescape(match.group(1)) if match else ""


def notice(response: httpx.Response) -> str:
    """The confirmation a POST/redirect/GET carries."""
    from urllib.parse import parse_qs, urlsplit

    assert response.status_code == 303, (response.status_code, response.text[:2000])
    return parse_qs(urlsplit(response.headers["location"]).query).get("done", [""])[0]


async def audit(store: Store, action: str) -> list[AuditRecord]:
    return [e for e in await store.audit.recent() if e.action == action]

"""Jinja2 set-up: where the templates live, the filters they use, and ``render``, which
adds what every page needs (the CSRF token, the signed-in account)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from webapp import urls

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"


def human_size(size: int) -> str:
    """Sizes as mail clients show them: 512 bytes, 12 KB, 3.4 MB (1 KB = 1024 bytes)."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def short_date(timestamp: int | None, now: float | None = None) -> str:
    """List dates: the time for today, day and month this year, the full date before."""
    if timestamp is None:
        return ""
    moment = datetime.fromtimestamp(timestamp)
    today = datetime.fromtimestamp(time.time() if now is None else now)
    if moment.date() == today.date():
        return moment.strftime("%H:%M")
    if moment.year == today.year:
        return f"{moment.day} {moment:%b}"
    return f"{moment.day} {moment:%b %Y}"


def long_date(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    moment = datetime.fromtimestamp(timestamp)
    return f"{moment:%a}, {moment.day} {moment:%b %Y %H:%M}"


def iso_date(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="minutes")


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(size=human_size, short_date=short_date, long_date=long_date,
                       iso_date=iso_date)
    env.globals.update(urls=urls)
    return Jinja2Templates(env=env)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    page = {
        "csrf_token": request.state.csrf_token,
        "account": getattr(request.state, "account", None),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, page, status_code=status_code)

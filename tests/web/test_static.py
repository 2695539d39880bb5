"""Static assets: served compressed to browsers that accept it, and within the size budget."""

from __future__ import annotations

import gzip

import httpx
import pytest

# Issue #7: a first visit downloads under 150 KB of CSS and JS, compressed.
FIRST_VISIT_BUDGET = 150 * 1024
ASSETS = ("/static/htmx.min.js", "/static/tidings.css", "/static/mail.js",
          "/static/finding.css")


@pytest.mark.parametrize("path", ASSETS)
async def test_static_assets_are_gzip_compressed_for_browsers_that_accept_it(
        client: httpx.AsyncClient, path: str) -> None:
    plain = await client.get(path, headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    packed = await client.get(path, headers={"accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx decodes it: the same file


async def test_the_first_visit_stays_within_the_css_and_js_budget(
        client: httpx.AsyncClient) -> None:
    total = 0
    for path in ASSETS:
        body = (await client.get(path)).content
        total += len(gzip.compress(body))
    assert total < FIRST_VISIT_BUDGET


async def test_html_pages_are_never_compressed(client: httpx.AsyncClient) -> None:
    page = await client.get("/login", headers={"accept-encoding": "gzip"})
    assert page.status_code == 200
    assert "content-encoding" not in page.headers

"""The HTML sanitiser and the plain-text renderer alone (no server)."""

from __future__ import annotations

import pytest

from webapp.downloads import content_disposition
from webapp.plaintext import text_to_html
from webapp.sanitize import sanitize_html


@pytest.mark.parametrize("hostile", [
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="  JAVASCRIPT:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<svg><script>alert(1)</script></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
])
def test_nothing_that_runs_survives(hostile: str) -> None:
    html = sanitize_html(hostile).html.lower()
    for needle in ("<script", "onerror", "javascript:", "<iframe", "<object", "<form",
                   "<meta", "<base", "srcdoc", "data:text"):
        assert needle not in html, (hostile, html)


def test_remote_images_are_held_back_and_counted() -> None:
    result = sanitize_html('<img src="http://a/1.png"><img src="https://b/2.png" alt="x">'
                           '<img src="//c/3.png"><img src="data:image/gif;base64,R0lG">')
    assert result.blocked_images == 3
    assert ' src="http' not in result.html and ' src="//' not in result.html
    assert 'data-blocked-src="https://b/2.png"' in result.html
    assert 'src="data:image/gif;base64,R0lG"' in result.html


def test_remote_images_load_when_allowed() -> None:
    result = sanitize_html('<img src="https://b/2.png">', allow_remote_images=True)
    assert result.blocked_images == 0
    assert 'src="https://b/2.png"' in result.html


def test_css_that_fetches_is_neutralised_and_the_rest_kept() -> None:
    result = sanitize_html(
        '<style>@import "https://x/a.css"; .a { color: red; background: url(https://x/b) }'
        '</style><p style="color: blue; background-image: u\\72l(https://x/c)">x</p>')
    assert "@import" not in result.html and "@blocked-import" in result.html
    assert "color: red" in result.html and "color: blue" in result.html
    assert " url(" not in result.html.replace("blocked-url(", "")
    assert "\\" not in result.html


def test_inline_pictures_come_from_the_message() -> None:
    found = {"logo@x": "data:image/png;base64,AAAA"}
    result = sanitize_html('<img src="cid:logo@x"><img src="cid:missing@x">',
                           inline_image=found.get)
    assert '<img src="data:image/png;base64,AAAA">' in result.html
    assert "cid:" not in result.html
    assert result.blocked_images == 0


def test_links_open_in_a_new_tab_without_referrer() -> None:
    html = sanitize_html('<a href="https://example.org/">x</a><a href="/local">y</a>').html
    assert ('<a href="https://example.org/" target="_blank" '
            'rel="noopener noreferrer">x</a>') in html
    assert 'href="/local"' not in html


def test_plain_text_is_escaped_and_links_made_clickable() -> None:
    html = text_to_html("<b>hi</b> see https://example.org/x).\n>> quoted")
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert ('<a href="https://example.org/x" target="_blank" rel="noopener noreferrer">'
            'https://example.org/x</a>).') in html
    assert '<span class="quote q2">&gt;&gt; quoted</span>' in html


@pytest.mark.parametrize(("name", "header"), [
    ("report.pdf", 'attachment; filename="report.pdf"'),
    ('../../etc/"passwd"', 'attachment; filename="_.._etc_passwd_"'),
    ("Übersicht 2024.xlsx", 'attachment; filename="Ubersicht 2024.xlsx"; '
                            "filename*=UTF-8''%C3%9Cbersicht%202024.xlsx"),
    ("\r\nSet-Cookie: x", 'attachment; filename="_Set-Cookie_ x"; '
                          "filename*=UTF-8''_Set-Cookie%3A%20x"),
    ("", 'attachment; filename="attachment"'),
])
def test_download_names_are_safe(name: str, header: str) -> None:
    assert content_disposition(name) == header

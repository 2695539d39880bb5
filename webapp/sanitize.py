"""HTML mail made safe to show: an nh3 allow-list, remote images held back, links opened
in a new tab.

Why several layers: the allow-list removes scripts, event handlers, forms, frames and
``javascript:`` URLs; images from the network are held back because they tell the sender
when and where the mail was read; CSS that could fetch something (``url()``, ``@import``)
is neutralised. Whatever this misses is still stopped by the sandboxed iframe and the
body's own Content-Security-Policy (see views/mail.py), which allow neither scripts nor
network loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import nh3

TAGS = (set(nh3.ALLOWED_TAGS) | {
    "address", "big", "font", "main", "section", "style", "tfoot",
}) - {"area", "map"}

# Tags whose content is not text a reader should see.
DROPPED_WITH_CONTENT = {
    "script", "title", "template", "iframe", "object", "embed", "applet", "noembed",
    "noframes",
}

_LAYOUT = {"align", "valign", "width", "height", "bgcolor", "border", "cellpadding",
           "cellspacing", "nowrap"}
ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "class", "title", "dir", "lang", "align", "valign", "bgcolor", "width",
          "height"},
    "a": {"href", "hreflang", "name"},
    "img": {"src", "alt", "width", "height", "border", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": _LAYOUT | {"summary", "frame", "rules"},
    "td": _LAYOUT | {"colspan", "rowspan", "headers"},
    "th": _LAYOUT | {"colspan", "rowspan", "headers", "scope"},
    "tr": _LAYOUT,
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "time": {"datetime"},
    "hr": {"size", "noshade"},
    "bdo": {"dir"},
}
# ``data:`` is allowed by nh3 here and narrowed to images by _filter_attribute.
URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}

# Set by _filter_attribute on a held-back image, turned into data-blocked-src afterwards;
# nh3 drops any other value with this scheme (it is not in URL_SCHEMES), so mail cannot
# forge one.
_BLOCKED = "tidings-blocked:"
_BLOCKED_SRC = re.compile(r'\ssrc="' + re.escape(_BLOCKED))
_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S | re.I)
# CSS that loads something from elsewhere. Renaming the function or at-rule makes the
# declaration invalid, and the browser skips it without touching the rest of the style.
_CSS_FETCH = re.compile(r"(url|image-set|image|expression)\s*\(|behavior\s*:|-moz-binding", re.I)
_CSS_IMPORT = re.compile(r"@import", re.I)
_CSS_SCRIPT_URL = re.compile(r"(java|vb)script:", re.I)
_REMOTE = re.compile(r"^\s*(https?:)?//", re.I)


def _scheme_relative(url: str) -> str | None:
    """Links and images relative to our server make no sense in mail; ``//host/x`` is a
    remote URL and is kept (as https) so that image blocking sees it."""
    return "https:" + url if url.startswith("//") else None


@dataclass(frozen=True, slots=True)
class SafeHtml:
    html: str
    blocked_images: int


def neutralise_css(css: str) -> str:
    """CSS with every way to fetch a URL disabled; CSS escapes go too, since they could
    spell ``url(`` in a way the pattern does not see."""
    css = css.replace("\\", "")
    css = _CSS_IMPORT.sub("@blocked-import", css)  # an unknown at-rule is skipped alone
    css = _CSS_SCRIPT_URL.sub("blocked:", css)
    return _CSS_FETCH.sub(lambda m: "blocked-" + m.group(0), css)


def sanitize_html(
    html: str,
    *,
    allow_remote_images: bool = False,
    inline_image: Callable[[str], str | None] | None = None,
) -> SafeHtml:
    """Sanitise the HTML body of a mail.

    ``inline_image`` maps a Content-ID (RFC 2392 ``cid:`` URL without the scheme) to a
    ``data:`` URL, so that pictures inside the message show without any request.
    """
    blocked = 0

    def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
        nonlocal blocked
        if attr == "style":
            return neutralise_css(value)
        if attr == "href" and value.strip().lower().startswith(("data:", "cid:")):
            return None
        if tag == "img" and attr == "src":
            lowered = value.strip().lower()
            if lowered.startswith("cid:"):
                return inline_image(value.strip()[4:]) if inline_image else None
            if lowered.startswith("data:"):
                return value if lowered.startswith("data:image/") else None
            if _REMOTE.match(value) and not allow_remote_images:
                blocked += 1
                return _BLOCKED + value
        return value

    cleaned = nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=_filter_attribute,
        strip_comments=True,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=URL_SCHEMES,
        url_relative=_scheme_relative,
    )
    # nh3 serialises every attribute as name="value" with quotes escaped, so this only
    # ever matches the attribute written above.
    cleaned = _BLOCKED_SRC.sub(' data-blocked-src="', cleaned)
    cleaned = _STYLE_BLOCK.sub(
        lambda m: m.group(1) + neutralise_css(m.group(2)) + m.group(3), cleaned)
    return SafeHtml(cleaned, blocked)

"""SMTP replies with RFC 3463 enhanced status codes.

RFC 2034 §3: once ENHANCEDSTATUSCODES is advertised, every reply except the greeting and the
EHLO/HELO replies carries an enhanced code. aiosmtpd writes some replies without one; those
get the class default below for their basic code.
"""

from __future__ import annotations

import re

_REPLY = re.compile(r"^([2-5])(\d\d)([ -])(.*)$", re.DOTALL)
_HAS_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}( |$)")

DEFAULT_ENHANCED: dict[str, str] = {
    "221": "2.0.0", "235": "2.7.0", "250": "2.0.0", "251": "2.1.5", "252": "2.5.0",
    "421": "4.3.0", "450": "4.2.0", "451": "4.3.0", "452": "4.3.1", "454": "4.7.0",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4",
    "530": "5.7.0", "534": "5.7.9", "535": "5.7.8", "538": "5.7.11", "550": "5.0.0",
    "551": "5.1.6", "552": "5.3.4", "553": "5.1.3", "554": "5.0.0", "555": "5.5.4",
}
# Replies that never carry an enhanced code: greeting / STARTTLS go-ahead, AUTH challenge,
# the DATA go-ahead.
_BARE = {"220", "334", "354"}


def with_enhanced_code(reply: str) -> str:
    """``503 Error: need MAIL command`` → ``503 5.5.1 Error: need MAIL command``."""
    match = _REPLY.match(reply)
    if match is None:
        return reply
    code = match.group(1) + match.group(2)
    text = match.group(4)
    if code in _BARE or _HAS_ENHANCED.match(text):
        return reply
    enhanced = DEFAULT_ENHANCED.get(code, f"{code[0]}.0.0")
    return f"{code}{match.group(3)}{enhanced} {text}".rstrip()

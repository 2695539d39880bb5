"""Base subject of RFC 5256 §2.1, used by SORT (SUBJECT) and THREAD (ORDEREDSUBJECT,
REFERENCES) and by the webmail's conversation view.

The input is the already decoded subject (step 1 asks for RFC 2047 decoding).
"""

from __future__ import annotations

import re

# RFC 5256 §5: subj-trailer = "(fwd)" / WSP
_TRAILER = re.compile(r"(?:\s|\(fwd\))+\Z", re.I)
# RFC 5256 §5: subj-leader = (*subj-blob subj-refwd) / WSP
#   subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
#   subj-blob  = "[" *BLOBCHAR "]" *WSP
_BLOB = r"\[[^\[\]]*\]\s*"
_LEADER = re.compile(rf"(?:(?:{_BLOB})*(?:re|fwd?)\s*(?:{_BLOB})?:|\s)+", re.I)
_LEADING_BLOB = re.compile(_BLOB)
# RFC 5256 §5: subj-fwd = "[fwd:" subject "]"
_FWD_HDR = "[fwd:"


def base_subject(subject: str) -> str:
    """RFC 5256 §2.1 base subject: reply/forward markers and list tags removed."""
    # (1) unfold and collapse whitespace runs to one space
    s = " ".join(subject.split())
    while True:
        # (2) remove trailing "(fwd)" and whitespace, repeatedly
        s = _TRAILER.sub("", s)
        # (3)-(5) remove leaders; remove a leading blob when text remains after it
        while True:
            lead = _LEADER.match(s)
            t = s[lead.end() :] if lead else s
            m = _LEADING_BLOB.match(t)
            if m and t[m.end() :].strip():
                t = t[m.end() :]
            if t == s:
                break
            s = t
        # (6) "[fwd: subject]" wrapper: unwrap and start again from (2)
        if s[:5].lower() == _FWD_HDR and s.endswith("]"):
            s = s[5:-1]
            continue
        return s

"""RFC 5256 §2.1 base subject."""

from __future__ import annotations

import pytest

from mailstore.mime import parse_message
from mailstore.mime.subject import base_subject


@pytest.mark.parametrize(
    ("subject", "base"),
    [
        ("Re: test", "test"),
        ("RE: Re: re: test", "test"),
        ("Fw: test", "test"),
        ("Fwd: test", "test"),
        ("Re:test", "test"),
        ("Re [list]: test", "test"),  # subj-refwd may carry a blob before ":"
        ("[list] Re: test", "test"),  # blobs before the re/fwd marker
        ("Re: [PATCH v2 1/3] test", "test"),  # a leading blob goes when text remains
        ("[PATCH] [RFC] test", "test"),
        ("[blob]", "[blob]"),  # ...but not when nothing would remain
        ("test (fwd)", "test"),
        ("test (fwd) (FWD)  ", "test"),
        ("[Fwd: test]", "test"),
        ("Re: [fwd: Re: test] (fwd)", "test"),
        ("  lots   of\t space  ", "lots of space"),
        ("Review: test", "Review: test"),  # "re" must be followed by ":" (after WSP/blob)
        ("Re:", ""),
        ("", ""),
    ],
)
def test_base_subject(subject, base):
    assert base_subject(subject) == base


def test_base_subject_is_computed_from_the_decoded_subject():
    m = parse_message(b"Subject: =?utf-8?q?Re=3A_=5Blist=5D_Gr=C3=BC=C3=9Fe?=\n\n")
    assert m.subject == "Re: [list] Grüße"
    assert m.subject_base == "Grüße"

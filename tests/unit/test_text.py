"""Names and comments shown to other people (receiver/text.py): normalised, and refused
when they hold a character that changes how they display."""

from __future__ import annotations

import re

import pytest

from receiver.text import TextError, check_comment, check_name

SHOWN = "names are shown to other people"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("alice", "alice"),
        ("  alice  ", "alice"),
        ("\uff41\uff4c\uff49\uff43\uff45", "alice"),  # fullwidth letters
        ("Zoë Ünal", "Zoë Ünal"),
        ("Zoe\u0308", "Zoë"),  # combining diaeresis, composed
        ("ﬁona", "fiona"),  # the ligature
        ("alice\u00a0w", "alice w"),  # no-break space
        ("李雷", "李雷"),
        ("alice 🚀", "alice 🚀"),
    ],
)
def test_names_are_normalised(given: str, kept: str) -> None:
    assert check_name(given, "by", 64) == kept


@pytest.mark.parametrize(
    ("given", "code", "message"),
    [
        ("\u202eecila", "format_character", f"contains a format character U+202E; {SHOWN}"),
        ("al\u200bice", "format_character", f"contains a format character U+200B; {SHOWN}"),
        ("al\u200dice", "format_character", f"contains a format character U+200D; {SHOWN}"),
        ("\ufeffalice", "format_character", f"contains a format character U+FEFF; {SHOWN}"),
        ("alice\u2066", "format_character", f"contains a format character U+2066; {SHOWN}"),
        ("alice\nbob", "control_character", f"contains a control character U+000A; {SHOWN}"),
        ("alice\t", "control_character", f"contains a control character U+0009; {SHOWN}"),
        ("alice\x1b[31m", "control_character", f"contains a control character U+001B; {SHOWN}"),
        ("alice\x85", "control_character", f"contains a control character U+0085; {SHOWN}"),
        ("\ue000alice", "private_use_character",
         f"contains a private-use character U+E000; {SHOWN}"),
        ("alice\ud800", "surrogate", f"contains a surrogate U+D800; {SHOWN}"),
        ("alice\u2028", "line_separator", f"contains a line separator U+2028; {SHOWN}"),
        ("alice\u2029", "paragraph_separator",
         f"contains a paragraph separator U+2029; {SHOWN}"),
        ("", "empty", "must not be empty"),
        (" \u3000 ", "empty", "must not be empty"),  # ideographic space: blank after NFKC
        ("x" * 65, "too_long", "must be at most 64 characters"),
        ("\ufdfa" * 4, "too_long", "must be at most 64 characters"),  # 4, but 72 in NFKC
        (7, "not_text", "must be a string"),
    ],
)  # fmt: skip
def test_names_that_display_as_another_or_hide_are_refused(
    given: object, code: str, message: str
) -> None:
    with pytest.raises(TextError) as e:
        check_name(given, "by", 64)
    assert (e.value.field, e.value.code, e.value.message) == ("by", code, message)
    assert str(e.value) == f"by: {message}"


def test_comments_keep_plain_newlines_and_nothing_else() -> None:
    assert check_comment("on it\r\nback in 5\n", "comment", 100) == "on it\nback in 5\n"
    assert check_comment("", "comment", 100) == ""
    assert check_comment("\uff4f\uff4b", "comment", 100) == "ok"
    for bad, point in (("a\rb", "U+000D"), ("a\u202eb", "U+202E"), ("a\u2029b", "U+2029"),
                       ("a\tb", "U+0009")):  # fmt: skip
        with pytest.raises(TextError, match=rf"^comment: contains .* {re.escape(point)}; "):
            check_comment(bad, "comment", 100)
    with pytest.raises(TextError, match="at most 3 characters"):
        check_comment("abcd", "comment", 3)

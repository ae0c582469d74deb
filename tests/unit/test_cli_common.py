"""`printable`: what the CLI prints for humans never holds a raw control character."""

from __future__ import annotations

import pytest

from receiver.cli.common import LAYOUT, printable, printable_data


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # C0: OSC sets the terminal's title
        ("a\x7fb", "a\\x7fb"),  # DEL
        ("\x9b2J", "\\x9b2J"),  # C1: CSI on an 8-bit terminal
        ("\u202egnp.exe", "\\u202egnp.exe"),  # right-to-left override
        ("a\u200bb\u2060c\ufeff", "a\\u200bb\\u2060c\\ufeff"),  # zero-width ones
        ("x\u2028y", "x\\u2028y"),  # line separator
        ("tag\U000e0041", "tag\\U000e0041"),  # a tag character (format, astral)
        ("one\ntwo\tthree\r", "one\\x0atwo\\x09three\\x0d"),  # in a one-line record
    ],
)
def test_unsafe_characters_are_shown_escaped(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_text_that_is_safe_is_left_alone() -> None:
    text = "Grüße, 東京 — naïve café ✓ \u00a0(no-break space) \\x1b as typed"
    assert printable(text) == text


def test_a_layout_keeps_its_newlines_and_tabs_only() -> None:
    assert printable("a\n\tb\r\x1b", LAYOUT) == "a\n\tb\\x0d\\x1b"


def test_data_for_a_table_is_escaped_throughout() -> None:
    data = {"name": "x\x1b", "next": [{"reason": "\u202e"}], "n": 3, "t": ("\x07",)}
    assert printable_data(data) == {"name": "x\\x1b", "next": [{"reason": "\\u202e"}], "n": 3,
                                    "t": ("\\x07",)}  # fmt: skip

"""Names and comments people give that other people are shown, checked purely.

Every human-given name (who acked, who is on call instead, who made an override) and every
comment (an ack's, an unack's, an override's reason) is shown to others: in Slack, email,
the console, the calendar feed. So each is normalised to NFKC (the form that shows the
same as it compares) and refused when it holds a character that changes how text around it
displays or hides itself: controls (Cc), format characters (Cf: the right-to-left override
U+202E, zero-width spaces and joiners), private-use (Co), surrogates (Cs) and the line and
paragraph separators (Zl, Zp). A comment may keep plain newlines ("\\r\\n" becomes "\\n");
a name may not. A name is trimmed, and refused when empty after normalising.

`TextError.code` classifies the refusal (a metric or log label); its message names the
field: `by: contains a format character U+202E; names are shown to other people`.
"""

from __future__ import annotations

import unicodedata

# Unicode general categories refused, with the words the message uses for each.
REFUSED = {
    "Cc": "control character",
    "Cf": "format character",
    "Co": "private-use character",
    "Cs": "surrogate",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}


class TextError(ValueError):
    """A refused name or comment: `field` it came in, `code` the classification."""

    def __init__(self, field: str, code: str, message: str) -> None:
        self.field, self.code, self.message = field, code, message
        super().__init__(f"{field}: {message}")


def unsafe_character(text: str, allow_newline: bool = False) -> tuple[str, str] | None:
    """The first refused character of `text` as (category code, "U+XXXX"), or None."""
    for c in text:
        if c == "\n" and allow_newline:
            continue
        category = unicodedata.category(c)
        if category in REFUSED:
            return category, f"U+{ord(c):04X}"
    return None


def _refuse_unsafe(text: str, field: str, what: str, allow_newline: bool) -> None:
    found = unsafe_character(text, allow_newline)
    if found is not None:
        category, point = found
        kind = REFUSED[category]
        raise TextError(field, kind.replace(" ", "_").replace("-", "_"),
                        f"contains a {kind} {point}; {what} are shown to other people")  # fmt: skip


def check_name(value: object, field: str, max_len: int) -> str:
    """`value` as a name to show: NFKC, trimmed, 1..max_len characters, no refused
    character (not even a newline). TextError otherwise."""
    if not isinstance(value, str):
        raise TextError(field, "not_text", "must be a string")
    name = unicodedata.normalize("NFKC", value)
    # Checked before trimming: strip() would drop some refused characters (U+2028, U+0085).
    _refuse_unsafe(name, field, "names", allow_newline=False)
    name = name.strip()
    if not name:
        raise TextError(field, "empty", "must not be empty")
    if len(name) > max_len:
        raise TextError(field, "too_long", f"must be at most {max_len} characters")
    return name


def check_comment(value: object, field: str, max_len: int) -> str:
    """`value` as a comment to show: NFKC, "\\r\\n" as "\\n", at most max_len characters
    (may be empty), no refused character but the newline. TextError otherwise."""
    if not isinstance(value, str):
        raise TextError(field, "not_text", "must be a string")
    comment = unicodedata.normalize("NFKC", value.replace("\r\n", "\n"))
    _refuse_unsafe(comment, field, "comments", allow_newline=True)
    if len(comment) > max_len:
        raise TextError(field, "too_long", f"must be at most {max_len} characters")
    return comment


def check_plain(value: str, field: str) -> None:
    """Refuses a refused character in text shown as given (an email address): no
    normalising, no newline."""
    _refuse_unsafe(value, field, "addresses", allow_newline=False)

"""Alertmanager label matchers: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`.

Parsing follows Alertmanager's classic parser (pkg/labels/parse.go) so a matcher copied from
alertmanager.yml or amtool means the same thing here: unquoted values are allowed, `\\"`,
`\\\\` and `\\n` are the escapes inside values (any other backslash is kept literally, so
regexes like `"db\\.prod"` survive), regexes are fully anchored, and a missing label is the
empty string.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

# Same shape as Alertmanager's classic matcher regexp; the operator alternation order matters
# (`=~` before `=`) and trailing whitespace after the value is not part of it.
_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# Go allows global flags such as `(?i)` at the start of a pattern; wrapped in `(?:...)` Python
# would reject them, so they are hoisted in front of the group.
_LEADING_FLAGS_RE = re.compile(r"^\(\?([ims]+)\)")


class MatchOp(enum.StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


def _compile(value: str) -> re.Pattern[str]:
    flags = ""
    m = _LEADING_FLAGS_RE.match(value)
    if m:
        flags, value = f"(?{m.group(1)})", value[m.end() :]
    try:
        return re.compile(f"{flags}(?:{value})")
    except re.error as e:
        raise ValueError(f'invalid regular expression "{value}": {e}') from e


@dataclass(frozen=True)
class Matcher:
    """One label matcher. Equality and hashing use (name, op, value) only."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(f'invalid label name "{self.name}"')
        object.__setattr__(self, "op", MatchOp(self.op))
        if self.op in (MatchOp.RE, MatchOp.NRE):
            object.__setattr__(self, "_regex", _compile(self.value))

    def matches(self, labels: dict[str, str]) -> bool:
        # Alertmanager semantics: an absent label is the empty string.
        actual = labels.get(self.name, "")
        if self._regex is None:
            return (actual == self.value) == (self.op is MatchOp.EQ)
        # fullmatch = Alertmanager's `^(?:re)$` anchoring: `=~"db"` does not match "db2".
        return (self._regex.fullmatch(actual) is not None) == (self.op is MatchOp.RE)

    def __str__(self) -> str:
        return f"{self.name}{self.op.value}{quote(self.value)}"


def quote(value: str) -> str:
    """Quote a value as Alertmanager renders it (escaping backslash, quote and newline)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _unescape(raw: str, original: str) -> str:
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i < len(raw) - 1:
            nxt = raw[i + 1]
            # Only \n, \" and \\ are escapes; anything else keeps its backslash (regexes).
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == '"':
            if not quoted or i != len(raw) - 1:
                raise ValueError(f"matcher value contains an unescaped double quote: {original}")
            quoted = False  # the closing quote
        else:
            out.append(ch)
        i += 1
    if quoted:
        raise ValueError(f"matcher value is missing its closing double quote: {original}")
    return "".join(out)


def parse_matcher(s: str) -> Matcher:
    """Parse one matcher such as `severity="critical"`, `env!=dev` or `job=~"node|db"`."""
    m = _MATCHER_RE.match(s)
    if m is None:
        raise ValueError(
            f'bad matcher format: "{s}" (expected name="value", name!="value", '
            'name=~"regex" or name!~"regex")'
        )
    name, op, raw = m.groups()
    return Matcher(name, MatchOp(op), _unescape(raw, s))


def parse_matchers(s: str) -> list[Matcher]:
    """Parse a comma-separated matcher list, optionally in braces: `{a="b", c=~"d"}`."""
    text = s.strip()
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ValueError(f'matcher set "{s}" opens with "{{" but does not close with "}}"')
        text = text[1:-1]
    tokens: list[str] = []
    token: list[str] = []
    in_quotes = escaped = False
    # Split on commas outside quoted values, as Alertmanager's ParseMatchers does.
    for ch in text:
        if ch == "," and not in_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"' and not escaped:
            in_quotes = not in_quotes
        escaped = ch == "\\" and not escaped
        token.append(ch)
    last = "".join(token)
    if last.strip():
        tokens.append(last)  # a trailing comma is tolerated
    for tok in tokens:
        if not tok.strip():
            raise ValueError(f'empty matcher in "{s}"')
    return [parse_matcher(tok) for tok in tokens]

"""Secrets that are obviously placeholders: a kit's `REPLACE-ME-…` left in place.

Part of the secrets checks (skipped by `check-config --no-secrets`). The list is kept
conservative, so that no real secret is refused; case-insensitive, a value is a
placeholder when it

- contains REPLACE-ME or CHANGE-ME, with `-`, `_`, a space or nothing between (not
  "replacement");
- is wrapped in angle brackets: `<token>`, `<one of auth.bearer_tokens>`;
- is only x's (at least three, maybe grouped: `xxxx-xxxx`, Slack's `xoxb-xxxx`);
- starts with the word TODO (`TODO`, `todo: ask ops`);
- is a "your … here" (`your-token-here`, `YOUR_API_KEY_HERE`);
- is `example`, maybe with one word before or after (`example-token`, `TOKEN_EXAMPLE`);
  not a URL (`https://hooks.example.org/…` is left alone).

The secrets are every `SecretStr` of the config, the webhook's `bearer_tokens`, basic
auth and Redis passwords, API tokens, and the files named by their `*_file` keys.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from receiver.config.loader import Loc, read_secret_file

_PLACEHOLDER = re.compile(
    r"(?:replace|change)[-_ ]?me(?![a-z])"  # anywhere (not "replacement")
    r"|^<[^<>]*>$"
    r"|^(?:xox[a-z]-)?x{3,}(?:[-_.]x+)*$"
    r"|^todo\b"
    r"|^your[-_ ]?.*here$"
    r"|^(?:\w+[-_.])?example(?:[-_.]\w+)?$",
    re.IGNORECASE,
)
# Secrets of type str (the others are SecretStr): field names, where their model has them.
_STR_SECRETS = frozenset({"bearer_tokens", "password", "token"})


def placeholder(value: str) -> str | None:
    """The placeholder part of `value` as it can be shown ('REPLACE-ME…', never more of
    the value than the placeholder itself), or None when it does not look like one."""
    v = value.strip()
    m = _PLACEHOLDER.search(v)
    if m is None:
        return None
    start, end = m.span()
    return ("…" if start else "") + v[start:end].strip("-_.") + ("…" if end < len(v) else "")


def placeholder_issues(model: BaseModel, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """(location, message) for each secret of `model` (and the models in it) that looks
    like a placeholder, inline or in its file. Unreadable files are left to the checks
    that report them."""
    fields = type(model).model_fields
    for name, field in fields.items():
        value = getattr(model, name)
        key = (*loc, field.alias or name)
        if isinstance(value, SecretStr) or (name in _STR_SECRETS and value):
            for sub, text in _items(value):
                shown = placeholder(text)
                if shown is not None:
                    yield (
                        (*key, *sub),
                        f"looks like a placeholder ({shown!r}); put the real secret here",
                    )
        elif _secret_file(name, fields) and value:
            for sub, path in _items(value):
                try:
                    shown = placeholder(read_secret_file(path))
                except ValueError:
                    continue
                if shown is not None:
                    yield (*key, *sub), (f"the secret in {path} looks like a placeholder "
                                         f"({shown!r}); put the real secret there")  # fmt: skip
        else:
            yield from _nested(value, key)


def _secret_file(name: str, fields: dict[str, FieldInfo]) -> bool:
    """A file holding a secret: `routing_key_file` of `routing_key`, `bearer_token_files`
    of `bearer_tokens` (not `ca_file`, whose twin is no secret)."""
    if name.endswith("_files"):
        twin = name.removesuffix("_files") + "s"
    elif name.endswith("_file"):
        twin = name.removesuffix("_file")
    else:
        return False
    if twin not in fields:
        return False
    ann = fields[twin].annotation
    return twin in _STR_SECRETS or ann is SecretStr or SecretStr in typing.get_args(ann)


def _items(value: Any) -> Iterator[tuple[Loc, str]]:
    """A secret value (or a list of them) as ((index,), text) pairs."""
    values = value if isinstance(value, list) else [value]
    for i, v in enumerate(values):
        text = v.get_secret_value() if isinstance(v, SecretStr) else str(v)
        yield ((i,) if isinstance(value, list) else ()), text


def _nested(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, BaseModel):
        yield from placeholder_issues(value, loc)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _nested(v, (*loc, str(k)))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _nested(v, (*loc, i))

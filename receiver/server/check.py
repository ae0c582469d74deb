"""Load and check a config file completely: what `serve` would refuse, check-config refuses.

One function, `load_settings`, is the truth for `serve`, `check-config`, `routes test` and
a reload. It reports every problem as `file:line: key.path: message`:

1. the YAML and `${ENV}` expansion (config/loader.py);
2. the shape, by the pydantic models (unknown keys get a "did you mean" hint);
3. cross-references: names a route uses that nothing defines;
4. templates (`templates_dir`): each one compiled and rendered against samples;
5. secrets: files readable, values well-formed — skipped when `secrets=False`
   (offline checks in CI, `routes test`), where unset `${VAR}`s are kept as written.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from receiver.api.config import AUTH_TAGS
from receiver.config.loader import (
    ConfigError,
    ConfigIssue,
    Issue,
    Loc,
    line_of,
    load_yaml,
    plain_message,
)
from receiver.notifiers.registry import CHANNELS
from receiver.notifiers.render import check_templates
from receiver.server.settings import Settings


def load_settings(
    path: str | Path,
    overrides: dict[str, Any] | None = None,
    secrets: bool = True,
    unset: list[str] | None = None,
) -> Settings:
    """The settings in `path`, checked completely; ConfigError lists every problem.

    With `secrets=False`, unset environment variables are kept as written (their names
    appended to `unset`) and secret files are not read. `overrides` are command-line
    flags (`{"listen": …}` is `--listen`): their problems are reported as the flag's.
    """
    p = Path(path)
    data, node = load_yaml(p, unset=None if secrets else (unset if unset is not None else []))
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(str(p), 1, "", "the config must be a YAML mapping")])
    data.update(overrides or {})
    flags = set(overrides or {})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_shape_issues(e, data, str(p), node, flags)) from None
    found: list[Issue] = settings.reference_issues()
    if not found:
        try:
            settings.routing_tree()
        except ValueError as e:
            found.append((("route",), str(e)))
    found += [(("templates_dir",), msg) for msg in check_templates(settings.templates_dir)]
    if secrets:
        found += settings.secret_issues()
    if found:
        raise ConfigError(sorted((_issue(str(p), node, loc, msg, flags) for loc, msg in found),
                                 key=lambda i: i.line))  # fmt: skip
    return settings


def _issue(
    file: str, node: Any, loc: Loc, message: str, flags: Collection[str] = ()
) -> ConfigIssue:
    # An override from the command line (`serve --listen`) is the flag's mistake.
    flag = f"--{str(loc[0]).replace('_', '-')}" if loc and loc[0] in flags else ""
    return ConfigIssue(file, line_of(node, loc), ".".join(str(x) for x in loc), message, flag)


def _shape_issues(
    e: ValidationError, data: Any, file: str, node: Any, flags: Collection[str] = ()
) -> list[ConfigIssue]:
    """pydantic's errors in our words: every message of the shape checks is made here."""
    out = []
    for err in e.errors(include_url=False):
        loc, message = _shape_message(err, data)
        out.append(_issue(file, node, loc, message, flags))
    return out


def _shape_message(err: ErrorDetails, data: Any) -> tuple[Loc, str]:
    loc, kind = _strip_tags(err["loc"]), err["type"]
    if kind == "extra_forbidden":
        return loc, "unknown key" + _hint(str(loc[-1]), _keys_at(data, loc[:-1]))
    if loc[:1] in (("auth",), ("metrics_auth",)) and len(loc) == 1:
        if kind == "literal_error":
            return loc, f"must be {_AUTH_FORMS} (got {err['input']!r})"
        if kind == "missing":  # only `auth` is required
            return loc, ("required: give bearer_tokens, bearer_token_files or basic, or "
                         "write `auth: none` explicitly to accept webhooks without "
                         "credentials")  # fmt: skip
    kinds = ", ".join(CHANNELS)
    if kind == "union_tag_invalid" and loc[:1] == ("receivers",):
        tag = str((err.get("ctx") or {}).get("tag", ""))
        return (*loc, "type"), (f'unknown receiver type "{tag}"{_hint(tag, CHANNELS)}; '
                                f"one of: {kinds}")  # fmt: skip
    if kind == "union_tag_not_found" and loc[:1] == ("receivers",):
        return (*loc, "type"), f"required: the receiver's type, one of: {kinds}"
    if kind == "missing":
        return loc, "required, and not set"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, "must be a mapping" + _got(loc, err["input"])
    message = plain_message(err)
    if message.startswith("Input should be") and isinstance(err["input"], _SCALARS):
        message += _got(loc, err["input"])
    return loc, message


def _got(loc: Loc, value: Any) -> str:
    """` (got 3)`: what was written, unless it may be a secret (check-config's output
    ends up in CI logs)."""
    if any(isinstance(k, str) and _SECRET_KEY.search(k) for k in loc[-2:]):
        return ""
    shown = repr(value)
    return f" (got {shown if len(shown) <= 60 else shown[:59] + '…'})"


_SCALARS = (str, int, float, bool, type(None))
_SECRET_KEY = re.compile(r"token|password|secret|key", re.IGNORECASE)
_AUTH_FORMS = "`none` or a mapping with bearer_tokens, bearer_token_files or basic"


def _strip_tags(loc: Sequence[str | int]) -> Loc:
    """Drop the tags pydantic adds for tagged unions (`receivers.x.slack`, `auth.none`)."""
    out = list(loc)
    if len(out) > 2 and out[0] == "receivers" and out[2] in CHANNELS:
        del out[2]
    if len(out) > 1 and out[0] in ("auth", "metrics_auth") and out[1] in AUTH_TAGS:
        del out[1]
    return tuple(p for p in out if not (isinstance(p, str) and p.startswith("function-")))


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _keys_at(data: Any, loc: Loc) -> list[str]:
    """The keys the models accept at `loc` (aliases as written in YAML)."""
    model = _model_at(Settings, data, loc)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(tp: Any, data: Any, loc: Loc) -> type[BaseModel] | None:
    """Follow `loc` through the model's annotations (and the data, for tagged unions)."""
    tp = _pick(tp, data)
    if not loc:
        return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None
    head, rest = loc[0], loc[1:]
    sub = data.get(head) if isinstance(data, dict) else None
    if isinstance(data, list) and isinstance(head, int) and head < len(data):
        sub = data[head]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = next((f for n, f in tp.model_fields.items() if head in (n, f.alias)), None)
        return _model_at(field.annotation, sub, rest) if field else None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict:
        return _model_at(args[1], sub, rest)
    if origin is list:
        return _model_at(args[0], sub, rest)
    return None


def _pick(tp: Any, data: Any) -> Any:
    """Unwrap Annotated / Optional; a union of models → the one the data's `type` names."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [m for m in typing.get_args(tp) if m is not type(None)]
            models = [m for m in (_pick(m, data) for m in members)
                      if isinstance(m, type) and issubclass(m, BaseModel)]  # fmt: skip
            kind = data.get("type") if isinstance(data, dict) else None
            if kind in CHANNELS:
                return CHANNELS[kind].config
            return models[0] if len(models) == 1 else (members[0] if members else None)
        else:
            return tp

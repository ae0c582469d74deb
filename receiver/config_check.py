"""Load and check a config file completely: what `serve` would refuse, check-config refuses.

One function, `load_settings`, is the truth for `serve`, `check-config`, `routes test` and
a reload. It reports every problem as `file:line: key.path: message`:

1. the YAML and `${ENV}` expansion (config_loader.py);
2. the shape, by the pydantic models (unknown keys get a "did you mean" hint);
3. cross-references: names a route uses that nothing defines;
4. templates (`templates_dir`): each one compiled and rendered against samples;
5. secrets: files readable, values well-formed — skipped when `secrets=False`
   (offline checks in CI, `routes test`), where unset `${VAR}`s are kept as written.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from receiver.config_loader import ConfigError, ConfigIssue, line_of, load_yaml
from receiver.notifiers.registry import CHANNELS
from receiver.notifiers.render import check_templates
from receiver.settings import AUTH_TAGS, Issue, Loc, Settings


def load_settings(
    path: str | Path,
    overrides: dict[str, Any] | None = None,
    secrets: bool = True,
    unset: list[str] | None = None,
) -> Settings:
    """The settings in `path`, checked completely; ConfigError lists every problem.

    With `secrets=False`, unset environment variables are kept as written (their names
    appended to `unset`) and secret files are not read.
    """
    p = Path(path)
    data, node = load_yaml(p, unset=None if secrets else (unset if unset is not None else []))
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(str(p), 1, "", "the config must be a YAML mapping")])
    data.update(overrides or {})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_shape_issues(e, data, str(p), node)) from None
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
        raise ConfigError(sorted((_issue(str(p), node, loc, msg) for loc, msg in found),
                                 key=lambda i: i.line))  # fmt: skip
    return settings


def _issue(file: str, node: Any, loc: Loc, message: str) -> ConfigIssue:
    return ConfigIssue(file, line_of(node, loc), ".".join(str(x) for x in loc), message)


def _shape_issues(e: ValidationError, data: Any, file: str, node: Any) -> list[ConfigIssue]:
    out = []
    for err in e.errors(include_url=False):
        loc = _strip_tags(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key" + _hint(str(loc[-1]), _keys_at(data, loc[:-1]))
        elif err["type"] == "literal_error" and loc[:1] in (("auth",), ("metrics_auth",)):
            message = (
                "must be `none` or a mapping with bearer_tokens, bearer_token_files or basic"
                f" (got {err['input']!r})"
            )
        out.append(_issue(file, node, loc, message))
    return out


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

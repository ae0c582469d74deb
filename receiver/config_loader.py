"""YAML loading with `${ENV}` expansion and errors that point at `file:line`.

The config is parsed twice from the same text: once into Python objects (with string
scalars expanded), once into a node tree used only to find the line of a key path named
in a validation error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

# ${VAR} or ${VAR:-default}; `$$` escapes a literal dollar.
_ENV_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors (a typo must not silently
    disable a setting)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where and what."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


class ConfigError(Exception):
    """The config has one or more problems; `issues` lists all of them."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def expand_env(value: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand ${VAR} and ${VAR:-default}; returns the text and the names that were unset."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if name in env and (env[name] != "" or default is None):
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _ENV_RE.sub(sub, value), missing


def load_yaml(
    path: Path, env: Mapping[str, str] | None = None, unset: list[str] | None = None
) -> tuple[Any, yaml.Node | None]:
    """Parse `path` into objects (env-expanded) and a node tree; raises ConfigError.

    An unset variable without a default is an error, unless `unset` is given (offline
    checks, where the secrets are not in the environment): then `${VAR}` is kept as
    written and VAR appended to `unset`.
    """
    env = os.environ if env is None else env
    fname = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([ConfigIssue(fname, 0, "", f"cannot read config: {e.strerror}")]) from e
    issues: list[ConfigIssue] = []

    class Loader(yaml.SafeLoader):
        pass

    def construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
        raw = loader.construct_scalar(node)
        assert isinstance(raw, str)
        value, missing = expand_env(raw, env)
        if missing and unset is not None:
            unset.extend(n for n in missing if n not in unset)
            return raw
        for name in missing:
            issues.append(
                ConfigIssue(
                    fname,
                    node.start_mark.line + 1,
                    "",
                    f"environment variable {name} is not set (use ${{{name}:-default}} "
                    "for a default)",
                )
            )
        return value

    Loader.add_constructor("tag:yaml.org,2002:str", construct_str)
    try:
        data = yaml.load(text, Loader=Loader)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else 0
        raise ConfigError([ConfigIssue(fname, line, "", f"invalid YAML: {e.problem}")]) from e
    if issues:
        raise ConfigError(issues)
    return ({} if data is None else data), node


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest node along `loc` (a pydantic error location)."""
    if node is None:
        return 0
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def read_secret_file(path: str | Path) -> str:
    """A secret kept in a file (Kubernetes/Docker secrets): its content, stripped.
    ValueError naming the file when it cannot be read or is empty."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read secret file {path}: {e}") from e
    if not value:
        raise ValueError(f"secret file {path} is empty")
    return value


def one_of(value: object, file: object, what: str) -> None:
    """A secret is given inline or as a `*_file` path (as Alertmanager allows); not both."""
    if value and file:
        raise ValueError(f"set {what} or {what}_file, not both")

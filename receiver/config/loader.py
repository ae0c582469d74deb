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
from typing import Any, ClassVar, Self

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

# A config location (a pydantic error location): ("route", "routes", 0, "receivers", 1).
Loc = tuple[str | int, ...]
# One problem found after the shape was validated: where, and what.
Issue = tuple[Loc, str]

# ${VAR} or ${VAR:-default}; `$$` escapes a literal dollar.
_ENV_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors (a typo must not silently
    disable a setting)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecretHolder(StrictModel):
    """A section holding one secret, given as `<secret_field>` inline or as
    `<secret_field>_file` (never both, one of them required)."""

    secret_field: ClassVar[str]

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        exactly_one(self, self.secret_field, self.secret_field + "_file")
        return self

    def secret(self) -> str:
        """The secret (read from its file when given so; ValueError if unreadable)."""
        path = getattr(self, self.secret_field + "_file")
        return read_secret_file(path) if path else getattr(self, self.secret_field) or ""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where and what."""

    file: str
    line: int
    path: str
    message: str
    # The command-line flag the value came from (`--listen`): then it is the flag that is
    # wrong, not a line of the file.
    flag: str = ""

    def __str__(self) -> str:
        if self.flag:
            return f"{self.flag}: {self.message}"
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
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError([ConfigIssue(fname, 0, "", f"cannot read config: {e.strerror}")]) from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = raw.count(b"\n", 0, e.start) + 1, e.start - raw.rfind(b"\n", 0, e.start)
        msg = f"not UTF-8: byte 0x{raw[e.start]:02x} at column {col} (save the file as UTF-8)"
        raise ConfigError([ConfigIssue(fname, line, "", msg)]) from None
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
    except yaml.YAMLError as e:
        raise ConfigError([_yaml_issue(fname, text, e)]) from None
    if issues:
        raise ConfigError(issues)
    return ({} if data is None else data), node


def _yaml_issue(fname: str, text: str, e: yaml.YAMLError) -> ConfigIssue:
    """`file:line: invalid YAML: …` for any error of the YAML reader, scanner or parser."""
    if isinstance(e, yaml.MarkedYAMLError):
        line = e.problem_mark.line + 1 if e.problem_mark else 0
        return ConfigIssue(fname, line, "", f"invalid YAML: {e.problem or e.context or e}")
    if isinstance(e, yaml.reader.ReaderError) and isinstance(e.character, int):
        # A character YAML does not allow (NUL, other control characters): no mark, only
        # its position in the text.
        pos = e.position
        line, col = text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)
        what = "a NUL byte" if e.character == 0 else f"character #x{e.character:04x}"
        return ConfigIssue(fname, line, "", f"invalid YAML: {what} at column {col}: "
                           "control characters are not allowed")  # fmt: skip
    return ConfigIssue(fname, 0, "", f"invalid YAML: {e}")


def plain_message(err: Mapping[str, Any]) -> str:
    """A pydantic error's message without the prefixes pydantic adds to our own
    (`Value error, `, `Assertion failed, `): what our validators say, as they say it."""
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


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


MIN_SECRET = 32  # characters: `openssl rand -hex 32` gives 64


def secret_problem(value: str, what: str) -> str | None:
    """Why `value` is too weak to sign with (None: it is not)."""
    if len(value) < MIN_SECRET:
        return f"{what} must be at least {MIN_SECRET} characters (e.g. `openssl rand -hex 32`)"
    return None


def strong_secret(v: SecretStr | None, what: str) -> SecretStr | None:
    """`v` unchanged when it is strong enough to sign with (or None), else ValueError."""
    msg = secret_problem(v.get_secret_value(), what) if v is not None else None
    if msg:
        raise ValueError(msg)
    return v


def secret_file_problems(
    files: Mapping[str, str | Path | None], strong: bool = False
) -> list[tuple[str, str]]:
    """(field, message) for each given secret file (field → path) that cannot be read, or
    (`strong`) whose secret is too weak to sign with."""
    out: list[tuple[str, str]] = []
    for field, path in files.items():
        if path is None:
            continue
        try:
            value = read_secret_file(path)
        except ValueError as e:
            out.append((field, str(e)))
            continue
        if strong and (msg := secret_problem(value, f"the secret in {path}")):
            out.append((field, msg))
    return out


def exactly_one(cfg: BaseModel, a: str, b: str, required: bool = True) -> None:
    """Model-validator helper for a secret given inline (`a`) or as a file (`b`, as
    Alertmanager allows): never both, and one of them when `required`. An empty string
    counts as not given."""
    given = [f for f in (a, b) if getattr(cfg, f) not in (None, "")]
    if len(given) > 1:
        raise ValueError(f"give either {a} or {b}, not both")
    if required and not given:
        raise ValueError(f"{a} or {b} is required")

"""The API's config sections: `auth` / `metrics_auth` (Alertmanager's http_config
credentials, or `none`) and `webhook` (what the intake accepts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from receiver.config.loader import Issue, Loc, SecretHolder, StrictModel, read_secret_file

MiB = 1024 * 1024


class BasicUser(SecretHolder):
    secret_field = "password"
    username: str
    password: str | None = None
    password_file: str | None = None


class AuthConfig(StrictModel):
    """Credentials as Alertmanager's http_config sends them: bearer tokens and/or basic auth.

    Files are read when the credentials are built (start-up, reload), not when the
    config is parsed, so that a config can be checked offline (`--no-secrets`).
    """

    bearer_tokens: list[str] = Field(default_factory=list)
    bearer_token_files: list[str] = Field(default_factory=list)
    basic: list[BasicUser] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> AuthConfig:
        if not any(self.bearer_tokens) and not self.bearer_token_files and not self.basic:
            raise ValueError(
                "no credentials: give bearer_tokens, bearer_token_files or basic "
                "(or `auth: none` to accept unauthenticated webhooks)"
            )
        return self

    def tokens(self) -> list[str]:
        """Every accepted bearer token: inline ones, then one per file."""
        inline = [t for t in self.bearer_tokens if t]
        return inline + [read_secret_file(f) for f in self.bearer_token_files]

    def secret_issues(self) -> Iterator[Issue]:
        for i, f in enumerate(self.bearer_token_files):
            yield from readable(("bearer_token_files", i), f)
        for j, user in enumerate(self.basic):
            if user.password_file:
                yield from readable(("basic", j, "password_file"), user.password_file)


def readable(loc: Loc, path: str) -> Iterator[Issue]:
    try:
        read_secret_file(path)
    except ValueError as e:
        yield loc, str(e)


def _auth_tag(v: Any) -> str:
    return "credentials" if isinstance(v, dict | AuthConfig) else "none"


# `auth: none` or a credentials mapping; the tag picks the branch, so a mistake in the
# mapping is reported once, not also as "should be 'none'".
Auth = Annotated[
    Annotated[AuthConfig, Tag("credentials")] | Annotated[Literal["none"], Tag("none")],
    Discriminator(_auth_tag),
]
AUTH_TAGS = ("credentials", "none")


class WebhookIntakeConfig(StrictModel):
    """The `webhook:` section: what the intake accepts (not the `webhook` channel type)."""

    # Alertmanager bodies are a few KiB per alert; 10 MiB is far above what max_alerts makes.
    max_body_bytes: int = Field(10 * MiB, gt=1024)

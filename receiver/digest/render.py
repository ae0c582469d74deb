"""A digest view → the email's text and HTML parts (Jinja2, HTML autoescaped)."""

from __future__ import annotations

import jinja2

from receiver.digest.view import DigestView
from receiver.notifiers.render import builtin_environment

TEXT = "digest_body.txt"
HTML = "digest_body.html"


class DigestRenderer:
    def __init__(self, env: jinja2.Environment | None = None) -> None:
        self._env = env or builtin_environment()

    def text(self, view: DigestView) -> str:
        return self._env.get_template(TEXT).render(d=view).strip() + "\n"

    def html(self, view: DigestView) -> str:
        return self._env.get_template(HTML).render(d=view).strip() + "\n"

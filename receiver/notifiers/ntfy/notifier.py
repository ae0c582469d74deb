"""Publishes one notification to ntfy and classifies the answer; never retries itself.

POST of the JSON body to the server root with `Authorization: Bearer <token>` when a token
is set (https://docs.ntfy.sh/publish/#access-tokens). 2xx ok; 429 (the visitor's request
limit, https://docs.ntfy.sh/config/#rate-limiting) is rate limited and pauses the
destination; 5xx retryable; other 4xx (401/403 auth, 400 bad request, 413 too large)
final: the worker dead-letters it.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import orjson

from receiver.models import Notification
from receiver.notifiers.base import (
    DeliveryResult,
    NotifierBase,
    classify_exception,
    invalid_config,
    load_secret,
    post,
)
from receiver.notifiers.ntfy.config import NtfyConfig
from receiver.notifiers.ntfy.message import publish_body, topic_of
from receiver.notifiers.render import Renderer


class NtfyNotifier(NotifierBase[NtfyConfig]):
    def __init__(
        self, name: str, cfg: NtfyConfig, session: aiohttp.ClientSession, renderer: Renderer
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self._token, self._config_error = load_secret(cfg.token, cfg.token_file)

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"ntfy: {self._config_error}")
        topic = topic_of(n, self.cfg)
        if topic is None:
            return invalid_config(f"ntfy: receiver {self.name} has no topic and the job no person")
        try:
            body = orjson.dumps(publish_body(n, self.cfg, self._renderer, topic))
        except Exception as e:
            return classify_exception(e, "ntfy")
        headers = {"User-Agent": "alert-receiver", "Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        result = await post(self._session, self.cfg.url + "/", body, headers,
                            self.cfg.timeout, f"ntfy {topic}")  # fmt: skip
        return result

"""The optional Alertmanager silence mirror of maintenance windows (`silence: true` on a
window): each occurrence gets one silence with the window's matchers for its span, made
when its start is claimed; ending the occurrence early expires it. Alertmanager is the one
`ack.alertmanager_silence` names (its URL, token, timeout): the ack silences' machinery
(receiver/ack/silence.py) reused for the requests and the answers' classification.

Idempotent at the far end: each silence's comment carries the occurrence id, and before
creating one the mirror lists the silences and adopts the one it made already (a retry
after a lost answer, a claim taken over from a killed replica). A failed request leaves
the claim unfinished, so it is tried again after the claim's lease. API reference:
https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from receiver.ack.silence import SilenceConfig, gone, rfc3339_ms
from receiver.maintenance.config import WindowSpec
from receiver.maintenance.schedule import Occurrence
from receiver.notifiers.base import classify_http, load_secret
from receiver.pipeline.matchers import MatchOp

log = logging.getLogger("receiver.maintenance")
COMMENT = "alert-receiver maintenance window"
_OPS = {MatchOp.EQ: (False, True), MatchOp.NE: (False, False),
        MatchOp.RE: (True, True), MatchOp.NRE: (True, False)}  # fmt: skip


def tag(occ: Occurrence) -> str:
    """What a silence's comment carries to say it is this occurrence's."""
    return f"[{occ.id}]"


def silence_matchers(spec: WindowSpec) -> list[dict[str, Any]]:
    """The window's matchers as Alertmanager's; `all: true` as alertname=~".+" (a silence
    needs a matcher that does not match the empty string)."""
    if spec.all:
        return [{"name": "alertname", "value": ".+", "isRegex": True, "isEqual": True}]
    return [{"name": m.name, "value": m.value, "isRegex": _OPS[m.op][0],
             "isEqual": _OPS[m.op][1]} for m in spec.parsed]  # fmt: skip


def silence_body(occ: Occurrence, spec: WindowSpec, created_by: str) -> dict[str, Any]:
    """The postableSilence of one occurrence."""
    reason = f": {spec.reason}" if spec.reason else ""
    return {"matchers": silence_matchers(spec), "startsAt": rfc3339_ms(occ.start_ms),
            "endsAt": rfc3339_ms(occ.end_ms), "createdBy": spec.created_by or created_by,
            "comment": f"{COMMENT} {occ.name} {tag(occ)}{reason}"}  # fmt: skip


def ours(listed: Any, occ: Occurrence) -> list[str]:
    """Ids of the active or pending silences made for the occurrence."""
    if not isinstance(listed, list):
        return []
    return [str(s["id"]) for s in listed if isinstance(s, dict) and s.get("id")
            and s.get("status", {}).get("state") in ("active", "pending")
            and tag(occ) in str(s.get("comment", ""))]  # fmt: skip


class SilenceMirror:
    """`config()` is read on every call (a reload applies); None: not configured."""

    def __init__(
        self, config: Callable[[], SilenceConfig | None], session: aiohttp.ClientSession
    ) -> None:
        self.config, self.session = config, session

    async def _call(self, cfg: SilenceConfig, method: str, path: str,
                    body: Any = None) -> tuple[int, str]:  # fmt: skip
        token, problem = load_secret(cfg.bearer_token, cfg.bearer_token_file)
        if problem:
            raise RuntimeError(problem)
        headers = {"User-Agent": "alert-receiver", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = aiohttp.ClientTimeout(total=cfg.timeout)
        async with self.session.request(method, cfg.url + path, json=body, headers=headers,
                                        timeout=timeout) as resp:  # fmt: skip
            return resp.status, await resp.text(errors="replace")

    async def _ours(self, cfg: SilenceConfig, occ: Occurrence) -> list[str]:
        status, text = await self._call(cfg, "GET", "/api/v2/silences")
        verdict = classify_http(status, {}, text, "GET /api/v2/silences")
        if not verdict.ok:
            raise RuntimeError(verdict.detail)
        return ours(json.loads(text), occ)

    async def create(self, occ: Occurrence, spec: WindowSpec) -> bool:
        """The occurrence's silence (made once); False when Alertmanager failed us."""
        cfg = self.config()
        if cfg is None:
            log.warning("maintenance silence: ack.alertmanager_silence is not configured",
                        extra={"window": occ.name})  # fmt: skip
            return True  # check-config refuses this; nothing to retry
        try:
            found = await self._ours(cfg, occ)
            if found:
                return True
            status, text = await self._call(cfg, "POST", "/api/v2/silences",
                                            silence_body(occ, spec, cfg.created_by))  # fmt: skip
            verdict = classify_http(status, {}, text, "POST /api/v2/silences")
            if not verdict.ok:
                raise RuntimeError(verdict.detail)
            log.info("maintenance silence created", extra={
                "window": occ.name, "occurrence": occ.id,
                "silence": json.loads(text).get("silenceID")})  # fmt: skip
            return True
        except (aiohttp.ClientError, TimeoutError, OSError, RuntimeError, ValueError) as e:
            log.warning("maintenance silence not created (tried again after the lease)",
                        extra={"window": occ.name, "error": repr(e)})  # fmt: skip
            return False

    async def expire(self, occ: Occurrence) -> bool:
        """Expires the occurrence's silences (ended early); False when it failed."""
        cfg = self.config()
        if cfg is None:
            return True
        try:
            for sid in await self._ours(cfg, occ):
                path = f"/api/v2/silence/{quote(sid, safe='')}"
                status, text = await self._call(cfg, "DELETE", path)
                if not classify_http(status, {}, text, "DELETE").ok and not gone(status, text):
                    raise RuntimeError(f"DELETE silence {sid}: HTTP {status}")
                log.info("maintenance silence expired", extra={
                    "window": occ.name, "occurrence": occ.id, "silence": sid})  # fmt: skip
            return True
        except (aiohttp.ClientError, TimeoutError, OSError, RuntimeError, ValueError) as e:
            log.warning("maintenance silence not expired (tried again after the lease)",
                        extra={"window": occ.name, "error": repr(e)})  # fmt: skip
            return False

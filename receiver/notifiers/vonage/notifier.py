"""Sends one phone job through Vonage: a text (Messages API) or a call with an NCCO
(Voice API), and classifies the answer (vonage/api.py); never retries itself.

Vonage posts message status and inbound texts to the webhooks set on the Vonage
application (point them at <public_url>/sms/<name>/status and /sms/<name>); a call's
events and keypad input come to the `event_url`/`eventUrl` given here, /voice/<name>.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from receiver.models import Notification
from receiver.notifiers.base import DeliveryResult, NotifierBase, invalid_config, load_secret, ok
from receiver.notifiers.render import Renderer
from receiver.notifiers.sms.job import keypad_query, phone_job
from receiver.notifiers.sms.phone import Kind
from receiver.notifiers.vonage.api import VonageClient
from receiver.notifiers.vonage.config import VonageConfig
from receiver.notifiers.vonage.ncco import call_ncco


class VonageNotifier(NotifierBase[VonageConfig]):
    def __init__(
        self, name: str, cfg: VonageConfig, session: aiohttp.ClientSession, renderer: Renderer
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        key, err = load_secret(cfg.private_key, cfg.private_key_file)
        self.secret, err2 = load_secret(cfg.signature_secret, cfg.signature_secret_file)
        self._config_error = err or err2
        self.client = VonageClient(session, cfg.api_url, cfg.application_id, key, cfg.number,
                                   cfg.timeout)  # fmt: skip

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"vonage: {self._config_error}")
        job = phone_job(n)
        if isinstance(job, str):
            return invalid_config(f"vonage: {job}")
        if job.kind is Kind.SMS:
            return await self.client.send_sms(job.phone, job.text, n.key)
        if job.resolved:
            return ok("vonage: no call for a resolve")
        url = f"{self.cfg.public_url}/voice/{self.name}?{keypad_query(n, job.person, self.secret)}"
        return await self.client.call(job.phone, call_ncco(job.text, url), url)

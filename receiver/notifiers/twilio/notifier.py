"""Sends one phone job through Twilio: a text, or a call reading the alert with a keypad
menu (TwiML), and classifies the answer (twilio/api.py); never retries itself.

Status callbacks come to <public_url>/sms/<name>/status and /voice/<name>/status, the
keypad to /voice/<name> (receiver/api/sms.py, receiver/api/voice.py). A resolve is texted
("RESOLVED …"), never called: a call wakes, a resolve need not.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from receiver.models import Notification
from receiver.notifiers.base import DeliveryResult, NotifierBase, invalid_config, load_secret, ok
from receiver.notifiers.render import Renderer
from receiver.notifiers.sms.job import keypad_query, phone_job
from receiver.notifiers.sms.phone import Kind
from receiver.notifiers.twilio.api import TwilioClient
from receiver.notifiers.twilio.config import TwilioConfig
from receiver.notifiers.twilio.twiml import call_twiml


class TwilioNotifier(NotifierBase[TwilioConfig]):
    def __init__(
        self, name: str, cfg: TwilioConfig, session: aiohttp.ClientSession, renderer: Renderer
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self.token, self._config_error = load_secret(cfg.auth_token, cfg.auth_token_file)
        self.client = TwilioClient(session, cfg.api_url, cfg.account_sid, self.token,
                                   cfg.number, cfg.timeout)  # fmt: skip

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self._config_error:
            return invalid_config(f"twilio: {self._config_error}")
        job = phone_job(n)
        if isinstance(job, str):
            return invalid_config(f"twilio: {job}")
        base = f"{self.cfg.public_url}/{job.kind.value}/{self.name}"
        if job.kind is Kind.SMS:
            return await self.client.send_sms(job.phone, job.text, f"{base}/status")
        if job.resolved:
            return ok("twilio: no call for a resolve")
        query = keypad_query(n, job.person, self.token)
        twiml = call_twiml(job.text, f"{base}?{query}")
        return await self.client.call(job.phone, twiml, f"{base}/status?{query}",
                                      self.cfg.machine_detection)  # fmt: skip

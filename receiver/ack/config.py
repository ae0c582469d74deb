"""The `ack` config section: how acknowledgements reach the receiver beyond the API
(Slack button, signed email links) and what else they do (Alertmanager silences).

    ack:
      links: {secret_file: /etc/alert-receiver/link-secret, base_url: https://alerts.example.com}
      slack: {signing_secret_file: /etc/alert-receiver/slack-signing-secret}
      alertmanager_silence: {url: http://alertmanager:9093}

Each part is optional; a part that is absent is off, and what it would show (the Slack
button, the email link) is not shown.
"""

from __future__ import annotations

from receiver.ack.links import LinksConfig
from receiver.ack.silence import SilenceConfig
from receiver.ack.slack import SlackActionsConfig
from receiver.config.loader import StrictModel


class AckConfig(StrictModel):
    links: LinksConfig | None = None
    slack: SlackActionsConfig | None = None
    alertmanager_silence: SilenceConfig | None = None

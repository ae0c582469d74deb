"""check-config is the truth: a table of broken configs, each refused by `check-config` and
by `serve` with the same `file:line: key.path: message` lines; the shipped configs pass
both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, RedisServer, Serve
from tests.helpers import free_port

GOOD = """\
auth: none
receivers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
route:
  receivers: [hook]
"""

# (name, config text, expected issue: "LINE: key.path: message start")
TABLE = [
    ("rate", GOOD.replace("    url: http://127.0.0.1:9/hook\n",
                          "    url: http://127.0.0.1:9/hook\n    rate: 30 per minute\n"),
     "6: receivers.hook.rate: rate '30 per minute' is not COUNT/UNIT"),
    ("duration", GOOD + "  repeat_interval: often\n", "8: route.repeat_interval:"),
    ("matcher", GOOD + "  routes:\n    - matchers: ['team=~\"(\"']\n",
     "9: route.routes.0.matchers.0:"),
    ("undefined receiver", GOOD + "  routes:\n    - matchers: [team=db]\n"
     "      receivers: [hook, dba]\n",
     '10: route.routes.0.receivers.1: undefined receiver "dba" (defined: hook)'),
    ("digest", GOOD + "  digest: default\n",
     '8: route.digest: undefined digest "default" (defined: none)'),
    ("digest receiver", GOOD + "digests:\n  d: {receiver: hook, to: [a@example.com], every: 1h}\n",
     '9: digests.d.receiver: not an email receiver "hook" (email receivers: none)'),
    ("digest schedule", GOOD + "digests:\n  d:\n    receiver: hook\n    to: [a@example.com]\n",
     "9: digests.d: give a schedule"),
    ("escalation", GOOD + "  routes:\n    - matchers: [team=db]\n      escalation: db\n",
     '10: route.routes.0.escalation: undefined escalation policy "db" (defined: none)'),
    ("escalation receiver", GOOD + "  escalation: p\nescalation_policies:\n  p:\n    steps:\n"
     "      - {after: 5m, receivers: [dba]}\n",
     '12: escalation_policies.p.steps.0.receivers.0: undefined receiver "dba" (defined: hook)'),
    ("escalation unused", GOOD + "escalation_policies:\n  p:\n    steps:\n"
     "      - {after: 5m, receivers: [hook]}\n",
     '9: escalation_policies.p: policy "p" is not used by any route'),
    ("escalation order", GOOD + "  escalation: p\nescalation_policies:\n  p:\n    steps:\n"
     "      - {after: 5m, receivers: [hook]}\n      - {after: 1m, receivers: [hook]}\n",
     "11: escalation_policies.p.steps: steps must be in order of `after`"),
    ("misspelled key", GOOD.replace("route:\n  receivers", "route:\n  recievers"),
     '7: route.recievers: unknown key (did you mean "receivers"?)'),
    ("misspelled channel key", GOOD.replace("    url:", "    ulr:"),
     '5: receivers.hook.ulr: unknown key (did you mean "url"?)'),
    ("auth mapping", GOOD.replace("auth: none", "auth:\n  bearer_token: [x]"),
     '2: auth.bearer_token: unknown key (did you mean "bearer_tokens"?)'),
    ("auth string", GOOD.replace("auth: none", "auth: nope"),
     "1: auth: must be `none` or a mapping"),
    ("auth yaml false", GOOD.replace("auth: none", "auth: off"),
     "1: auth: must be `none` or a mapping with bearer_tokens, bearer_token_files or basic "
     "(got False)"),
    ("unset env", GOOD.replace("auth: none", "auth:\n  bearer_tokens: ['${AR_UNSET_TOKEN}']"),
     "2: environment variable AR_UNSET_TOKEN is not set"),
    ("duplicate route name", GOOD + "  routes:\n    - {name: x, matchers: [a=b]}\n"
     "    - {name: x, matchers: [a=c]}\n", '10: route.routes.1.name: duplicate route name "x"'),
    ("admin_auth", GOOD + "admin_auth:\n  bearer_tokens: [x]\n",
     "8: admin_auth: replaced by api_tokens"),
    ("api scope", GOOD + "api_tokens:\n  - {name: a, token: 0123456789abcdef, scopes: [write]}\n",
     "9: api_tokens.0.scopes.0: Input should be 'read', 'ack', 'oncall' or 'admin'"),
    ("api token name", GOOD + "api_tokens:\n  - {name: a, token: 0123456789abcdef, scopes: [read]}"
     "\n  - {name: a, token: fedcba9876543210, scopes: [admin]}\n",
     '10: api_tokens.1.name: duplicate token name "a"'),
    ("api token short", GOOD + "api_tokens:\n  - {name: a, token: abc, scopes: [read]}\n",
     "9: api_tokens.0: token of 'a' has 3 characters; use at least 16"),
    ("api token is webhook's", GOOD.replace("auth: none", "auth:\n  bearer_tokens: "
     "[0123456789abcdef]") + "api_tokens:\n"
     "  - {name: a, token: 0123456789abcdef, scopes: [read]}\n",
     "10: api_tokens.0: token of 'a' is also a webhook token"),
    ("token file", GOOD.replace("auth: none", "auth:\n  bearer_token_files: [/nonexistent/t]"),
     "2: auth.bearer_token_files.0: cannot read secret file /nonexistent/t"),
    ("secret file", GOOD.replace("    type: webhook\n    url: http://127.0.0.1:9/hook\n",
                                 "    type: pagerduty\n    routing_key_file: /nonexistent/k\n"),
     "5: receivers.hook.routing_key_file: cannot read secret file /nonexistent/k"),
    ("routing key", GOOD.replace("    type: webhook\n    url: http://127.0.0.1:9/hook\n",
                                 "    type: pagerduty\n    routing_key: short\n"),
     "5: receivers.hook.routing_key: routing_key must be 32 characters"),
    ("server timeout", GOOD + "server:\n  read_timeout: 0s\n",
     "9: server.read_timeout: read_timeout must be between 100ms and 1h (got 0s)"),
    ("server connections", GOOD + "server:\n  max_connections: 0\n",
     "9: server.max_connections: Input should be greater than or equal to 1"),
    ("redis url", GOOD + "redis:\n  url: http://redis:6379\n",
     "9: redis.url: url must start with redis://"),
    ("templates", GOOD + "templates_dir: {tpl}\n", "8: templates_dir: {tpl}/slack_text.txt:1:"),
    ("oncall timezone", GOOD + "oncall:\n  rotations:\n    p:\n      members: "
     "[{name: a, email: a@example.com}]\n      timezone: Mars/Olympus\n",
     "12: oncall.rotations.p.timezone: unknown timezone 'Mars/Olympus'"),
    ("oncall member", GOOD + "oncall:\n  rotations:\n    p:\n      members:\n"
     "        - {name: a, email: a@example.com}\n        - {name: a, email: b@example.com}\n",
     '13: oncall.rotations.p.members.1.name: duplicate member name "a"'),
    ("oncall receiver", GOOD + "oncall:\n  rotations:\n    p:\n      members:\n"
     "        - {name: a, email: a@example.com, receiver: pager}\n",
     '12: oncall.rotations.p.members.0.receiver: undefined receiver "pager" (defined: hook)'),
    ("slo receiver", GOOD + "slo:\n  services:\n    api:\n      objective: 99.9\n"
     "      matchers: ['service=\"api\"']\n      notify: [pager]\n",
     '13: slo.services.api.notify.0: undefined receiver "pager" (defined: hook)'),
    ("slo matcher", GOOD + "slo:\n  services:\n    api:\n      objective: 99.9\n"
     "      matchers: ['service=~\"(\"']\n",
     "12: slo.services.api.matchers.0:"),
    ("slo objective", GOOD + "slo:\n  services:\n    api:\n      objective: 100\n"
     "      matchers: [service=api]\n",
     "11: slo.services.api.objective:"),
    ("slo window", GOOD + "slo:\n  services:\n    api:\n      objective: 99\n      window: 1h\n"
     "      matchers: [service=api]\n",
     "12: slo.services.api.window: window must be between 6h and 366d"),
    ("slo thresholds", GOOD + "slo:\n  thresholds: [50, 50]\n",
     "9: slo.thresholds: thresholds must not repeat"),
    ("heartbeat receiver", GOOD + "heartbeats:\n  watchdog:\n    matchers: [alertname=Watchdog]\n"
     "    notify: [pager]\n",
     '11: heartbeats.watchdog.notify.0: undefined receiver "pager" (defined: hook)'),
    ("heartbeat notify", GOOD + "heartbeats:\n  watchdog:\n    matchers: [alertname=Watchdog]\n",
     "9: heartbeats.watchdog.notify:"),
    ("heartbeat timeout", GOOD + "heartbeats:\n  watchdog:\n    matchers: [alertname=Watchdog]\n"
     "    timeout: soon\n    notify: [hook]\n",
     "11: heartbeats.watchdog.timeout: not a valid duration"),
]  # fmt: skip


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env={**os.environ, **(env or {})},
    )  # fmt: skip


def issue_lines(cfg: Path, stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{cfg}:")]


@pytest.mark.parametrize(("name", "text", "expected"), TABLE, ids=[r[0] for r in TABLE])
def test_check_config_and_serve_refuse_alike(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    tpl = tmp_path / "templates"
    tpl.mkdir()
    (tpl / "slack_text.txt").write_text("{{ alert.labels.alertname }\n")  # unclosed tag
    cfg = tmp_path / "config.yml"
    cfg.write_text(text.replace("{tpl}", str(tpl)))
    env = {"AR_UNSET_TOKEN": ""} if name == "unset env" else None
    if env:
        os.environ.pop("AR_UNSET_TOKEN", None)
    checked = run("check-config", str(cfg))
    served = run("serve", "--config", str(cfg), "--listen", f"127.0.0.1:{free_port()}",
                 "--data-dir", str(tmp_path / "data"))  # fmt: skip
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert served.returncode == 2, served.stderr
    want = f"{cfg}:{expected.replace('{tpl}', str(tpl))}"
    lines = issue_lines(cfg, checked.stderr)
    assert any(line.startswith(want) for line in lines), (lines, want)
    assert lines[-1] == f"{cfg}: {len(lines) - 1} error" + ("s" if len(lines) > 2 else "")
    assert lines == issue_lines(cfg, served.stderr)  # same words, same place
    assert "Traceback" not in served.stderr and "Traceback" not in checked.stderr
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_shipped_configs_pass_both(tmp_path: Path, redis_server: RedisServer) -> None:
    secrets = {"WEBHOOK_TOKEN": "t", "PAGERDUTY_ROUTING_KEY": "k" * 32,
               "SLACK_BOT_TOKEN": "xoxb-test", "SMTP_PASSWORD": "p",
               "ADMIN_API_TOKEN": "admin-token-0123456789",
               "REDIS_URL": redis_server.url}  # fmt: skip
    for name in ("dev.yml", "example.yml"):
        cfg = ROOT / "config" / name
        checked = run("check-config", str(cfg), env=secrets)
        assert checked.returncode == 0, checked.stderr
        assert "config OK" in checked.stdout
        os.environ.update(secrets)
        try:
            s = Serve(cfg, tmp_path / f"data-{name}", free_port())
            s.start()  # waits for /health/ready
            assert s.kill(signal.SIGTERM) == 0
        finally:
            for k in secrets:
                os.environ.pop(k, None)
    # Offline, as in a user's CI: no secret in the environment.
    bare = {k: v for k, v in os.environ.items() if k not in secrets}
    offline = subprocess.run(
        [sys.executable, "-m", "receiver", "check-config", "--no-secrets",
         str(ROOT / "config" / "example.yml")], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env=bare,
    )  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    assert "WEBHOOK_TOKEN" in offline.stderr  # told what was not checked
    routes = subprocess.run(
        [sys.executable, "-m", "receiver", "routes", "test", "--config",
         str(ROOT / "config" / "example.yml"), "severity=critical", "team=db"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=bare,
    )  # fmt: skip
    assert routes.returncode == 0, routes.stderr
    # The SOP: a critical without a priority label climbs the P1 ladder.
    assert "escalation: p1 (steps at 0s / 15m)" in routes.stdout.splitlines()

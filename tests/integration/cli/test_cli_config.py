"""check-config, routes test and send-test as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import yaml

from receiver.cli import main
from receiver.models import Notification
from receiver.notifiers.registry import CHANNELS
from receiver.store.keys import Keys
from tests.conftest import ROOT, AppFactory, auth, fixture_body


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env=env,
    )  # fmt: skip


def test_check_config_reports_every_mistake_with_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text(
        "listen: 127.0.0.1:9095\n"
        "auth: none\n"
        "redis:\n"
        "  url: http://redis:6379\n"  # line 4: wrong scheme
        "receivers:\n"
        "  pd:\n"
        "    type: pagerduty\n"
        "    routing_key: abcdefabcdefabcdefabcdefabcdefab\n"
        "    colour: red\n"  # line 9: unknown key
        "route:\n"
        "  receivers: [pd]\n"
        "  repeat_interval: often\n"  # line 12: bad duration
    )
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith(str(cfg))]
    assert f"{cfg}:4: redis.url: url must start with redis://, rediss:// or unix://" in lines
    assert any(line.startswith(f"{cfg}:9: receivers.pd.colour:") for line in lines), lines
    assert any(line.startswith(f"{cfg}:12: route.repeat_interval:") for line in lines), lines
    assert f"{cfg}: 3 errors" in out.stderr


def test_check_config_env_expansion_and_missing_var(tmp_path: Path) -> None:
    cfg = tmp_path / "env.yml"
    cfg.write_text('listen: ${LISTEN:-127.0.0.1:9999}\nauth:\n  bearer_tokens: ["${AR_TOKEN}"]\n')
    out = run_cli("check-config", str(cfg), env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert f"{cfg}:3: environment variable AR_TOKEN is not set" in out.stderr
    ok = run_cli("check-config", str(cfg), env={"PATH": "/usr/bin:/bin", "AR_TOKEN": "t"})
    assert ok.returncode == 0, ok.stderr
    assert "listen:    127.0.0.1:9999" in ok.stdout


def test_auth_must_be_explicit(tmp_path: Path) -> None:
    cfg = tmp_path / "noauth.yml"
    cfg.write_text("listen: 127.0.0.1:9095\n")
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 2
    told = (f"{cfg}:1: auth: required: give bearer_tokens, bearer_token_files or basic, or "
            "write `auth: none` explicitly to accept webhooks without credentials")  # fmt: skip
    assert told in out.stderr.splitlines()


TYPES = ", ".join(CHANNELS)  # the registry's order


@pytest.mark.parametrize(("receiver", "expected"), [
    ("    type: logs\n", '4: receivers.x.type: unknown receiver type "logs" (did you mean "log"?); '
     f"one of: {TYPES}"),
    ("    url: http://127.0.0.1:9/hook\n", "3: receivers.x.type: required: the receiver's type, "
     f"one of: {TYPES}"),
    ("    type: log\n    rate: 3\n", "5: receivers.x.rate: Input should be a valid string (got 3)"),
    ("    type: log\n    burst: 0\n", "5: receivers.x.burst: Input should be greater than or equal "
     "to 1 (got 0)"),
], ids=["type typo", "no type", "type error", "out of range"])  # fmt: skip
def test_receiver_mistakes_are_told_in_our_words(
    tmp_path: Path, receiver: str, expected: str
) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text("auth: none\nreceivers:\n  x:\n" + receiver)
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 2
    assert f"{cfg}:{expected}" in out.stderr.splitlines()
    assert "Input tag" not in out.stderr and "discriminator" not in out.stderr


def test_a_bad_listen_flag_is_reported_as_the_flag(tmp_path: Path) -> None:
    out = run_cli("serve", "--config", str(ROOT / "config" / "dev.yml"), "--listen", "9096",
                  "--data-dir", str(tmp_path / "data"))  # fmt: skip
    assert out.returncode == 2
    told = "--listen: must be HOST:PORT, e.g. 127.0.0.1:9095 (got '9096')"
    assert told in out.stderr.splitlines()
    assert "dev.yml:5" not in out.stderr  # the flag was wrong, not the file
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(("content", "expected"), [
    (b"auth: none\nlisten: 127.0.0.1:9095\x00\n",
     "2: invalid YAML: a NUL byte at column 23: control characters are not allowed"),
    (b"auth: none\nreceivers:\n  x: {type: log}\n# caf\xe9\n",
     "4: not UTF-8: byte 0xe9 at column 6 (save the file as UTF-8)"),
    (b"auth: none\n\tlisten: x\n", "2: invalid YAML: found character '\\t' that cannot start"),
], ids=["NUL byte", "latin-1", "tab"])  # fmt: skip
def test_unreadable_yaml_is_a_config_error_not_a_traceback(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_bytes(content)
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 2, out.stderr
    assert any(line.startswith(f"{cfg}:{expected}") for line in out.stderr.splitlines()), out
    assert "Traceback" not in out.stderr


def test_placeholder_secrets_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "auth:\n"
        "  basic: [{username: am, password: CHANGEME}]\n"
        "api_tokens:\n"
        "  - {name: ops, token: REPLACE-ME-admin-token-openssl-rand-hex-32, scopes: [admin]}\n"
        "metrics_auth: {bearer_tokens: [<the token Prometheus sends>]}\n"
        "receivers:\n"
        f"  pd: {{type: pagerduty, routing_key: {'x' * 32}}}\n"
    )
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith(f"{cfg}:")]
    told = "looks like a placeholder ({}); put the real secret here"
    assert lines == [
        f"{cfg}:2: auth.basic.0.password: " + told.format("'CHANGEME'"),
        f"{cfg}:4: api_tokens.0.token: " + told.format("'REPLACE-ME…'"),
        f"{cfg}:5: metrics_auth.bearer_tokens.0: " + told.format("'<the token Prometheus sends>'"),
        f"{cfg}:7: receivers.pd.routing_key: " + told.format(repr("x" * 32)),
        f"{cfg}: 4 errors",
    ]
    # A secrets check: offline checks (secrets not at hand) skip it like the others.
    assert run_cli("check-config", "--no-secrets", str(cfg)).returncode == 0


def test_the_kubernetes_kit_placeholders_are_refused_when_used(tmp_path: Path) -> None:
    kit = ROOT / "deployments" / "kubernetes"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in yaml.safe_load((kit / "secret.yaml").read_text())["stringData"].items():
        (secrets / name).write_text(value + "\n")  # as the Secret is mounted
    config = yaml.safe_load((kit / "configmap.yaml").read_text())["data"]["config.yml"]
    cfg = tmp_path / "config.yml"
    cfg.write_text(config.replace("/run/secrets/alert-receiver/", f"{secrets}/"))
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 2, out.stdout
    lines = [line.split(": ", 1)[1] for line in out.stderr.splitlines()
             if line.startswith(f"{cfg}:")]  # fmt: skip
    placeholder = "looks like a placeholder ('REPLACE-ME…'); put the real secret there"
    assert lines == [
        f"auth.bearer_token_files.0: the secret in {secrets}/webhook-token {placeholder}",
        f"api_tokens.0.token_file: the secret in {secrets}/admin-token {placeholder}",
        "2 errors",
    ]


@pytest.mark.parametrize("name", ["dev.yml", "example.yml"])
def test_shipped_configs_are_valid(name: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "PAGERDUTY_ROUTING_KEY": "R" * 32,
           "SLACK_BOT_TOKEN": "xoxb-1", "SMTP_PASSWORD": "pw", "WEBHOOK_TOKEN": "t",
           "ADMIN_API_TOKEN": "admin-token-0123456789",
           "REDIS_URL": "redis://127.0.0.1:6379/0"}  # fmt: skip
    out = run_cli("check-config", str(ROOT / "config" / name), env=env)
    assert out.returncode == 0, out.stderr
    assert "config OK" in out.stdout


ROUTES = {
    "receivers": {
        "pd": {"type": "webhook", "url": "http://127.0.0.1:9/pd", "rate": "none"},
        "chat": {"type": "webhook", "url": "http://127.0.0.1:9/chat", "rate": "none"},
        "dba": {"type": "webhook", "url": "http://127.0.0.1:9/dba", "rate": "none"},
    },
    "route": {
        "receivers": ["chat"],
        "routes": [
            {"name": "crit", "matchers": ['severity="critical"'], "receivers": ["pd", "chat"],
             "continue": True},
            {"name": "db", "matchers": ['team=~"db|dba"', 'env!="dev"'], "receivers": ["dba"]},
        ],
    },
}  # fmt: skip
LABEL_TABLE = [
    {"severity": "critical", "team": "web"},
    {"severity": "critical", "team": "db"},
    {"severity": "warning", "team": "db"},
    {"severity": "warning", "team": "db", "env": "dev"},
    {"severity": "info"},
]


@pytest.mark.parametrize("labels", LABEL_TABLE)
async def test_routes_test_prints_what_the_pipeline_chooses(
    app_client: AppFactory, redis: aioredis.Redis, tmp_path: Path, labels: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    cfg = tmp_path / "routes.yml"
    cfg.write_text(yaml.safe_dump({"auth": "none", **ROUTES}))
    assert (
        main(["routes", "test", "--config", str(cfg), *[f"{k}={v}" for k, v in labels.items()]])
        == 0
    )
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("destinations: "))
    cli_dests = sorted(line.removeprefix("destinations: ").split(", "))
    # What the pipeline actually does for the same labels.
    client = await app_client(**ROUTES)
    body = fixture_body("warning-firing")
    body["alerts"][0]["labels"] = {"alertname": "T", **labels}
    del body["alerts"][0]["fingerprint"]
    assert (await client.post("/webhook", json=body, headers=auth())).status == 200
    keys = Keys()
    got = Counter(Notification.from_json(f["job"]).destination
                  for _i, f in await redis.xrange(keys.outbox))  # fmt: skip
    assert sorted(got) == cli_dests
    assert set(got.values()) == {1}


def test_send_test_posts_a_valid_body(tmp_path: Path) -> None:
    out = run_cli("send-test", "--url", "http://127.0.0.1:9/webhook")
    assert out.returncode == 1
    assert "failed" in out.stderr


def test_help_lists_commands() -> None:
    out = run_cli("--help")
    for cmd in ("serve", "check-config", "routes", "send-test"):
        assert cmd in out.stdout


def test_check_config_reports_broken_template_and_missing_secret_file(tmp_path: Path) -> None:
    tpl = tmp_path / "templates"
    tpl.mkdir()
    (tpl / "slack_text.txt").write_text("{{ alert.labels.alertname }\n")  # unclosed tag
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({
        "auth": "none", "templates_dir": str(tpl),
        "receivers": {"pd": {"type": "pagerduty",
                             "routing_key_file": str(tmp_path / "missing-key")}},
        "route": {"receivers": ["pd"]},
    }))  # fmt: skip
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 2
    assert "slack_text.txt" in out.stderr
    assert f"{cfg}:4: receivers.pd.routing_key_file: cannot read secret file" in out.stderr
    assert "missing-key" in out.stderr


def test_default_routes_naming_undefined_receivers_are_flagged(tmp_path: Path) -> None:
    cfg = tmp_path / "noroute.yml"
    cfg.write_text(yaml.safe_dump({"auth": "none", "receivers": {"slack": {
        "type": "slack", "webhook_url": "https://hooks.example.invalid/x"}}}))  # fmt: skip
    out = run_cli("check-config", str(cfg))
    assert out.returncode == 0  # valid, but the operator is told
    assert "warning:" in out.stderr and "pagerduty" in out.stderr
    assert "notify no one" in out.stderr
    routed = tmp_path / "routed.yml"
    routed.write_text(yaml.safe_dump({"auth": "none", "receivers": {"log": {"type": "log"}},
                                      "route": {"receivers": ["log"]}}))  # fmt: skip
    assert "warning:" not in run_cli("check-config", str(routed)).stderr

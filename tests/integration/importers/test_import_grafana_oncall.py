"""`alert-receiver import grafana-oncall` against the local OnCall: a rolling-users weekly
base, a rolling-users business-hours shift with by_day (level 1), a single event (level 2)
and an override, compared over 4 weeks across New York's DST change (2027-03-14) with the
stand-in's own final_shifts; the escalation chain's unmappable step types are reported."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from tests.integration.importers.helpers import run_import, summary, token_file
from tests.servers.grafana_oncall import FakeGrafanaOnCall


@pytest.fixture
async def oc() -> AsyncIterator[FakeGrafanaOnCall]:
    server = FakeGrafanaOnCall()
    await server.start()
    yield server
    await server.stop()


async def test_import_compares_to_zero_differences(oc: FakeGrafanaOnCall, tmp_path: Path) -> None:
    out = tmp_path / "oncall.yml"
    oc.storm = 2  # a short throttle on the way: Retry-After honoured
    done = await run_import(
        "grafana-oncall",
        "--api-url",
        oc.base_url,
        "--token-file",
        token_file(tmp_path, oc.token),
        "--out",
        str(out),
        "--compare-weeks",
        "4",
        "--compare-from",
        "2027-03-08T00:00:00Z",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary(done.stdout) == {"web-team": (672, 0)}
    assert oc.early == 0
    # the single event (level 2) beats business hours; business hours follow the DST change
    assert (
        "2027-03-17 16:00Z to 2027-03-17 19:00Z (  3h)  source: bob  imported: bob" in done.stdout
    )
    assert "2027-03-08 14:00Z to 2027-03-08 22:00Z (  8h)  source: erin" in done.stdout
    assert "2027-03-15 13:00Z to 2027-03-15 21:00Z (  8h)  source: carol" in done.stdout
    assert any("page=2" in r for r in oc.requests)  # pages followed through `next`

    fragment = yaml.safe_load(out.read_text())
    layers = fragment["oncall"]["rotations"]["web-team"]["layers"]
    assert [x["name"] for x in layers] == ["base weekly", "business hours", "release day"]
    assert layers[1]["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}
    ]
    assert fragment["escalation_policies"]["web-chain"]["steps"] == [
        {"after": "0s", "rotations": ["web-team"]}, {"after": "5m", "people": ["alice"]},
        {"after": "15m", "people": ["bob"]}]  # fmt: skip
    assert fragment["people"]["alice"]["notify"] == [
        {"after": "0s", "via": "email"},
        {"after": "5m", "via": "email"},
    ]
    overrides = json.loads((tmp_path / "oncall.overrides.json").read_text())["overrides"]
    assert overrides["web-team"][0]["who"] == "alice"
    assert overrides["web-team"][0]["from"] == "2027-03-24T14:00:00Z"  # 10:00 EDT
    report = (tmp_path / "oncall.report.txt").read_text()
    for step in (
        "notify_user_group",
        "trigger_webhook",
        "notify_person_next_each_time",
        "notify_if_time_from_to",
        "repeat_escalation",
        "resolve",
        "notify_by_sms",
        "notify_by_mobile_app",
        "important",
        "notify_team_members",
        "notify_if_num_alerts_in_window",
        "declare_incident",
    ):
        assert step in report, step
    assert "wait" not in report and "notify_persons " not in report  # those were mapped

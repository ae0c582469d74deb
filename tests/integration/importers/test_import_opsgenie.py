"""`alert-receiver import opsgenie` against the local Opsgenie (paged, authenticated):
a weekly off-hours rotation + a weekday 09:00-17:00 rotation + an override, compared
over 4 weeks across Berlin's DST change (2027-03-28) with the stand-in's own timeline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from receiver.oncall.config import OncallConfig
from tests.integration.importers.helpers import run_import, summary, token_file
from tests.servers.opsgenie import FIXTURES, FakeOpsgenie


@pytest.fixture
async def og() -> AsyncIterator[FakeOpsgenie]:
    server = FakeOpsgenie()
    await server.start()
    yield server
    await server.stop()


async def test_import_compares_to_zero_differences_across_dst(
    og: FakeOpsgenie, tmp_path: Path
) -> None:
    out = tmp_path / "imported.yml"
    args = [
        "opsgenie",
        "--api-url",
        og.base_url,
        "--token-file",
        token_file(tmp_path, og.key),
        "--out",
        str(out),
        "--compare-weeks",
        "4",
        "--compare-from",
        "2027-03-15T00:00:00Z",
    ]
    done = await run_import(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary(done.stdout) == {"platform": (672, 0)}
    # The comparison is real: the office layer, the override and the DST shift all show.
    assert (
        "2027-03-15 08:00Z to 2027-03-15 16:00Z (  8h)  source: carol  imported: carol"
        in done.stdout
    )
    assert "2027-03-29 07:00Z" in done.stdout  # 09:00 CEST after the change
    assert "source: dave  imported: dave" in done.stdout  # the override
    # Paged: users came in pages of 2 through paging.next, schedules with the rotations.
    assert "/v2/users?limit=2&offset=2" in og.requests
    assert any(r.startswith("/v2/schedules?expand=rotation") for r in og.requests)

    fragment = yaml.safe_load(out.read_text())
    rot = OncallConfig.model_validate(fragment["oncall"]).rotations["platform"]
    assert [x.name for x in rot.layers or []] == ["weekly", "office"]
    assert fragment["people"]["alice"]["phone"] == "+4915112345678"
    policy = fragment["escalation_policies"]["platform_escalation"]
    assert (policy["repeat"], policy["repeat_every"]) == (1, "90m")
    assert fragment["escalation_policies"]["platform_escalation"]["steps"] == [
        {"after": "0s", "rotations": ["platform"]},
        {"after": "5m", "people": ["alice"]},
    ]
    overrides = json.loads((tmp_path / "imported.overrides.json").read_text())["overrides"]
    assert [(o["who"], o["from"], o["until"]) for o in overrides["platform"]] == [
        ("dave", "2027-03-19T17:00:00Z", "2027-03-22T06:00:00Z")
    ]  # the ended one is not loaded
    report = (tmp_path / "imported.report.txt").read_text()
    for expected in (
        "notifyType next",
        "notifyType all",
        "mobile contact",
        "second email",
        "schedule-start",
        "override old-swap",
        "team t-platform",
        "Mars/Olympus",
        "sms after 5m",
        "notifyType previous",
        "notifyType users",
        "notifyType admins",
        "recipient escalation managers",
    ):
        assert expected in report, expected


async def test_reimport_is_byte_identical_and_dir_mode_agrees(
    og: FakeOpsgenie, tmp_path: Path
) -> None:
    tok = token_file(tmp_path, og.key)
    outs = []
    for _i in range(2):  # the same --out twice: the second run rewrites it identically
        out = tmp_path / "run.yml"
        done = await run_import("opsgenie", "--api-url", og.base_url, "--token-file", tok,
                                "--out", str(out))  # fmt: skip
        assert done.returncode == 0, done.stderr
        outs.append((out.read_bytes(), (tmp_path / "run.overrides.json").read_bytes(),
                     (tmp_path / "run.report.txt").read_bytes()))  # fmt: skip
    assert outs[0] == outs[1]
    assert b"# opsgenie schedule 0b1f8e3c-6a54-4c8e-9a3e-1f2d3c4b5a69" in outs[0][0]
    fixtures = FIXTURES
    (tmp_path / "saved").mkdir()
    saved = tmp_path / "saved" / "run.yml"
    done = await run_import("opsgenie", "--from-dir", str(fixtures), "--out", str(saved))
    assert done.returncode == 0, done.stderr
    assert saved.read_bytes() == outs[0][0]


async def test_rate_limits_are_honoured(og: FakeOpsgenie, tmp_path: Path) -> None:
    og.storm = 3  # three 429s in a row, each saying "wait 1 s"
    out = tmp_path / "o.yml"
    done = await run_import("opsgenie", "--api-url", og.base_url, "--token-file",
                            token_file(tmp_path, og.key), "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert og.early == 0 and out.exists()  # every retry waited as told


async def test_a_difference_is_shown_and_exits_1(og: FakeOpsgenie, tmp_path: Path) -> None:
    # Someone adds an override in Opsgenie after the import: the comparison must say so.
    carol = {"type": "user", "id": "6b2d5033-9d2f-4a1f-8e8b-1c3b42b1c1c2",
             "username": "carol@example.com"}  # fmt: skip
    og.later_overrides.append({"alias": "late", "user": carol, "rotations": [],
                               "startDate": "2027-04-03T10:00:00Z",
                               "endDate": "2027-04-03T13:00:00Z"})  # fmt: skip
    done = await run_import(
        "opsgenie",
        "--api-url",
        og.base_url,
        "--token-file",
        token_file(tmp_path, og.key),
        "--out",
        str(tmp_path / "o.yml"),
        "--compare-weeks",
        "4",
        "--compare-from",
        "2027-03-15T00:00:00Z",
    )
    assert done.returncode == 1, done.stderr
    assert summary(done.stdout) == {"platform": (672, 3)}
    assert (
        "DIFFERS 2027-04-03 10:00Z to 2027-04-03 13:00Z (  3h)  source: carol  imported: alice"
        in done.stdout
    )

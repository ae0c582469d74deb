"""Bad input: truncated JSON, unknown fields, a refused token, a 429 storm. Each gives a
clear error (exit 2, the kind named) and writes nothing: --out stays as it was, or absent."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from receiver.cli.importer import sidecars
from tests.integration.importers.helpers import run_import, token_file
from tests.servers.grafana_oncall import FIXTURES as ONCALL_FIXTURES
from tests.servers.grafana_oncall import FakeGrafanaOnCall
from tests.servers.opsgenie import FIXTURES, FakeOpsgenie


@pytest.fixture
async def og() -> AsyncIterator[FakeOpsgenie]:
    server = FakeOpsgenie()
    await server.start()
    yield server
    await server.stop()


def copy(tmp: Path, src: Path = FIXTURES) -> Path:
    root = tmp / "saved"
    shutil.copytree(src, root)
    return root


def untouched(out: Path, before: bytes | None) -> None:
    if before is None:
        assert not out.exists()
    else:
        assert out.read_bytes() == before
    assert not any(p.exists() for p in sidecars(out))
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


async def test_truncated_json_names_the_file_and_writes_nothing(tmp_path: Path) -> None:
    root = copy(tmp_path)
    f = root / "v2" / "schedules.json"
    f.write_text(f.read_text()[:300])
    out = tmp_path / "imported.yml"
    out.write_text("# the last import\n")
    done = await run_import("opsgenie", "--from-dir", str(root), "--out", str(out))
    assert done.returncode == 2
    assert "bad_json" in done.stderr and "v2/schedules.json" in done.stderr
    assert "truncated?" in done.stderr and "nothing written" in done.stderr
    untouched(out, b"# the last import\n")


async def test_a_missing_saved_response_is_named(tmp_path: Path) -> None:
    root = copy(tmp_path, ONCALL_FIXTURES)
    (root / "api" / "v1" / "escalation_policies.json").unlink()
    out = tmp_path / "o.yml"
    done = await run_import("grafana-oncall", "--from-dir", str(root), "--out", str(out))
    assert done.returncode == 2 and "missing" in done.stderr
    assert "escalation_policies.json" in done.stderr
    untouched(out, None)


async def test_unknown_fields_are_refused_unless_allowed_then_reported(tmp_path: Path) -> None:
    root = copy(tmp_path)
    f = root / "v2" / "schedules.json"
    data = json.loads(f.read_text())
    data["data"][0]["rotations"][1]["rotationColor"] = "teal"
    f.write_text(json.dumps(data))
    out = tmp_path / "o.yml"
    done = await run_import("opsgenie", "--from-dir", str(root), "--out", str(out))
    assert done.returncode == 2 and "shape" in done.stderr
    assert "rotations.1.rotationColor" in done.stderr and "--allow-unknown-fields" in done.stderr
    untouched(out, None)
    done = await run_import("opsgenie", "--from-dir", str(root), "--out", str(out),
                            "--allow-unknown-fields")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = sidecars(out)[1].read_text()
    assert "field v2/schedules[0]: rotations.1.rotationColor: unknown field, ignored" in report


async def test_a_refused_token_is_an_auth_error(og: FakeOpsgenie, tmp_path: Path) -> None:
    out = tmp_path / "o.yml"
    done = await run_import("opsgenie", "--api-url", og.base_url, "--token-file",
                            token_file(tmp_path, "not-the-key"), "--out", str(out))  # fmt: skip
    assert done.returncode == 2
    assert "auth" in done.stderr and "401" in done.stderr and "--token-file" in done.stderr
    untouched(out, None)
    assert len(og.requests) == 1  # no retrying a refused key


async def test_a_429_storm_ends_in_a_clear_error_after_bounded_waits(
    og: FakeOpsgenie, tmp_path: Path
) -> None:
    og.storm = 1000
    og.period = 1
    out = tmp_path / "o.yml"
    out.write_text("previous\n")
    done = await run_import("opsgenie", "--api-url", og.base_url, "--token-file",
                            token_file(tmp_path, og.key), "--out", str(out))  # fmt: skip
    assert done.returncode == 2
    assert "rate_limited" in done.stderr and "still 429 after 6 retries" in done.stderr
    assert len(og.requests) == 7 and og.early == 0  # bounded, and each wait as told
    untouched(out, b"previous\n")


async def test_oncall_refused_token(tmp_path: Path) -> None:
    oc = FakeGrafanaOnCall()
    await oc.start()
    try:
        done = await run_import(
            "grafana-oncall",
            "--api-url",
            oc.base_url,
            "--token-file",
            token_file(tmp_path, "wrong"),
            "--out",
            str(tmp_path / "o.yml"),
        )
    finally:
        await oc.stop()
    assert done.returncode == 2 and "auth" in done.stderr
    untouched(tmp_path / "o.yml", None)

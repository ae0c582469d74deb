"""`alert-receiver import opsgenie|grafana-oncall`: people, schedules (as rotations with
layers), escalation policies and overrides from another on-call tool, with a report of
what could not be mapped and, with --compare-weeks, the proof that the same people are
on call.

Reads the live API (--api-url, --token-file) or saved responses (--from-dir, one file
per API path: receiver/importers/source.py). Writes only when everything was read:
--out (a YAML fragment), beside it OUT.overrides.json (override request bodies: load
them with `alert-receiver oncall override load FILE` once the config is live) and
OUT.report.txt. Exit 0, 1 when
the comparison found differences, 2 on an error (nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from receiver.cli.common import say
from receiver.importers import compare, grafana_oncall, opsgenie
from receiver.importers.model import Result, render_overrides, render_report, render_yaml
from receiver.importers.source import ApiSource, DirSource, Source, SourceError
from receiver.oncall.config import OncallConfig
from receiver.oncall.overrides import OverrideError, Request, build_override
from receiver.oncall.store import OverrideStore

VENDORS: dict[str, Any] = {"opsgenie": opsgenie, "grafana-oncall": grafana_oncall}


def add_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    p = sub.add_parser("import", help="import schedules, people and escalation policies "
                       "from Opsgenie or Grafana OnCall")  # fmt: skip
    p.add_argument("vendor", choices=sorted(VENDORS))
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--api-url", help="the API's base URL (Opsgenie: https://api.opsgenie.com;"
                       " OnCall: the URL up to /api/v1)")  # fmt: skip
    where.add_argument("--from-dir", type=Path, help="saved JSON responses, one file per path")
    p.add_argument("--token-file", type=Path, help="a file holding the API key (with --api-url)")
    p.add_argument("--out", type=Path, required=True, help="the YAML fragment to write")
    p.add_argument(
        "--compare-weeks",
        type=int,
        metavar="N",
        default=0,
        help="compare N weeks of the source's final timeline with the import",
    )
    p.add_argument("--compare-from", metavar="TIME", help="ISO 8601; default: now")
    p.add_argument(
        "--allow-unknown-fields",
        action="store_true",
        help="import responses with fields this version does not know (reported)",
    )
    p.set_defaults(func=func)


def _fail(msg: str) -> int:
    say(f"alert-receiver import: {msg}", file=sys.stderr)
    return 2


def _write(path: Path, text: str) -> None:
    """Atomically: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def sidecars(out: Path) -> tuple[Path, Path]:
    stem = out.with_suffix("")
    return Path(f"{stem}.overrides.json"), Path(f"{stem}.report.txt")


def run(args: argparse.Namespace) -> int:
    if args.compare_weeks < 0 or args.compare_weeks > 52:
        return _fail("--compare-weeks: 0 to 52")
    if args.api_url and args.token_file is None:
        return _fail("--api-url needs --token-file")
    try:
        start = (datetime.fromisoformat(args.compare_from.replace("Z", "+00:00"))
                 if args.compare_from else datetime.now(UTC))  # fmt: skip
    except ValueError:
        return _fail(f"--compare-from: not an ISO 8601 time: {args.compare_from!r}")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if not args.out.parent.is_dir():
        return _fail(f"--out: no directory {args.out.parent}")
    try:
        result, text = asyncio.run(_import(args, start))
    except SourceError as e:
        return _fail(f"{e.kind}: {e} (nothing written)")
    yaml_text, overrides_path, report_path = _outputs(args, result)
    _write(args.out, yaml_text)
    _write(overrides_path, render_overrides(result))
    report = render_report(result)
    _write(report_path, report)
    say(report.rstrip("\n"))
    say(f"wrote {args.out}, {overrides_path}, {report_path}")
    if text is None:
        return 0
    say(text.rstrip("\n"))
    return 1 if "DIFFERS" in text else 0


def _outputs(args: argparse.Namespace, result: Result) -> tuple[str, Path, Path]:
    overrides_path, report_path = sidecars(args.out)
    header = (
        f"Imported from {args.vendor} by `alert-receiver import` (source ids in the\n"
        f"comments). Overrides: {overrides_path.name}; not imported: {report_path.name}."
    )
    return render_yaml(result, header), overrides_path, report_path


async def _import(args: argparse.Namespace, start: datetime) -> tuple[Result, str | None]:
    vendor = VENDORS[args.vendor]
    async with aiohttp.ClientSession() as session:
        src: Source
        if args.from_dir is not None:
            if not args.from_dir.is_dir():
                raise SourceError("missing", f"--from-dir: no directory {args.from_dir}")
            src = DirSource(args.from_dir)
        else:
            src = ApiSource(session, args.api_url, _auth(args), vendor.next_url)
        raw = await vendor.fetch(src)
        result: Result = vendor.convert(raw, datetime.now(UTC), args.allow_unknown_fields)
        if not args.compare_weeks:
            return result, None
        parts = []
        for sid, name in sorted(result.schedule_ids.items(), key=lambda x: x[1]):
            if name not in result.rotations:
                continue
            periods = await vendor.final_timeline(src, sid, start, args.compare_weeks)
            runs = compare.compare(result, name, periods, start, 24 * 7 * args.compare_weeks)
            parts.append(compare.render(name, runs))
        return result, "".join(parts)


def _auth(args: argparse.Namespace) -> dict[str, str]:
    try:
        token = args.token_file.read_text().strip()
    except OSError as e:
        raise SourceError("auth", f"--token-file {args.token_file}: {e.strerror}") from None
    if not token:
        raise SourceError("auth", f"--token-file {args.token_file} is empty")
    if args.vendor == "opsgenie":
        return {"Authorization": f"GenieKey {token}"}
    return {"Authorization": token}


async def load_overrides(store: OverrideStore, config: OncallConfig, path: Path, by: str) -> int:
    """`oncall override load FILE`: the overrides an import wrote, checked all first (one
    bad → none stored, exit 2); one already stored (same who, times and reason) is skipped,
    so loading twice stores each once."""
    try:
        doc = json.loads(await asyncio.to_thread(path.read_text))
        wanted = doc["overrides"]
        assert isinstance(wanted, dict)
    except (OSError, ValueError, KeyError, AssertionError) as e:
        return _fail(f"{path}: not an overrides file ({e.__class__.__name__}: {e})")
    todo, problems, now = [], [], store.now()
    for rotation, bodies in sorted(wanted.items()):
        if rotation not in config.rotations:
            problems.append(f"{rotation}: no such rotation")
            continue
        have = {(o.who, o.start, o.end, o.reason) for o in await store.list(rotation)}
        for i, body in enumerate(bodies if isinstance(bodies, list) else [bodies]):
            try:
                o = build_override(body, Request(config, rotation, by, now))
            except OverrideError as e:
                problems.append(f"{rotation}[{i}]: {e}")
                continue
            if (o.who, o.start, o.end, o.reason) not in have:
                todo.append((rotation, o))
    if problems:
        for p in problems:
            say(f"alert-receiver: {p}", file=sys.stderr)
        return _fail(f"{len(problems)} problem(s): no override stored")
    added = 0
    for rotation, o in todo:
        if not await store.add(rotation, o):
            return _fail(f"rotation {rotation} has the most overrides it keeps ({added} added)")
        added += 1
    say(f"added {added} override(s), {sum(map(len, wanted.values())) - added} already there")
    return 0

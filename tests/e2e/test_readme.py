"""The README's shell examples, run as a user runs them after the quick start.

Every fenced ```sh block of README.md is split into commands (a line; `\\` continues it) and
each is run with bash from the repository root, against `alert-receiver serve --config
config/dev.yml` started the way ./scripts/run.sh starts it, but on a free port and a
temporary data directory. The only changes made to a command before it runs:

- `localhost:9095` / `127.0.0.1:9095` → the test's port, `./data` → the test's data dir;
- `alert-receiver dlq|ack|unack` without `--data-dir` gets the test's data dir (it reaches the
  embedded Redis through the socket there, as it would reach ./data);
- `curl` gets `-sS --fail-with-body`, so an HTTP error fails the command.

Each command must exit 0; known commands also have their output checked (see `_check`).
Not run: the quick-start commands themselves (`./scripts/run.sh` is what this emulates,
`./scripts/test.sh` runs this test; likewise `make run` / `make test`), and a block whose
fence is preceded by `<!-- readme-test: skip (why) -->` (for templates with placeholders).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.conftest import ROOT
from tests.helpers import free_port, wait_until

README = ROOT / "README.md"
SHELL_INFO = {"sh", "bash", "shell"}
SKIP_MARK = re.compile(r"^\s*<!--\s*readme-test:\s*skip\b.*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
QUICK_START_SCRIPTS = {"./scripts/run.sh", "./scripts/test.sh", "scripts/run.sh", "scripts/test.sh"}
QUICK_START_MAKE = {"run", "test"}


@dataclass(frozen=True)
class Command:
    line: int  # where it starts in the markdown, 1-based
    text: str  # as written, continuation lines joined


@dataclass
class Block:
    line: int  # the opening fence, 1-based
    info: str
    skipped: bool
    commands: list[Command] = field(default_factory=list)


def split_comment(cmd: str) -> tuple[str, str]:
    """(code, comment): a `#` starts a comment at a word start, outside quotes."""
    quote: str | None = None
    escaped = False
    for i, c in enumerate(cmd):
        if escaped:
            escaped = False
        elif c == "\\" and quote != "'":
            escaped = True
        elif quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or cmd[i - 1].isspace()):
            return cmd[:i].rstrip(), cmd[i:]
    return cmd.rstrip(), ""


def _commands(lines: list[tuple[int, str]]) -> list[Command]:
    out: list[Command] = []
    pending: list[str] = []
    start = 0
    for no, raw in lines:
        if not pending:
            start = no
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        text = " ".join(part.strip() for part in pending)
        pending = []
        if split_comment(text)[0]:
            out.append(Command(start, text))
    if pending:
        out.append(Command(start, " ".join(part.strip() for part in pending)))
    return out


def blocks(markdown: str) -> list[Block]:
    """Every fenced code block with an sh/bash/shell info string, in order."""
    found: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m["fence"], m["info"].lower()
        prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        body: list[tuple[int, str]] = []
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            body.append((j + 1, lines[j]))
            j += 1
        if info in SHELL_INFO:
            found.append(Block(i + 1, info, bool(SKIP_MARK.match(prev)), _commands(body)))
        i = j + 1
    return found


def is_quick_start(cmd: Command) -> bool:
    code = split_comment(cmd.text)[0]
    try:
        words = shlex.split(code)
    except ValueError:
        return False
    if not words:
        return False
    if words[0] in QUICK_START_SCRIPTS:
        return True
    return words[0] == "make" and len(words) >= 2 and set(words[1:]) <= QUICK_START_MAKE


def runnable(markdown: str) -> list[Command]:
    return [c for b in blocks(markdown) if not b.skipped for c in b.commands
            if not is_quick_start(c)]  # fmt: skip


def rewrite(cmd: str, port: int, data_dir: Path) -> str:
    """The command as run here: this test's port and data dir, curl failing on HTTP errors."""
    d = shlex.quote(str(data_dir))
    out = re.sub(r"\b(?:localhost|127\.0\.0\.1):9095\b", f"127.0.0.1:{port}", cmd)
    out = re.sub(r"(?<![\w./-])\./data(?![\w.-])", d, out)
    if "--data-dir" not in out:
        out = re.sub(r"(\balert-receiver\s+(?:dlq|unack|ack))\b", rf"\1 --data-dir {d}", out)
    return re.sub(r"(?<![\w./-])curl(?=\s)", "curl -sS --fail-with-body", out)


class Service:
    """`alert-receiver serve --config config/dev.yml`, as ./scripts/run.sh runs it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.data_dir = workdir / "data"
        self.stdout = workdir / "serve.stdout"
        self.stderr = workdir / "serve.stderr"
        exe = ROOT / ".venv" / "bin" / "alert-receiver"
        assert exe.exists(), f"{exe} missing: run ./scripts/install.sh (the README uses it)"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [str(exe), "serve", "--config", "config/dev.yml",
                 "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)],
                cwd=ROOT, stdout=out, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not become ready: {self.log()}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(tmp_path_factory.mktemp("readme"))
    yield svc
    svc.stop()


@dataclass
class Seen:
    """What earlier commands did, for checking later ones."""

    firing: dict[str, dict[str, str]] = field(default_factory=dict)  # fingerprint → labels


def _posted_fixture(code: str) -> Path | None:
    m = re.search(r"--data(?:-binary|-raw)?\s+@(\S+)|\s-d\s*@(\S+)", code)
    if not m:
        return None
    return ROOT / shlex.split(m[1] or m[2])[0]


def _check(code: str, out: str, seen: Seen) -> str | None:
    """A problem with the output of a known command, or None."""
    if re.search(r"\bcurl\b", code) and re.search(r"/webhook\b", code):
        if '"status":"ok"' not in out.replace(" ", ""):
            return 'webhook answer lacks "status":"ok"'
        body = _posted_fixture(code)
        if body is not None:
            for a in json.loads(body.read_text())["alerts"]:
                if a["status"] == "firing":
                    seen.firing[a["fingerprint"]] = a["labels"]
        return None
    listing = re.search(r"/api/v1/alerts(?:\?([^'\"\s]*))?(?:['\"\s]|$)", code)
    if re.search(r"\bcurl\b", code) and listing:
        try:
            listed = json.loads(out)["alerts"]
        except (ValueError, KeyError, TypeError):
            return "not an alerts listing"
        return _missing(listed, parse_qsl(listing[1] or ""), seen)
    if "alert-receiver send-test" in code:
        ok = out.startswith("200 ") and '"status":"ok"' in out.replace(" ", "")
        return None if ok else "send-test did not get 200 {status: ok}"
    expected = {
        "alert-receiver check-config": "config OK",
        "alert-receiver routes test": "destinations:",
        "alert-receiver dlq list": "dead letter(s)",
        "alert-receiver dlq replay": "replayed",
        "alert-receiver dlq purge": "purged",
    }
    for prefix, want in expected.items():
        if re.search(r"\b" + re.escape(prefix).replace(r"\ ", r"\s+") + r"\b", code):
            if prefix == "alert-receiver dlq list" and "--json" in code:
                want = "["
            return None if want in out else f"output lacks {want!r}"
    return None


def _missing(listed: list[dict[str, Any]], query: list[tuple[str, str]], seen: Seen) -> str | None:
    """The firing alerts posted earlier that match the query but are not in the listing."""
    q = dict(query)
    if q.get("status", "firing") != "firing" or "limit" in q or "cursor" in q:
        return None  # resolved ones, or a page of the listing: nothing to expect for sure
    wanted = [(k, v) for k, v in query if k not in ("status", "severity", "label")]
    wanted += [
        (name, value) for k, v in query if k == "label" for name, _, value in [v.partition("=")]
    ]

    def matches(labels: dict[str, str]) -> bool:
        if "severity" in q and labels.get("severity", "").lower() != q["severity"].lower():
            return False
        return all(labels.get(k) == v for k, v in wanted)

    shown = {(a.get("fingerprint"), a.get("labels", {}).get("alertname")) for a in listed}
    missing = sorted(
        f"{labels.get('alertname')} ({fp})"
        for fp, labels in seen.firing.items()
        if matches(labels) and (fp, labels.get("alertname")) not in shown
    )
    return f"firing alerts posted earlier are not listed: {missing}" if missing else None


def test_readme_commands_run_as_written(service: Service) -> None:
    commands = runnable(README.read_text())
    assert any(re.search(r"\bcurl\b.*/webhook\b", c.text) for c in commands), (
        "no webhook curl found among the README's sh blocks: is the extraction broken?"
    )
    seen = Seen()
    problems = []
    for cmd in commands:
        code = rewrite(split_comment(cmd.text)[0], service.port, service.data_dir)
        try:
            res = subprocess.run(["bash", "-c", "set -o pipefail\n" + code], cwd=ROOT,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=60)  # fmt: skip
        except subprocess.TimeoutExpired:
            problems.append(f"README.md:{cmd.line}: {cmd.text}\n  ran: {code}\n  timed out")
            continue
        why = f"exit {res.returncode}" if res.returncode != 0 else _check(code, res.stdout, seen)
        if why:
            problems.append(
                f"README.md:{cmd.line}: {cmd.text}\n  ran: {code}\n  {why}\n"
                f"  stdout: {res.stdout[-1500:]!r}\n  stderr: {res.stderr[-1500:]!r}"
            )
    # dev.yml routes everything to the log notifier: one JSON line per notification on stdout.
    if seen.firing:

        def printed() -> bool:
            text = service.stdout.read_text(errors="replace")
            return all(fp in text for fp in seen.firing)

        try:
            wait_until(printed, timeout=15)
        except AssertionError:
            problems.append(
                f"alerts posted by the README ({sorted(seen.firing)}) were not printed by the "
                f"log notifier on serve's stdout; serve's log: {service.log()}"
            )
    assert not problems, "README commands that do not work as written:\n\n" + "\n\n".join(problems)


def test_quick_start_is_what_this_test_emulates() -> None:
    """The README's quick start is ./scripts/run.sh + ./scripts/test.sh; run.sh serves the dev
    config (what the test above starts) with its state in ./data."""
    quick = [c for b in blocks(README.read_text()) for c in b.commands if is_quick_start(c)]
    firsts = {shlex.split(split_comment(c.text)[0])[0] for c in quick}
    assert {"./scripts/run.sh", "./scripts/test.sh"} <= firsts
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    assert re.search(
        r"^exec \.venv/bin/alert-receiver serve --config config/dev\.yml --data-dir \./data\b",
        run_sh, re.MULTILINE,
    ), run_sh  # fmt: skip
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:\n\t\./scripts/run\.sh$", make, re.MULTILINE)
    assert re.search(r"^test:\n\t\./scripts/test\.sh$", make, re.MULTILINE)
    dev = (ROOT / "config" / "dev.yml").read_text()
    assert re.search(r"^listen: 127\.0\.0\.1:9095$", dev, re.MULTILINE)
    assert re.search(r"^auth: none$", dev, re.MULTILINE)


SAMPLE = """\
Intro.

```sh
./scripts/run.sh      # quick start
make test
curl -XPOST --data-binary @x.json \\
     -H 'Content-Type: application/json' localhost:9095/webhook
# a comment line

echo '# not a comment' # a comment
```

```yaml
key: value
```

<!-- readme-test: skip (placeholders) -->
```sh
alert-receiver dlq show <id> --config …
```

```bash
.venv/bin/alert-receiver dlq list --config config/dev.yml | head -1
```
"""


def test_extraction_is_generic() -> None:
    bs = blocks(SAMPLE)
    assert [(b.line, b.info, b.skipped) for b in bs] == [(3, "sh", False), (18, "sh", True),
                                                       (22, "bash", False)]  # fmt: skip
    assert [c.text for c in runnable(SAMPLE)] == [
        "curl -XPOST --data-binary @x.json -H 'Content-Type: application/json' "
        "localhost:9095/webhook",
        "echo '# not a comment' # a comment",
        ".venv/bin/alert-receiver dlq list --config config/dev.yml | head -1",
    ]
    assert runnable(SAMPLE)[0].line == 6


def test_rewrite() -> None:
    d = Path("/tmp/x y")
    assert rewrite("curl 'localhost:9095/api/v1/alerts'", 4242, d) == (
        "curl -sS --fail-with-body 'localhost:4242/api/v1/alerts'".replace("localhost", "127.0.0.1")
    )
    assert rewrite("a --url http://127.0.0.1:9095/webhook --data-dir ./data", 1, d) == (
        "a --url http://127.0.0.1:1/webhook --data-dir '/tmp/x y'"
    )
    assert rewrite(".venv/bin/alert-receiver dlq list --config c | head", 1, d) == (
        ".venv/bin/alert-receiver dlq --data-dir '/tmp/x y' list --config c | head"
    )
    assert rewrite("ls ./database ./data/x", 1, d) == "ls ./database '/tmp/x y'/x"
    assert split_comment("echo 'a # b' \"#c\" x#y # z") == ("echo 'a # b' \"#c\" x#y", "# z")

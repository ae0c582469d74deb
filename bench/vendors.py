"""Local vendors for the delivery bench, in a process of their own: PagerDuty, Slack, a
webhook endpoint and SMTP (the test servers of tests/servers, which validate requests like
the real APIs), plus a control endpoint that reports what arrived when.

    .venv/bin/python bench/vendors.py --ready-file FILE

Writes {"pagerduty", "slack_api", "webhook", "smtp_port", "chats", "control"} to FILE once
listening ("chats": the Teams, Discord, Mattermost and Telegram receivers' configs);
`GET <control>/arrivals[?since=k]` answers [[destination, alert id, time.monotonic()], ...]
(from the k-th arrival on)
(CLOCK_MONOTONIC is system-wide, so the bench compares it with its own send times). The
alert id is the `instance` label, or for Slack and email the alert fingerprint (the chat
stand-ins, Teams, Discord, Mattermost and Telegram, are told apart by the `instance` their
message shows, a message without one by its message id).
For the chaos bench (bench/chaos.py): `POST <control>/fault/pd` with {"status", "seconds",
"retry_after"} makes PagerDuty answer every request so for that long, and
`GET <control>/requests/pd` answers [[time.monotonic(), status], ...] of every request.
Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.discord import FakeDiscord  # noqa: E402
from tests.servers.mattermost import CHANNEL as MATTERMOST_CHANNEL  # noqa: E402
from tests.servers.mattermost import TOKEN as MATTERMOST_TOKEN  # noqa: E402
from tests.servers.mattermost import FakeMattermost  # noqa: E402
from tests.servers.pagerduty import FakePagerDuty  # noqa: E402
from tests.servers.slack import FakeSlack  # noqa: E402
from tests.servers.smtp import RecordingHandler, SMTPServer  # noqa: E402
from tests.servers.teams import FakeTeams  # noqa: E402
from tests.servers.telegram import CHAT as TELEGRAM_CHAT  # noqa: E402
from tests.servers.telegram import TOKEN as TELEGRAM_TOKEN  # noqa: E402
from tests.servers.telegram import FakeTelegram  # noqa: E402

# The bench's `instance` labels (bench/delivery.py labels()): how a chat message is traced
# back to its alert.
INSTANCE = re.compile(r"d[0-9]+x[0-9]+-[0-9]{7}")


def chats() -> dict[str, Any]:
    """The chat stand-ins, by the destination name the bench gives their receivers."""
    return {"teams": FakeTeams(), "discord": FakeDiscord(), "mattermost": FakeMattermost(),
            "telegram": FakeTelegram()}  # fmt: skip


def chat_content(name: str, server: Any, message_id: Any) -> str:
    """What the stand-in stored of one message (its `instance` is in there)."""
    if name == "teams":
        return json.dumps(server.cards[int(message_id) - 1].content, ensure_ascii=False)
    if name == "discord":
        return json.dumps(server.messages[str(message_id)].body, ensure_ascii=False)
    if name == "mattermost":
        post = server.posts[str(message_id)]
        return post.message + json.dumps(post.props, ensure_ascii=False)
    message = server.messages.get((TELEGRAM_CHAT, message_id))
    return message.text if message is not None else ""


class TimedHandler(RecordingHandler):
    """Keeps only (fingerprint, arrival time) of each mail: the bench sends thousands."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[str, float]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        fp = ""
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"x-alert-fingerprint:"):
                fp = line.split(b":", 1)[1].strip().decode()
                break
        self.arrivals.append((fp, time.monotonic()))
        return "250 2.0.0 Ok: queued"


async def serve(ready: Path) -> None:
    pd, slack, chat = FakePagerDuty(), FakeSlack(), chats()
    await pd.start()
    await slack.start()
    for server in chat.values():
        await server.start()
    hooks: list[tuple[str, float]] = []

    async def hook(request: web.Request) -> web.Response:
        doc = await request.json()
        hooks.append((str(doc["alert"]["labels"].get("instance", "")), time.monotonic()))
        return web.json_response({"ok": True})

    smtp = SMTPServer()
    smtp.handler = TimedHandler()
    smtp.start()

    # Every arrival, in the order polls found them; `?since=k` answers the entries from k
    # on, so a poll costs what arrived since the last one (the bench polls 4x a second).
    log: list[tuple[str, str, float]] = []
    seen = {"pd": 0, "chat": 0, "hook": 0, "mail": 0, **dict.fromkeys(chat, 0)}

    def answered(requests: list[Any], source: str) -> list[Any]:
        """The requests from the cursor on that have their answer (status) already; a
        request still being answered waits for the next poll."""
        start = end = seen[source]
        while end < len(requests) and requests[end].status:
            end += 1
        seen[source] = end
        return requests[start:end]

    def collect() -> None:
        for r in answered(pd.requests, "pd"):
            if r.status == 202:
                ev = json.loads(r.body)
                log.append(("pd", str(ev["payload"]["custom_details"].get("instance")), r.at))
        for r in answered(slack.requests, "chat"):
            if r.path.endswith("chat.postMessage") and r.status == 200 and not r.error:
                meta = r.body.get("metadata") or {}
                log.append(("chat", str(meta.get("event_payload", {}).get("fingerprint")), r.at))
        log.extend(("hook", i, t) for i, t in hooks[seen["hook"] :])
        seen["hook"] = len(hooks)
        for name, server in chat.items():
            end = len(server.arrivals)
            for mid, t in server.arrivals[seen[name] : end]:
                found = INSTANCE.search(chat_content(name, server, mid))
                log.append((name, found.group(0) if found else f"message {mid}", t))
            seen[name] = end
        assert isinstance(smtp.handler, TimedHandler)
        mail = smtp.handler.arrivals
        # The SMTP server runs in a thread of its own and appends meanwhile: take the count
        # first, so a mail appended between the slice and the count is not skipped.
        end = len(mail)
        log.extend(("mail", fp, t) for fp, t in mail[seen["mail"] : end])
        seen["mail"] = end

    async def arrivals(request: web.Request) -> web.Response:
        collect()
        return web.json_response(log[int(request.query.get("since", "0")) :])

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def pd_fault(request: web.Request) -> web.Response:
        doc = await request.json()
        pd.answer_for(float(doc["seconds"]), int(doc["status"]), doc.get("retry_after"))
        return web.json_response({"ok": True})

    async def pd_requests(request: web.Request) -> web.Response:
        return web.json_response([[r.at, r.status] for r in pd.requests])

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/hook", hook)
    app.router.add_get("/arrivals", arrivals)
    app.router.add_post("/ping", ping)  # the ceiling's trivial endpoint (bench/delivery.py)
    app.router.add_post("/fault/pd", pd_fault)
    app.router.add_get("/requests/pd", pd_requests)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    info = {
        "pagerduty": pd.base_url,
        "slack_api": slack.api_url,
        "webhook": base + "/hook",
        "smtp_port": smtp.port,
        # The chat receivers' configs, by destination name (tokens the stand-ins accept).
        "chats": {
            "teams": {"type": "teams", "webhook_url": chat["teams"].webhook_url()},
            "discord": {"type": "discord", "webhook_url": chat["discord"].webhook_url()},
            "mattermost": {
                "type": "mattermost",
                "url": chat["mattermost"].base_url,
                "token": MATTERMOST_TOKEN,
                "channel_id": MATTERMOST_CHANNEL,
            },
            "telegram": {
                "type": "telegram",
                "api_url": chat["telegram"].base_url,
                "token": TELEGRAM_TOKEN,
                "chat_id": TELEGRAM_CHAT,
                "ack_button": False,
            },
        },
        "control": base,
    }
    await asyncio.to_thread(ready.write_text, json.dumps(info))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await runner.cleanup()
    await pd.stop()
    await slack.stop()
    for server in chat.values():
        await server.stop()
    smtp.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ready-file", type=Path, required=True)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(serve(args.ready_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())

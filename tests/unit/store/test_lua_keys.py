"""Every Redis key name has one spelling: `TEMPLATES` in receiver/store/keys.py.

The Lua scripts get key names only from the prelude generated from it (`lua_prelude()`);
these tests fail when a script spells a key itself or calls a key function `Keys` does not
define, and when the prelude and the `Keys` methods disagree (checked in a real Redis).

Likewise the vocabularies (statuses, severities, delivery verdicts, record markers: defined
in receiver/models.py, generated into `vocabulary_prelude()`): a script that spells one of
their words as a string literal fails `test_script_spells_no_vocabulary`.
"""

from __future__ import annotations

import re
import string
from importlib import resources
from typing import Any

import pytest
import redis.asyncio as aioredis

from receiver.models import RECORD_ACK, RECORD_VERSION, SEVERITIES, STATUSES, Verdict
from receiver.store import scripts
from receiver.store.keys import (
    LUA_LISTS,
    LUA_TAG,
    LUA_VOCABULARY,
    TEMPLATES,
    Keys,
    lua_prelude,
    vocabulary_prelude,
)

LUA_FILES = sorted(
    f.name for f in resources.files("receiver.store").joinpath("lua").iterdir()
    if f.name.endswith(".lua")
)  # fmt: skip

# Literals that look like key parts but are not Redis keys: (file, literal) → what it is.
NOT_KEYS = {("storm.lua", "storm:"): "Notification.key of a storm summary"}
# Vocabulary words a script may spell because they mean something else there.
NOT_VOCABULARY = {
    ("ack.lua", "ack"): "the operation (ack | unack) and the state record's `ack` field",
    ("escalation_apply.lua", "ack"): "the state record's `ack` field",
    ("escalation_claim.lua", "ack"): "the state record's `ack` field",
    ("people_apply.lua", "ack"): "the state record's `ack` field",
    ("people_claim.lua", "ack"): "the state record's `ack` field",
}

_LONG_OPEN = re.compile(r"\[(=*)\[")


def lex(text: str) -> tuple[str, list[str]]:
    """Lua source → (code with comments and strings blanked, string literals' contents)."""
    code: list[str] = []
    literals: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            long = _LONG_OPEN.match(text, i + 2)
            if long:
                end = text.index("]" + long.group(1) + "]", long.end())
                i = end + len(long.group(0))
            else:
                end = text.find("\n", i)
                i = n if end < 0 else end
            code.append(" ")
        elif c in "'\"":
            j, buf = i + 1, []
            while text[j] != c:
                if text[j] == "\\":
                    buf.append(text[j + 1])
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            literals.append("".join(buf))
            code.append(" '' ")
            i = j + 1
        elif (long := _LONG_OPEN.match(text, i)) is not None:
            end = text.index("]" + long.group(1) + "]", long.end())
            literals.append(text[long.end() : end])
            code.append(" '' ")
            i = end + len(long.group(0))
        else:
            code.append(c)
            i += 1
    return "".join(code), literals


def params(template: str) -> list[str]:
    return [f for _lit, f, _s, _c in string.Formatter().parse(template) if f is not None]


def segments() -> set[str]:
    """The words keys are made of: alert, hist, idx, storm, due, outbox, …"""
    words: set[str] = set()
    for template in TEMPLATES.values():
        for literal, _f, _s, _c in string.Formatter().parse(template):
            words |= {w for w in literal.split(":") if w}
    return words


def looks_like_key(literal: str, words: set[str]) -> bool:
    if literal.startswith(":") and len(literal) > 1:  # ':alert:', ':outbox', …
        return True
    return ":" in literal and any(part in words for part in literal.split(":"))


def test_lexer_sees_literals_not_comments() -> None:
    code, lits = lex("-- ':x' \n--[==[ ':y' ]==]\nlocal a = 'p\\'q' .. \"r\" .. [[s]] -- 'z'\n")
    assert lits == ["p'q", "r", "s"]
    assert ":x" not in code and ":y" not in code and "local a" in code


@pytest.mark.parametrize("name", LUA_FILES)
def test_script_spells_no_key(name: str) -> None:
    code, literals = lex(scripts.body(name))
    words = segments()
    found = [s for s in literals if looks_like_key(s, words) and (name, s) not in NOT_KEYS]
    assert not found, f"{name} spells key names {found}: add them to TEMPLATES in keys.py"
    # The tag is the prelude's: a body that cannot reach it cannot build a key of its own.
    assert not re.search(rf"\b{LUA_TAG}\b", code)
    if name in scripts.KEYED:
        assert "ARGV[1]" not in code.replace(" ", ""), "ARGV[1] is the tag, the prelude's"


@pytest.mark.parametrize("name", LUA_FILES)
def test_script_calls_only_defined_keys(name: str) -> None:
    code, _ = lex(scripts.body(name))
    used = set(re.findall(r"\bk_(\w+)\s*\(", code))
    libraries = {lib for libs in scripts.LIBRARIES.values() for lib in libs}
    defined = set(TEMPLATES) if name in scripts.KEYED | libraries else set()
    assert used <= defined, f"{name} calls k_{sorted(used - defined)}, not defined by Keys"


def spelled_vocabulary(name: str, text: str) -> list[str]:
    """The vocabulary words `text` (the script `name`) spells as string literals, outside
    comments: a literal that is one, or that holds one as a JSON string (`'"status":"firing"'`)."""
    words = set(LUA_VOCABULARY.values())
    _code, literals = lex(text)
    found = []
    for literal in literals:
        for word in {literal, *re.findall(r'"([^"]*)"', literal)} & words:
            if (name, word) not in NOT_VOCABULARY:
                found.append(word)
    return found


@pytest.mark.parametrize("name", LUA_FILES)
def test_script_spells_no_vocabulary(name: str) -> None:
    found = spelled_vocabulary(name, scripts.body(name))
    assert not found, f"{name} spells {found}: use the prelude's names (keys.LUA_VOCABULARY)"


def test_vocabulary_check_fails_on_a_spelled_literal() -> None:
    injected = (
        "-- 'firing' in a comment is fine\n"
        "if a.status == 'firing' and sev == \"critical\" then return 'done' end\n"
        "local rec = '{\"status\":\"resolved\"}'; local ok = S_FIRING .. 'firings'\n"
    )
    assert sorted(spelled_vocabulary("x.lua", injected)) == [
        "critical", "done", "firing", "resolved"
    ]  # fmt: skip
    assert spelled_vocabulary("x.lua", "local s = 'ack'") == ["ack"]
    assert spelled_vocabulary("ack.lua", "local s = 'ack'") == []  # NOT_VOCABULARY


def test_vocabulary_is_the_models() -> None:
    values = set(LUA_VOCABULARY.values())
    assert {*STATUSES, *SEVERITIES, *Verdict, RECORD_VERSION, RECORD_ACK} == values
    assert len(values) == len(LUA_VOCABULARY), "two Lua names for one word"


async def test_vocabulary_prelude_agrees_with_models(redis: aioredis.Redis) -> None:
    names = list(LUA_VOCABULARY)
    got = await redis.eval(f"{vocabulary_prelude()} return {{{', '.join(names)}}}", 0)
    assert dict(zip(names, got, strict=True)) == dict(LUA_VOCABULARY)
    for name, want in (("STATUSES", STATUSES), ("SEVERITIES", SEVERITIES)):
        assert len(LUA_LISTS[name]) == len(want)
        assert tuple(await redis.eval(f"{vocabulary_prelude()} return {name}", 0)) == want


def test_every_key_is_a_keys_member() -> None:
    members = {m for m in dir(Keys) if not m.startswith("_")} - {"prefix", "tag"}
    assert members == set(TEMPLATES)


def test_prelude_keeps_line_numbers() -> None:
    for name in scripts.REGISTRY:
        sent, body = scripts.source(name), scripts.body(name)
        assert sent.count("\n") == body.count("\n") and sent.endswith(body)
        assert vocabulary_prelude() in sent
        assert sent.startswith(lua_prelude()) == (name in scripts.KEYED)


SAMPLES: dict[str, Any] = {
    "fp": "0f3e9a1c2b",
    "destination": "team-slack",
    "route": "team:api|pay ments",
    "window_start_ms": 1_700_000_040_000,
    "window_ms": 1_700_000_060_000,
    "name": "daily",
    "status": "firing",
    "severity": "critical",
    "service": "api.v2",
    "signature": "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    "person": "alice.b-2",
    "token": "Zm9vYmFy-_x",
    "occurrence": "rt-0123456789ab|1796000000000",  # a maintenance window's occurrence
    "phase": "end",
    "callback_id": "4382bfdwdsb323b2d9",  # a Telegram callback_query id
    "bot": "123456789",  # a Telegram bot's numeric id
    "phone": "+4915112345678",  # E.164 (receiver/notifiers/sms)
    "code": "4821",  # a reply code
    "provider": "twilio",  # a phone provider receiver's name
    "message": "in:SM0123456789abcdef",  # a provider's message id
}


def _python(keys: Keys, name: str) -> str:
    value = getattr(keys, name)
    if not params(TEMPLATES[name]):
        assert isinstance(value, str)  # a property
        return value
    result: str = value(**{p: SAMPLES[p] for p in params(TEMPLATES[name])})
    return result


def _lua_call(name: str, numeric: bool) -> tuple[str, list[str]]:
    args, argv = [], []
    for p in params(TEMPLATES[name]):
        argv.append(str(SAMPLES[p]))
        ref = f"ARGV[{len(argv) + 1}]"  # ARGV[1] is the tag
        # intake.lua passes window starts as Lua numbers, storm.lua as strings.
        args.append(f"tonumber({ref})" if numeric and isinstance(SAMPLES[p], int) else ref)
    return f"k_{name}({', '.join(args)})", argv


@pytest.mark.parametrize("prefix", ["ar", "team-a", "x:y"])
@pytest.mark.parametrize("numeric", [True, False])
async def test_prelude_agrees_with_keys(redis: aioredis.Redis, prefix: str, numeric: bool) -> None:
    keys = Keys(prefix)
    for name in TEMPLATES:
        call, argv = _lua_call(name, numeric)
        got = await redis.eval(f"{lua_prelude()} return {call}", 0, keys.tag, *argv)
        assert got == _python(keys, name), name

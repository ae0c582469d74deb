"""Where an import reads the vendor's JSON: the live API (paged, 429s honoured, bounded
retries) or a directory of saved responses, one file per API path (`v2/users.json`,
`api/v1/schedules/SBM7DV7BKFUYU/final_shifts.json`: the path without its query, `.json`
added, holding the whole list or the first page of it).

Every failure is a SourceError whose `kind` (auth, rate_limited, http, network, bad_json,
missing, shape) is what the CLI prints and doubles as a label.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin

import aiohttp
from pydantic import BaseModel, ValidationError

# Bounded: a 429 storm ends in SourceError("rate_limited"), not an endless wait.
MAX_RETRIES = 6
MAX_WAIT_S = 60.0
MAX_PAGES = 1000
TIMEOUT_S = 30.0
M = TypeVar("M", bound=BaseModel)


class SourceError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class Source(Protocol):
    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The JSON at `path` (one response, not followed to other pages)."""

    async def pages(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        """Every page's JSON of a paged list, in order."""


class DirSource:
    """Saved responses under `root`: `path` + ".json" (one page; queries are ignored)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        f = self.root / (path.strip("/") + ".json")
        try:
            text = f.read_text()
        except FileNotFoundError:
            raise SourceError(
                "missing", f"{f}: no such file (a saved response of {path})"
            ) from None
        except OSError as e:
            raise SourceError("missing", f"{f}: {e.strerror}") from None
        return _json(text, str(f))

    async def pages(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        return [await self.get(path, params)]


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SourceError("bad_json", f"{where}: not valid JSON ({e.msg} at line {e.lineno} "
                          f"column {e.colno}; truncated?)") from None  # fmt: skip


Sleep = Callable[[float], Awaitable[None]]


class ApiSource:
    """The live API at `base_url` with `headers` (the vendor's auth); `next_url(page)` says
    where a page points to the next one (None: last page)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        headers: dict[str, str],
        next_url: Callable[[Any], str | None],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.session, self.base = session, base_url.rstrip("/") + "/"
        self.headers, self.next_url, self.sleep = headers, next_url, sleep

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return await self._fetch(urljoin(self.base, path.lstrip("/")), params)

    async def pages(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        out = [await self.get(path, params)]
        for _ in range(MAX_PAGES):
            nxt = self.next_url(out[-1])
            if not nxt:
                return out
            out.append(await self._fetch(urljoin(self.base, nxt), None))
        raise SourceError("http", f"{path}: more than {MAX_PAGES} pages")

    async def _fetch(self, url: str, params: Mapping[str, str] | None) -> Any:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        for attempt in range(MAX_RETRIES + 1):
            try:
                async with self.session.get(url, params=params, headers=self.headers,
                                            timeout=timeout) as resp:  # fmt: skip
                    text = await resp.text()
                    if resp.status == 429 and attempt < MAX_RETRIES:
                        await self.sleep(retry_after(resp.headers, attempt))
                        continue
                    _check_status(resp.status, url, text)
                    return _json(text, url)
            except (aiohttp.ClientError, TimeoutError) as e:
                raise SourceError("network", f"{url}: {e.__class__.__name__}: {e}") from None
        raise AssertionError("unreachable")  # pragma: no cover


def _check_status(status: int, url: str, text: str) -> None:
    if status in (401, 403):
        raise SourceError("auth", f"{url}: {status}: the token was refused (check "
                          "--token-file and the key's permissions)")  # fmt: skip
    if status == 429:
        raise SourceError("rate_limited", f"{url}: still 429 after {MAX_RETRIES} retries")
    if status >= 300:
        raise SourceError("http", f"{url}: HTTP {status}: {text[:200]}")


def retry_after(headers: Mapping[str, str], attempt: int) -> float:
    """How long to wait after a 429: Retry-After (seconds), else X-RateLimit-Period-In-Sec
    (Opsgenie), else exponential from 1 s; at most MAX_WAIT_S."""
    for h in ("Retry-After", "X-RateLimit-Period-In-Sec"):
        try:
            return min(max(float(headers[h]), 0.0), MAX_WAIT_S)
        except (KeyError, ValueError):
            continue
    return float(min(2**attempt, MAX_WAIT_S))


def parse(model: type[M], data: Any, where: str, allow_unknown: bool,
          unknown: list[str]) -> M:  # fmt: skip
    """`data` as `model`; unknown keys raise SourceError("shape") unless `allow_unknown`,
    when they are dropped and listed in `unknown` (for the report)."""
    for _ in range(100):
        try:
            return model.model_validate(data)
        except ValidationError as e:
            extra = [err["loc"] for err in e.errors() if err["type"] == "extra_forbidden"]
            other = [err for err in e.errors() if err["type"] != "extra_forbidden"]
            if other or not allow_unknown:
                shown = [f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}"
                         for err in e.errors()[:10]]  # fmt: skip
                hint = " (--allow-unknown-fields to import anyway)" if not other else ""
                raise SourceError("shape", f"{where}: unexpected response{hint}: "
                                  + "; ".join(shown)) from None  # fmt: skip
            for loc in extra:
                unknown.append(f"{where}: {'.'.join(map(str, loc))}")
                _drop(data, loc)
    raise SourceError("shape", f"{where}: too many unknown fields")


def _drop(data: Any, loc: tuple[Any, ...]) -> None:
    for k in loc[:-1]:
        data = data[k]
    if isinstance(data, dict):
        data.pop(loc[-1], None)

"""JSON error answers: every error the API gives has `error` (a code) and `detail`.

`json_errors` (a middleware) gives aiohttp's own refusals the same shape: the 404 of an
unknown path, the 405 of a wrong method (its `Allow` header kept), a 413 raised while
reading a body. A part of the service whose clients are browsers (the console) may answer
those with a page of its own instead, through `ERROR_PAGES`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

# Headers of aiohttp's exception that describe its plain-text body, not the refusal.
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})
MAX_DETAIL_PATH = 200  # the path quoted in `detail`, cut there (it comes from the client)

# (request, status, reason) → a page for that refusal, or None for the JSON answer.
ErrorPage = Callable[[web.Request, int, str], web.StreamResponse | None]
ERROR_PAGES: web.AppKey[ErrorPage] = web.AppKey("error_pages")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="alert-receiver"'} if status == 401 else None
    return web.json_response(
        {"error": code, "detail": detail, **extra}, status=status, headers=headers
    )


def code_of(reason: str) -> str:
    """The error code of an HTTP reason phrase: "Method Not Allowed" → method_not_allowed
    (also the `code` a metric would be labelled with: a fixed set, one per status)."""
    return "_".join(reason.lower().replace("-", " ").split()) or "error"


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's HTTP errors (routing's 404 and 405, a 413 while reading, a handler's
    `raise web.HTTPNotFound()`) as `{"error", "detail"}`, or the page ERROR_PAGES gives."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # a redirect raised on purpose: not an error
            raise
        page = request.app.get(ERROR_PAGES)
        resp = page(request, exc.status, exc.reason) if page is not None else None
        if resp is None:
            path = request.path[:MAX_DETAIL_PATH]
            detail = f"{exc.reason}: {request.method} {path}"
            if isinstance(exc, web.HTTPMethodNotAllowed):
                detail += f" (allowed: {', '.join(sorted(exc.allowed_methods))})"
            resp = error(exc.status, code_of(exc.reason), detail)
        for name, value in exc.headers.items():
            if name.lower() not in _BODY_HEADERS:
                resp.headers.setdefault(name, value)
        return resp

"""JSON error answers: every error the API gives has `error` (a code) and `detail`."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def error(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="alert-receiver"'} if status == 401 else None
    return web.json_response(
        {"error": code, "detail": detail, **extra}, status=status, headers=headers
    )

"""The local Telegram Bot API for the Telegram tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.servers.telegram import FakeTelegram


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()

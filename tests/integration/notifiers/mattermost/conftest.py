"""The local Mattermost server for this folder's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.servers.mattermost import FakeMattermost


@pytest.fixture
async def mattermost() -> AsyncIterator[FakeMattermost]:
    server = FakeMattermost()
    await server.start()
    yield server
    await server.stop()

"""Large webhook bodies without stalling the others: decoded in slices, heap handed back.

A body near the size limit holds tens of thousands of alerts. Decoding it in one call
(hundreds of milliseconds on a busy 2-core VM) would hold the event loop that long: every
other webhook and `/health/ready` would wait. Here the body is split at its top level and
between its alerts (msgspec.Raw: a scan, no objects built), and each slice of alerts is
decoded, with the body's other fields, by the same `decode_payload` as a small body,
giving the event loop back between slices. The intake then applies the alerts in chunks
(`receiver/pipeline/intake.py`).

After such a body, `HeapTrim` asks glibc to give freed memory back once the body's objects
are gone (measured: 3-5 MiB; most of what RSS keeps is Python's small-object arenas, see
bench/README.md, "Large bodies").
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from receiver.models import fingerprint
from receiver.payload import Alert, Payload, PayloadError, decode_payload

# Bodies at least this large are decoded in slices; below it one decode is ~1 ms.
LARGE_BODY_BYTES = 256 * 1024
# Alerts decoded (or collected by the intake) between two turns of the event loop. Most
# of a new alert's decoding is checking its fingerprint (~50 µs on the 2-core dev VM), so
# a slice is ~5 ms of work there. A small webhook needs a few turns of the loop, each of
# which may wait for one slice.
SLICE_ALERTS = 100

_top_level = msgspec.json.Decoder(dict[str, msgspec.Raw])
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])


async def pause() -> None:
    """Let the event loop serve others (sockets, timers) before going on."""
    await asyncio.sleep(0)


@dataclass
class LargeBody:
    """A large body, checked whole, that the intake decodes again slice by slice as it
    applies it: only a slice's objects are alive at a time (50,000 decoded alerts at once
    were ~65 MiB of heap that Python's allocator then kept)."""

    first: Payload  # the body's other fields (and its first slice of alerts)
    envelope: bytes  # the body up to its alerts array
    raws: list[msgspec.Raw]  # the alerts, undecoded
    last: dict[str, int]  # fingerprint → index of its last occurrence (the last one wins)
    slice_alerts: int = SLICE_ALERTS

    @property
    def groupKey(self) -> str:
        return self.first.groupKey

    @property
    def count(self) -> int:
        return len(self.raws)

    async def parts(self) -> AsyncIterator[tuple[int, Payload]]:
        """(index of its first alert, a slice decoded again), a turn of the loop between."""
        for start in range(0, len(self.raws), self.slice_alerts):
            piece = b",".join(self.raws[start : start + self.slice_alerts])
            yield start, decode_payload(self.envelope + piece + b"]}", remember=False)
            await pause()

    async def whole(self) -> Payload:
        """Every alert decoded at once: what decode_payload(body) reads (for tests)."""
        alerts = [a async for _, part in self.parts() for a in part.alerts]
        return msgspec.structs.replace(self.first, alerts=alerts)


def alert_fingerprint(a: Alert) -> str:
    return a.fingerprint or fingerprint(a.labels)


async def decode_body(body: bytes, slice_alerts: int = SLICE_ALERTS) -> Payload | LargeBody:
    """`decode_payload(body)`, giving the event loop back between slices of a large body.

    A large body is checked whole here, slice by slice, each by decode_payload (the same
    rules as a small body); a body with a slice it refuses is decoded whole again, so that
    the error names the field as in the whole body (`alerts.4321.labels`). What comes back
    for it is a LargeBody: nothing of its alerts is kept but where each fingerprint last
    occurs, and the intake decodes it again as it goes.
    """
    if len(body) < LARGE_BODY_BYTES:
        return decode_payload(body)
    await pause()  # reading the body (its last copy) ran in this turn
    parts = await _split(body)
    if parts is None:
        return decode_payload(body)
    envelope, raws = parts
    last: dict[str, int] = {}
    first: Payload | None = None
    for start in range(0, len(raws), slice_alerts):
        piece = b",".join(raws[start : start + slice_alerts])
        try:
            part = decode_payload(envelope + piece + b"]}", remember=False)
        except PayloadError:
            return decode_payload(body)
        for i, a in enumerate(part.alerts, start):
            last[alert_fingerprint(a)] = i
        first = first or part
        del piece, part
        await pause()
    if first is None:  # no alerts at all: nothing to slice
        return decode_payload(body)
    return LargeBody(first, envelope, raws, last, slice_alerts)


async def _split(body: bytes) -> tuple[bytes, list[msgspec.Raw]] | None:
    """The body without its alerts, as the start of an object ending in `"alerts":[`,
    and its alerts undecoded; None when the body is not an object with an alerts array.
    Two scans of the body (~20 ms each for 10 MB), with a turn of the loop after each."""
    try:
        top = _top_level.decode(body)
        alerts = top.pop("alerts", None)
        if alerts is None:
            return None
        await pause()
        raws = _raw_list.decode(alerts)
        await pause()
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    fields = b"".join(orjson.dumps(k) + b":" + bytes(v) + b"," for k, v in top.items())
    return b"{" + fields + b'"alerts":[', raws


def _malloc_trim() -> Callable[[int], Any] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        fn: Callable[[int], Any] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return fn


class HeapTrim:
    """Hands freed heap memory back to the system after a large body.

    `soon()` is called when a large body has been applied; the trim runs `delay` seconds
    later, when the request (which still holds the body and its alerts) is answered and
    gone. Several large bodies in a row share one trim.
    """

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self._trim = _malloc_trim()
        self._handle: asyncio.TimerHandle | None = None

    def soon(self) -> None:
        if self._trim is None:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = asyncio.get_running_loop().call_later(self.delay, self._run)

    def _run(self) -> None:
        self._handle = None
        if self._trim is not None:
            self._trim(0)

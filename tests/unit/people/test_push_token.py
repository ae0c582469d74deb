"""Push Acknowledge tokens: bound to person and episode, expiring, domain-separated."""

from __future__ import annotations

from receiver.ack import links
from receiver.ack.links import LinkError, LinkErrorKind
from receiver.ack.push import PushClaim, sign, verify

S = "push-link-secret-0123456789abcdef"


def test_round_trip_and_refusals() -> None:
    t = sign("fp1", "2026-01-01T00:00:00Z", "alice", 2000, S)
    c = verify(t, [S], 1000)
    assert isinstance(c, PushClaim) and (c.fingerprint, c.person) == ("fp1", "alice")
    assert verify(t, ["other-secret-0123456789abcdef0000", S], 1000) == c  # rotation
    expired = verify(t, [S], 2000)
    assert isinstance(expired, LinkError) and expired.kind is LinkErrorKind.EXPIRED
    forged = verify(t, ["other-secret-0123456789abcdef0000"], 1000)
    assert isinstance(forged, LinkError) and forged.kind is LinkErrorKind.TAMPERED
    # An email ack link signed with the same secret is no push token, nor the reverse.
    link = links.sign("fp1", "2026-01-01T00:00:00Z", 2000, S)
    assert isinstance(verify(link, [S], 1000), LinkError)
    body, mac = t.split(".")[1:]
    assert isinstance(links.verify(f"v1.{body}.{mac}", [S], 1000), LinkError)

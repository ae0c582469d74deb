"""Console sessions: a signed cookie and the CSRF token derived from it (pure).

The cookie names who logged in (the API token's name, or the proxy's user), how
(`token` | `proxy`), when it expires, a random session id, and for a token login the
token's binding: a short HMAC of the token's value under the session secret. It is
HMAC-SHA256-signed with `console.session_secret`. It holds no scopes: those are looked up
on every request from the running config, so a token removed or narrowed by a reload takes
effect at once, and the binding is compared with the current value of the token of that
name, so a rotated value (or a token re-added under the same name with a new value) ends
its sessions at once. The session id is what logout revokes in Redis (web/store.py).
The CSRF token of a session is an HMAC of its id under a separate context: only the
server can make it, and it changes with every login.

Cookie: "s2." + base64url(JSON [name, how, expires_s, sid, bind]) + "." + base64url(MAC).
(s1 cookies, without the binding, no longer verify: their holders log in again.)
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

from receiver.signing import b64, mac, unb64

VERSION = "s2"
COOKIE = "ar_console"
_SESSION_CONTEXT = b"alert-receiver console session v1\n"
_CSRF_CONTEXT = b"alert-receiver console csrf v1\n"
_BIND_CONTEXT = b"alert-receiver console token binding v1\n"
BIND_BYTES = 12  # 96 bits: guessing one is no easier than guessing the session's MAC
MAX_COOKIE = 1024  # longer is not ours: refused before any decoding
MAX_NAME = 64  # API token names are at most 64 characters; proxy users are cut there
HOWS = ("token", "proxy")
_HEX = frozenset("0123456789abcdef")  # a sid is also part of a Redis key: hex only


@dataclass(frozen=True)
class Session:
    name: str  # the token's name, or the proxy's user
    how: str  # token | proxy
    expires_s: int
    sid: str
    bind: str = ""  # token_binding() of the token's value at login; "" for a proxy user


def new_session(name: str, how: str, now: float, ttl_s: float, bind: str = "") -> Session:
    return Session(name, how, int(now + ttl_s), secrets.token_hex(16), bind)


def token_binding(secret: str, token_value: bytes) -> str:
    """What a token login's session carries of the token's value: an HMAC under the
    session secret (the value itself never leaves the server), cut to BIND_BYTES."""
    digest = hmac.new(secret.encode(), _BIND_CONTEXT + token_value, hashlib.sha256).digest()
    return b64(digest[:BIND_BYTES])


def bound_to(session: Session, secret: str, token_value: bytes) -> bool:
    """Whether `session` was opened with this value of its token."""
    expected = token_binding(secret, token_value)
    return hmac.compare_digest(expected.encode(), session.bind.encode())


def sign(session: Session, secret: str) -> str:
    fields = [session.name, session.how, session.expires_s, session.sid, session.bind]
    body = b64(orjson.dumps(fields))
    return f"{VERSION}.{body}.{b64(mac(secret, _SESSION_CONTEXT, body))}"


def verify(cookie: str, secret: str, now: float) -> Session | None:
    """The session in `cookie` when the secret signed it and it has not expired."""
    parts = cookie.split(".") if len(cookie) <= MAX_COOKIE else []
    if len(parts) != 3 or parts[0] != VERSION or not parts[1].isascii():
        return None
    _, body, mac_text = parts
    try:
        given = unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac(secret, _SESSION_CONTEXT, body), given):
        return None
    try:
        fields = orjson.loads(unb64(body))
    except (binascii.Error, ValueError):
        return None
    if not _well_formed(fields):
        return None
    name, how, expires_s, sid, bind = fields
    if now >= expires_s:
        return None
    return Session(name, how, expires_s, sid, bind)


def _well_formed(fields: object) -> bool:
    if not isinstance(fields, list) or len(fields) != 5:
        return False
    name, how, expires_s, sid, bind = fields
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME
        and how in HOWS
        and type(expires_s) is int
        and isinstance(sid, str)
        and len(sid) == 32
        and all(c in _HEX for c in sid)
        and isinstance(bind, str)
        and len(bind) <= 2 * BIND_BYTES
    )


def csrf_token(session: Session, secret: str) -> str:
    """The token every form of this session carries."""
    return b64(mac(secret, _CSRF_CONTEXT, session.sid))


def csrf_ok(session: Session, secret: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(session, secret).encode(), given.encode("utf-8"))


def safe_next(target: str | None, default: str) -> str:
    """Where to go after login: only a path on this site ("/console/…"), never another
    origin ("//evil", "https://…", "/\\evil") or a scheme."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\\\r\n\t") or any(ord(c) < 32 for c in target):
        return default
    return target

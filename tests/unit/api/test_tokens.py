"""authorize(): who may use which scope, as a table."""

from __future__ import annotations

import pytest

from receiver.api.tokens import (
    Access,
    ApiToken,
    Decision,
    Scope,
    authorize,
    authorize_url_token,
    token_problems,
)

READER = "reader-token-0123456789"
ACKER = "acker-token-0123456789"
ADMIN = "admin-token-0123456789"
HOOK = "webhook-token-0123456789"


def access(anonymous_read: bool = False) -> Access:
    tokens = [
        ApiToken(name="grafana", token=READER, scopes=[Scope.READ]),
        ApiToken(name="slackbot", token=ACKER, scopes=[Scope.ACK]),
        ApiToken(name="ops", token=ADMIN, scopes=[Scope.ADMIN]),
    ]
    return Access.build(tokens, anonymous_read, [HOOK.encode()])


def bearer(token: str) -> list[str]:
    return [f"Bearer {token}"]


# (case, header values, scope, anonymous_read, status, principal, code)
TABLE = [
    ("no header", [], Scope.READ, False, 401, "", "unauthorized"),
    ("no header, anonymous read", [], Scope.READ, True, 200, "anonymous", ""),
    ("no header, anonymous is read only", [], Scope.ACK, True, 401, "", "unauthorized"),
    ("read token reads", bearer(READER), Scope.READ, False, 200, "grafana", ""),
    ("read token cannot ack", bearer(READER), Scope.ACK, False, 403, "grafana", "forbidden"),
    ("read token not admin", bearer(READER), Scope.ADMIN, False, 403, "grafana", "forbidden"),
    ("ack implies read", bearer(ACKER), Scope.READ, False, 200, "slackbot", ""),
    ("ack token acks", bearer(ACKER), Scope.ACK, False, 200, "slackbot", ""),
    ("ack token not admin", bearer(ACKER), Scope.ADMIN, False, 403, "slackbot", "forbidden"),
    ("admin implies all", bearer(ADMIN), Scope.READ, False, 200, "ops", ""),
    ("admin", bearer(ADMIN), Scope.ADMIN, False, 200, "ops", ""),
    ("webhook token", bearer(HOOK), Scope.READ, False, 403, "", "forbidden"),
    ("webhook token, anonymous read", bearer(HOOK), Scope.READ, True, 403, "", "forbidden"),
    ("unknown token", bearer("nope-0123456789abcdef"), Scope.READ, False, 401, "",
     "unauthorized"),
    ("unknown token, anonymous read", bearer("nope"), Scope.READ, True, 401, "", "unauthorized"),
    ("token prefix", bearer(ADMIN[:-1]), Scope.READ, False, 401, "", "unauthorized"),
    ("lower-case scheme", [f"bearer {READER}"], Scope.READ, False, 200, "grafana", ""),
    ("basic scheme", ["Basic dTpw"], Scope.READ, False, 401, "", "unauthorized"),
    ("scheme only", ["Bearer"], Scope.READ, False, 401, "", "unauthorized"),
    ("non-ASCII", ["Bearer tök€n"], Scope.READ, False, 401, "", "unauthorized"),
    ("undecodable bytes", ["Bearer \udcff\udcfe"], Scope.READ, False, 401, "", "unauthorized"),
    ("two headers", [*bearer(ADMIN), *bearer(READER)], Scope.READ, False, 400, "",
     "invalid_request"),
    ("two headers, both good", [*bearer(ADMIN), *bearer(ADMIN)], Scope.READ, False, 400, "",
     "invalid_request"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "values", "scope", "anonymous", "status", "principal", "code"),
    TABLE,
    ids=[row[0] for row in TABLE],
)
def test_authorize(
    case: str, values: list[str], scope: Scope, anonymous: bool, status: int, principal: str,
    code: str,
) -> None:  # fmt: skip
    got = authorize(access(anonymous), values, scope)
    assert (got.status, got.principal, got.code) == (status, principal, code), got
    assert got.allowed == (status == 200)
    if not got.allowed:
        assert got.detail  # every refusal says why


def test_refusals_never_echo_the_token() -> None:
    for values in (bearer("wrong-secret-0123456789"), bearer(READER), bearer(HOOK)):
        got = authorize(access(), values, Scope.ADMIN)
        assert not got.allowed
        assert "0123456789" not in got.detail


def test_scopes_imply_the_lesser_ones() -> None:
    assert Scope.READ.implied() == {Scope.READ}
    assert Scope.ACK.implied() == {Scope.READ, Scope.ACK}
    assert Scope.ONCALL.implied() == {Scope.READ, Scope.ONCALL}
    assert Scope.ADMIN.implied() == set(Scope)


def test_token_problems() -> None:
    tokens = [
        ApiToken(name="a", token="short", scopes=[Scope.READ]),
        ApiToken(name="b", token=READER, scopes=[Scope.READ]),
        ApiToken(name="c", token=READER, scopes=[Scope.ADMIN]),
        ApiToken(name="d", token=HOOK, scopes=[Scope.READ]),
        ApiToken(name="e", token_file="/nonexistent/token", scopes=[Scope.READ]),
        ApiToken(name="f", token=ADMIN, scopes=[Scope.ADMIN]),
    ]
    problems = dict(token_problems(tokens, [HOOK]))
    assert sorted(problems) == [0, 2, 3, 4]
    assert "5 characters" in problems[0]
    assert "'b'" in problems[2]
    assert "webhook token" in problems[3]
    assert "/nonexistent/token" in problems[4]


def test_decision_default_is_refusal() -> None:
    assert not Decision(401).allowed


# (case, token given in the URL, anonymous_read, status, principal, code)
URL_TABLE = [
    ("read-only token", READER, False, 200, "grafana", ""),
    ("read-only token, anonymous read", READER, True, 200, "grafana", ""),
    ("ack token", ACKER, False, 403, "slackbot", "read_only_token_required"),
    ("admin token", ADMIN, False, 403, "ops", "read_only_token_required"),
    ("admin token, anonymous read", ADMIN, True, 403, "ops", "read_only_token_required"),
    ("webhook token", HOOK, False, 403, "", "forbidden"),
    ("unknown token", "nope-0123456789abcdef", True, 401, "", "unauthorized"),
    ("empty", "", False, 401, "", "unauthorized"),
    ("non-ASCII", "tök€n", False, 401, "", "unauthorized"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "value", "anonymous", "status", "principal", "code"),
                         URL_TABLE, ids=[r[0] for r in URL_TABLE])  # fmt: skip
def test_a_token_in_a_url_must_be_read_only(
    case: str, value: str, anonymous: bool, status: int, principal: str, code: str
) -> None:
    got = authorize_url_token(access(anonymous), value)
    assert (got.status, got.principal, got.code) == (status, principal, code)
    if code == "read_only_token_required":
        assert "scopes are exactly [read] for calendar URLs" in got.detail
    assert value == "" or value not in got.detail  # the token itself is never repeated

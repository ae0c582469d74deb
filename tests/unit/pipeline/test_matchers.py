import pytest

from receiver.pipeline.matchers import Matcher, MatchOp, parse_matcher, parse_matchers

NONE: dict[str, str] = {}
CRIT = {"severity": "critical"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        # equality, quoted and unquoted, whitespace tolerated
        ('severity="critical"', CRIT, True),
        ("severity=critical", CRIT, True),
        ('  severity =  "critical"  ', CRIT, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity="Critical"', CRIT, False),  # case-sensitive, like Alertmanager
        # inequality
        ('severity!="critical"', CRIT, False),
        ('severity!="critical"', {"severity": "info"}, True),
        # a missing label is the empty string
        ('env!="dev"', NONE, True),
        ('env=""', NONE, True),
        ('env=""', {"env": "prod"}, False),
        ('env!=""', NONE, False),
        ('env="dev"', NONE, False),
        ('env=~".*"', NONE, True),
        ('env=~".+"', NONE, False),
        ('env!~"dev|test"', NONE, True),
        # regexes are fully anchored
        ('job=~"db"', {"job": "db"}, True),
        ('job=~"db"', {"job": "db2"}, False),
        ('job=~"db"', {"job": "mydb"}, False),
        ('job=~"db.*"', {"job": "db2"}, True),
        ('job=~"node|db"', {"job": "db"}, True),
        ('job=~"node|db"', {"job": "nodedb"}, False),
        ('job!~"db"', {"job": "db2"}, True),
        ('job!~"db|node"', {"job": "node"}, False),
        ("job=~db.+", {"job": "db1"}, True),
        # backslashes other than \" \\ \n stay, so regex escapes survive
        (r'host=~"db\.prod"', {"host": "db.prod"}, True),
        (r'host=~"db\.prod"', {"host": "dbxprod"}, False),
        (r'port=~"\d+"', {"port": "9090"}, True),
        # escaped quotes and backslashes inside quoted values
        (r'msg="say \"hi\""', {"msg": 'say "hi"'}, True),
        (r'path="C:\\tmp"', {"path": "C:\\tmp"}, True),
        (r'text="a\nb"', {"text": "a\nb"}, True),
        # values may contain spaces, commas, operators
        ('summary="disk full, now"', {"summary": "disk full, now"}, True),
        ('expr="a=~b"', {"expr": "a=~b"}, True),
        ('name="  padded "', {"name": "  padded "}, True),
        # Go-style leading flags and scoped flags
        ('severity=~"(?i)critical"', {"severity": "CRITICAL"}, True),
        ('severity=~"(?i:critical)"', {"severity": "Critical"}, True),
        ('severity=~"(?i:critical)"', {"severity": "critical!"}, False),
        ("__name__=up", {"__name__": "up"}, True),
        ("a:b=c", {"a:b": "c"}, True),
    ],
)
def test_matcher_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('a="b"', "a", MatchOp.EQ, "b"),
        ("a!=b", "a", MatchOp.NE, "b"),
        ('a=~"b|c"', "a", MatchOp.RE, "b|c"),
        ('a!~"b"', "a", MatchOp.NRE, "b"),
        ('a=""', "a", MatchOp.EQ, ""),
        ("a=", "a", MatchOp.EQ, ""),
        (r'a="x\"y"', "a", MatchOp.EQ, 'x"y'),
    ],
)
def test_parse_matcher_fields(text: str, name: str, op: MatchOp, value: str) -> None:
    assert parse_matcher(text) == Matcher(name, op, value)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("severity=critical", 'severity="critical"'),
        (' env != "dev" ', 'env!="dev"'),
        ("job=~db.+", 'job=~"db.+"'),
        (r'msg="say \"hi\""', r'msg="say \"hi\""'),
        (r'path="C:\\tmp"', r'path="C:\\tmp"'),
        (r'host=~"db\.prod"', r'host=~"db\\.prod"'),
    ],
)
def test_str_is_canonical_and_round_trips(text: str, canonical: str) -> None:
    m = parse_matcher(text)
    assert str(m) == canonical
    assert parse_matcher(str(m)) == m


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bad matcher format"),
        ("severity", "bad matcher format"),
        ('="x"', "bad matcher format"),
        ('1abc="x"', "bad matcher format"),
        ('sev-erity="x"', "bad matcher format"),
        ('severity=="x"', "unescaped double quote"),
        ('severity="crit', "missing its closing double quote"),
        ('severity="crit"ical"', "unescaped double quote"),
        ('severity=crit"', "unescaped double quote"),
        ('severity="crit\\"', "missing its closing double quote"),
        ('job=~"(unclosed"', "invalid regular expression"),
        ('job!~"*"', "invalid regular expression"),
    ],
)
def test_parse_matcher_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_matcher(text)


def test_matcher_constructor_validates() -> None:
    with pytest.raises(ValueError, match="invalid label name"):
        Matcher("bad-name", MatchOp.EQ, "x")
    with pytest.raises(ValueError, match="invalid regular expression"):
        Matcher("a", MatchOp.RE, "[")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{a="b", c=~"d"}', ['a="b"', 'c=~"d"']),
        ('a="b",c=~"d"', ['a="b"', 'c=~"d"']),
        ("{severity=critical,env!=dev}", ['severity="critical"', 'env!="dev"']),
        ('{summary="x, y", a="b"}', ['summary="x, y"', 'a="b"']),
        (r'{q="a \", b", c="d"}', [r'q="a \", b"', 'c="d"']),
        ('{a="b",}', ['a="b"']),
        ("{}", []),
        ("", []),
    ],
)
def test_parse_matchers(text: str, expected: list[str]) -> None:
    assert [str(m) for m in parse_matchers(text)] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{a="b"', "does not close"),
        ('{a="b",,c="d"}', "empty matcher"),
        ('{a="b", nope}', "bad matcher format"),
    ],
)
def test_parse_matchers_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_matchers(text)


def test_matcher_set_semantics() -> None:
    ms = parse_matchers('{alertname="DiskFull", env!~"dev|test", severity=~"critical|warning"}')
    assert all(m.matches({"alertname": "DiskFull", "severity": "warning"}) for m in ms)
    assert not all(m.matches({"alertname": "DiskFull", "severity": "info"}) for m in ms)
    assert not all(
        m.matches({"alertname": "DiskFull", "env": "dev", "severity": "warning"}) for m in ms
    )

"""Property-based tests (hypothesis) of everything that parses outside input: an import file (JSONL, CSV, an upload's
bytes) gives a ParseReport and never raises; URL parameters give a filter / sort / audit query or
``InvalidInputError``; the ``memdash.auth`` config section gives settings or ``ConfigError``; ID-token claims give
an actor or ``None``; a users file gives accounts or ``ConfigError``. Each test prints how many cases it ran."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dashboard.services import audit, filters, memories
from dashboard.services.users_file import load_users
from memory_core.auth_settings import AuthSettings, auth_settings
from memory_core.config import parse_config
from memory_core.errors import ConfigError, InvalidInputError
from memory_core.records import MemoryFilter, Sort
from memory_core.transfer import CSV_COLUMNS, ParseReport, parse_csv, parse_jsonl

CASES = 300
FUZZ = settings(max_examples=CASES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FIELDS = [*CSV_COLUMNS, "similarity_score", "role", "content"]
DEEP = "[" * 100_000
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["2024-01-01", "2024-01-01T00:00:00+00:00", "2024-13-45", "1e999", "NaN"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=15)
records_json = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8).map(json.dumps)
lines = st.lists(st.text(max_size=80) | records_json | st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
                 max_size=8)


class Count:
    """How many examples a property saw; printed when the test ends."""

    def __init__(self, capsys: pytest.CaptureFixture[str], name: str) -> None:
        self.capsys, self.name, self.n = capsys, name, 0

    def __call__(self) -> None:
        self.n += 1

    def report(self) -> None:
        with self.capsys.disabled():
            print(f"\n{self.name}: {self.n} cases")
        assert self.n >= CASES // 2


# --- import files -----------------------------------------------------------------------------------------------


def check_report(report: ParseReport, rows: int) -> None:
    assert isinstance(report, ParseReport) and report.total <= rows
    assert len(report.records) + len(report.errors) >= report.total
    assert all(isinstance(n, int) and isinstance(message, str) and message for n, message in report.errors)


def test_jsonl_import_reports_and_never_raises(capsys):
    count = Count(capsys, "JSONL import")

    @FUZZ
    @given(lines)
    @example(["{}", DEEP])
    @example(['{"user_id": "u", "version": ' + "9" * 5000 + "}"])
    @example(['{"user_id": "u", "metadata": ' + '{"a":' * 5000 + "1" + "}" * 5001])
    def prop(rows: list[str]) -> None:
        count()
        check_report(parse_jsonl(rows), len(rows))

    prop()
    count.report()


csv_text = st.one_of(
    st.text(max_size=300),
    st.tuples(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6, unique=True),
              st.lists(st.lists(st.text(max_size=30) | json_values.map(json.dumps), max_size=6), max_size=5))
    .map(lambda t: "\n".join([",".join(t[0]), *(",".join(json.dumps(c) for c in row) for row in t[1])])),
)


def test_csv_import_reports_and_never_raises(capsys):
    count = Count(capsys, "CSV import")

    @FUZZ
    @given(csv_text)
    @example("user_id,memory\nu," + "x" * 200_000 + "\n")
    @example(f'user_id,tags\nu,"{DEEP}"\n')
    @example("user_id,version\nu," + "9" * 5000 + "\n")
    @example('user_id,memory\nu,"open\n')
    def prop(text: str) -> None:
        count()
        check_report(parse_csv(text), len(text) + 1)

    prop()
    count.report()


def test_an_upload_parses_or_is_not_utf8(capsys):
    count = Count(capsys, "uploaded bytes")

    @FUZZ
    @given(st.sampled_from(["in.jsonl", "in.csv", "IN.CSV", "x"]), st.binary(max_size=300))
    @example("in.csv", b"\xef\xbb\xbfuser_id,memory\nu,m\n")
    @example("in.jsonl", b"\xff\xfe")
    def prop(name: str, data: bytes) -> None:
        count()
        try:
            assert isinstance(memories.parse_upload(name, data), ParseReport)
        except InvalidInputError as exc:
            assert "is not UTF-8 text" in str(exc)

    prop()
    count.report()


# --- URL parameters ------------------------------------------------------------------------------------------------

param_keys = st.sampled_from([*filters.FILTER_KEYS, "sort", "store", *audit.QUERY_KEYS]) | st.text(max_size=8)
param_values = st.text(max_size=40) | st.sampled_from(
    ["any", "all", "a:b", "k:1", "k:[1]", ":x", "2024-01-01", "2024-01-01T10:00", "2024-02-30", "updated_asc",
     "9999-12-31", "0001-01-01", "1"])


def test_filter_and_sort_parse_or_refuse(capsys):
    count = Count(capsys, "filter and sort parameters")

    @FUZZ
    @given(st.dictionaries(param_keys, param_values | st.lists(param_values, max_size=3), max_size=8))
    @example({"created_to": "9999-12-31"})
    @example({"meta": ["a:1", "a:x"], "tags": ",,"})
    @example({"updated_from": "2024-01-01T00:00:00+25:00"})
    def prop(raw: dict[str, str | list[str]]) -> None:
        count()
        for parse, kind in ((filters.filter_from_params, MemoryFilter), (filters.sort_from_params, Sort)):
            try:
                assert isinstance(parse(raw), kind)
            except InvalidInputError as exc:
                assert str(exc)

    prop()
    count.report()


def test_audit_query_parses_or_refuses(capsys):
    count = Count(capsys, "audit query parameters")

    @FUZZ
    @given(st.dictionaries(param_keys, param_values, max_size=8), st.none() | st.text(max_size=10))
    @example({"to": "9999-12-31"}, "s")
    def prop(raw: dict[str, str], store: str | None) -> None:
        count()
        try:
            audit.query_from_params(raw, store)
        except InvalidInputError as exc:
            assert str(exc)

    prop()
    count.report()


# --- sign-in settings, identities and accounts --------------------------------------------------------------------

yaml_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                           | st.sampled_from(["viewer", "editor", "admin", "none", "oidc", "local", "off"]),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.sampled_from(["mode", "users_file", "default_role", "roles", "default", "stores",
                                                "a@b.c", "demo"]) | st.text(max_size=6), inner, max_size=4),
                           max_leaves=12)


def test_the_auth_section_parses_or_names_its_field(capsys):
    count = Count(capsys, "memdash.auth sections")

    @FUZZ
    @given(yaml_values)
    def prop(section: Any) -> None:
        count()
        text = yaml.safe_dump({"memory": {}, "memdash": {"auth": section}}, allow_unicode=True)
        try:
            assert isinstance(auth_settings(parse_config(text, file="fuzz.yml")), AuthSettings)
        except ConfigError as exc:
            assert exc.field is None or exc.field.startswith("memdash.auth")

    prop()
    count.report()


def test_identities_get_an_actor_or_none(capsys):
    count = Count(capsys, "ID-token claims")
    roles = auth_settings(parse_config(yaml.safe_dump({"memdash": {"auth": {
        "roles": {"a@b.c": "admin", "s1": {"stores": {"demo": "editor"}}}, "default_role": "viewer"}}})))

    @FUZZ
    @given(st.dictionaries(st.sampled_from(["sub", "email", "email_verified", "name"]) | st.text(max_size=5),
                           json_values | st.sampled_from(["a@b.c", "A@B.C", "s1"]), max_size=6))
    def prop(claims: dict[str, Any]) -> None:
        count()
        actor = roles.oidc_actor(claims)
        assert actor is None or actor.name

    prop()
    count.report()


def test_a_users_file_loads_or_is_a_config_error(capsys, tmp_path):
    count = Count(capsys, "users files")
    path = tmp_path / "users.json"

    @FUZZ
    @given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps({"users": v}).encode()))
    @example(DEEP.encode())
    def prop(data: bytes) -> None:
        count()
        path.write_bytes(data)
        try:
            assert isinstance(load_users(path), dict)
        except ConfigError as exc:
            assert str(exc)

    prop()
    count.report()

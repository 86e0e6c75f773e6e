"""CSV parsing edge cases: line ends inside and outside quoted fields, malformed quoting."""

from memory_core.transfer import dump_csv, parse_csv, parse_jsonl


def test_carriage_returns_end_rows_outside_quotes_and_stay_inside_them() -> None:
    report = parse_csv('user_id,memory\r\nu,"two\r\nlines"\ru,plain\n')
    assert report.ok and [r.item.memory for r in report.records] == ["two\r\nlines", "plain"]


def test_a_header_with_a_stray_carriage_return_is_reported_not_raised() -> None:
    report = parse_csv('a\rb,"x\n')
    assert report.records == [] and report.errors == [(1, "the header needs at least a 'user_id' column")]


def test_csv_round_trip_keeps_line_ends_in_memories() -> None:
    [record] = parse_jsonl(['{"user_id": "u", "memory": "first\\r\\nsecond", "id": "m1"}']).records
    again = parse_csv("".join(dump_csv([record])))
    assert again.ok and again.records[0].item.memory == "first\r\nsecond"


def test_an_unterminated_quote_is_an_error_at_its_line_not_a_swallowed_row() -> None:
    report = parse_csv('user_id,memory\nu,first\nu,"unterminated\nu,second row\nu,third\n')
    assert [r.item.memory for r in report.records] == ["first"]
    [(line, message)] = report.errors
    assert line == 3 and message.startswith("not valid CSV: unexpected end of data")


def test_unknown_columns_and_extra_cells_are_reported() -> None:
    report = parse_csv("user_id,memory,colour\nu,hello,blue\n")
    assert report.errors == [(1, "unknown column 'colour'; the columns are id, user_id, memory, tags, metadata, "
                                 "conversation, created_at, updated_at, version")]
    report = parse_csv("user_id,memory\nu,hello,surprise\nu,fine\n")
    assert report.errors == [(2, "1 more cells than the header has columns")]
    assert [r.item.memory for r in report.records] == ["fine"]


def test_what_a_store_would_refuse_is_refused_by_the_parser_with_its_line() -> None:
    """The parser is the whole check: a row that parses is a row every store writes (issue: a lone surrogate
    passed validation, then the import stopped after 500 rows)."""
    rows = [f'{{"user_id": "u", "memory": "row {i}"}}' for i in range(600)]
    rows.insert(300, '{"user_id": "u", "memory": "lone \\ud800 surrogate"}')
    rows += ['{"id": {"an": "object"}, "user_id": "u"}', '{"user_id": "u", "version": -5}',
             '{"user_id": "u", "memory": "nul \\u0000"}', '{"id": "x", "user_id": "u", "version": true}']
    report = parse_jsonl(rows)
    assert [line for line, _ in report.errors] == [301, 602, 603, 604, 605] and len(report.records) == 600
    messages = [message for _, message in report.errors]
    assert messages[0] == "field 'memory' is not valid Unicode text: a lone surrogate at position 5"
    assert messages[1] == "field 'id' must be a string, not dict"
    assert messages[2] == "field 'version' must be a whole number from 1, not -5"
    assert messages[3] == "field 'memory' holds a NUL character (\\x00) at position 4"
    assert messages[4] == "field 'version' must be a whole number, not true/false"

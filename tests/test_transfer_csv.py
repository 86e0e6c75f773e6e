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

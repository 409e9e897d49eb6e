"""The project's own table of JSON edge cases, run on every test run.

Each value below is written out literally with its verdict, and embedded as an
extra field of a record that is selected, before and after the summed fields:
a valid value must come out byte for byte with the sum appended, an invalid
one must make the record a bad record with the kind of message the README
promises (`invalid JSON: ...`, or `invalid UTF-8 at byte N` for the first bad
byte). The table is checked through `filter_record` and through the real
command on inputs of several MiB, so that the fast paths (the native scanner,
msgspec) decide these lines as they would in real use. The kinds of values are
those of the JSONTestSuite parsing corpus, which tests/test_jsontestsuite.py
runs when it is present.
"""
import gzip
import re

import pytest

from json_mapper import BadRecord, filter_record

OK = "ok"
JSON = "json"  # invalid JSON: the record is a bad record, "invalid JSON: ..."


def utf8(at):
    """Invalid UTF-8, the first bad byte at offset `at` of the value."""
    return ("utf8", at)


NUMBERS = [
    ("zero", b"0", OK),
    ("minus_zero", b"-0", OK),
    ("minus_zero_float", b"-0.0", OK),
    ("minus_zero_exponent", b"-0e0", OK),
    ("int", b"123", OK),
    ("negative_int", b"-123", OK),
    ("fraction", b"1.5", OK),
    ("fraction_trailing_zeros", b"1.10", OK),
    ("exponent", b"1e5", OK),
    ("exponent_capital", b"1E5", OK),
    ("exponent_plus", b"1e+5", OK),
    ("exponent_minus", b"1E-5", OK),
    ("fraction_exponent", b"123.456e78", OK),
    ("zero_exponent", b"0e+1", OK),
    ("max_double", b"1.7976931348623157e308", OK),
    ("min_normal", b"2.2250738585072014e-308", OK),
    ("min_subnormal", b"5e-324", OK),
    ("underflow_to_zero", b"1e-400", OK),
    ("huge_negative_exponent", b"1e-99999999", OK),
    ("huge_int", b"123456789012345678901234567890", OK),
    ("huge_negative_int", b"-123456789012345678901234567890", OK),
    ("int_past_2_64", b"18446744073709551616", OK),
    ("long_fraction", b"0.1000000000000000055511151231257827021181583404541015625", OK),
    # RFC 8259 lets a parser limit the range; this one stops at the doubles.
    ("big_exponent", b"1e400", JSON),
    ("big_negative_exponent", b"-1e400", JSON),
    ("huge_exponent", b"1e99999999999", JSON),
    ("int_past_double", b"1" + b"0" * 400, JSON),
    ("leading_zero", b"01", JSON),
    ("leading_zeros", b"00", JSON),
    ("negative_leading_zero", b"-01", JSON),
    ("leading_zero_fraction", b"01.5", JSON),
    ("dot_no_fraction", b"1.", JSON),
    ("negative_dot_no_fraction", b"-1.", JSON),
    ("dot_before_exponent", b"1.e5", JSON),
    ("no_int_part", b".5", JSON),
    ("negative_no_int_part", b"-.5", JSON),
    ("plus_sign", b"+1", JSON),
    ("plus_zero", b"+0", JSON),
    ("double_minus", b"--1", JSON),
    ("minus_space", b"- 1", JSON),
    ("minus_alone", b"-", JSON),
    ("dot_alone", b".", JSON),
    ("exponent_no_digits", b"1e", JSON),
    ("exponent_sign_no_digits", b"1e+", JSON),
    ("exponent_minus_no_digits", b"1E-", JSON),
    ("exponent_fraction", b"1e1.5", JSON),
    ("two_exponents", b"1e5e5", JSON),
    ("two_dots", b"1.5.5", JSON),
    ("hex", b"0x10", JSON),
    ("underscore", b"1_000", JSON),
    ("nan", b"NaN", JSON),
    ("minus_nan", b"-NaN", JSON),
    ("infinity", b"Infinity", JSON),
    ("minus_infinity", b"-Infinity", JSON),
    ("inf", b"inf", JSON),
    ("fullwidth_digit", "\uff11".encode(), JSON),
    ("arabic_indic_digit", "\u0663".encode(), JSON),
]

STRINGS = [
    ("empty", b'""', OK),
    ("ascii", b'"abc"', OK),
    ("escaped_quote", rb'"\""', OK),
    ("escaped_backslash", rb'"\\"', OK),
    ("escaped_slash", rb'"\/"', OK),
    ("escaped_b", rb'"\b"', OK),
    ("escaped_f", rb'"\f"', OK),
    ("escaped_n", rb'"\n"', OK),
    ("escaped_r", rb'"\r"', OK),
    ("escaped_t", rb'"\t"', OK),
    ("every_escape", rb'"\"\\\/\b\f\n\r\t\u0041"', OK),
    ("escaped_nul", rb'"\u0000"', OK),
    ("escaped_control", rb'"\u001f"', OK),
    ("escaped_latin", rb'"\u00e9"', OK),
    ("escaped_upper_hex", rb'"\u00E9"', OK),
    ("escaped_ffff", rb'"\uffff"', OK),
    ("escaped_quote_by_code", rb'"\u0022"', OK),
    ("escaped_backslash_then_u", rb'"\\u"', OK),
    ("surrogate_pair", rb'"\ud83d\ude00"', OK),
    ("surrogate_pair_upper", rb'"\uD834\uDD1E"', OK),
    ("utf8_1_byte", b'"a"', OK),
    ("utf8_2_bytes", b'"\xc3\xa9"', OK),
    ("utf8_3_bytes", b'"\xe2\x82\xac"', OK),
    ("utf8_4_bytes", b'"\xf0\x9f\x98\x80"', OK),
    ("utf8_last_2_bytes", b'"\xdf\xbf"', OK),
    ("utf8_last_3_bytes", b'"\xef\xbf\xbf"', OK),
    ("utf8_last_code_point", b'"\xf4\x8f\xbf\xbf"', OK),
    ("utf8_noncharacter", b'"\xef\xb7\x90"', OK),
    ("bom_inside_string", b'"\xef\xbb\xbf"', OK),
    ("del_raw", b'"\x7f"', OK),
    ("invalid_escape_a", rb'"\a"', JSON),
    ("invalid_escape_x", rb'"\x41"', JSON),
    ("invalid_escape_quote", rb'"\'"', JSON),
    ("invalid_escape_zero", rb'"\0"', JSON),
    ("invalid_escape_capital_u", rb'"\U0001F600"', JSON),
    ("escape_u_short", rb'"\u12"', JSON),
    ("escape_u_not_hex", rb'"\u12g4"', JSON),
    ("escape_at_end", rb'"\"', JSON),
    ("backslash_space", rb'"\ "', JSON),
    # Lone surrogate escapes name no character: this parser rejects them.
    ("lone_high_surrogate", rb'"\ud800"', JSON),
    ("lone_low_surrogate", rb'"\udc00"', JSON),
    ("surrogates_reversed", rb'"\udc00\ud800"', JSON),
    ("high_surrogate_then_letter", rb'"\ud800\u0041"', JSON),
    ("high_surrogate_then_text", rb'"\ud800abc"', JSON),
    ("raw_nul", b'"\x00"', JSON),
    ("raw_control", b'"\x01"', JSON),
    ("raw_unit_separator", b'"\x1f"', JSON),
    ("raw_tab", b'"a\tb"', JSON),
    ("raw_carriage_return", b'"a\rb"', JSON),
    ("unterminated", b'"abc', JSON),
    ("single_quotes", b"'abc'", JSON),
    ("unquoted", b"abc", JSON),
    ("utf8_lone_continuation", b'"\x80"', utf8(1)),
    ("utf8_lone_last_continuation", b'"a\xbf"', utf8(2)),
    ("utf8_overlong_2_bytes", b'"\xc0\xaf"', utf8(1)),
    ("utf8_overlong_2_bytes_c1", b'"\xc1\xbf"', utf8(1)),
    ("utf8_overlong_3_bytes", b'"\xe0\x80\xaf"', utf8(1)),
    ("utf8_overlong_4_bytes", b'"\xf0\x80\x80\xaf"', utf8(1)),
    ("utf8_encoded_high_surrogate", b'"\xed\xa0\x80"', utf8(1)),
    ("utf8_encoded_low_surrogate", b'"\xed\xbf\xbf"', utf8(1)),
    ("utf8_encoded_surrogate_pair", b'"\xed\xa0\xbd\xed\xb8\x80"', utf8(1)),
    ("utf8_past_last_code_point", b'"\xf4\x90\x80\x80"', utf8(1)),
    ("utf8_byte_f5", b'"\xf5\x80\x80\x80"', utf8(1)),
    ("utf8_byte_ff", b'"ab\xff"', utf8(3)),
    ("utf8_truncated_2_bytes", b'"\xc3"', utf8(1)),
    ("utf8_truncated_3_bytes", b'"\xe2\x82"', utf8(1)),
    ("utf8_truncated_4_bytes", b'"\xf0\x9f\x98"', utf8(1)),
    ("utf8_latin1", b'"caf\xe9"', utf8(4)),
    ("utf8_outside_string", b"\xff", utf8(0)),
    ("utf8_in_key", b'{"\xe9":1}', utf8(2)),
]

NESTING = [
    ("empty_array", b"[]", OK),
    ("empty_object", b"{}", OK),
    ("array_in_array", b"[[]]", OK),
    ("object_in_array", b"[{}]", OK),
    ("array_in_object", b'{"a":[]}', OK),
    ("mixed", b'[1,"a",[true,{"b":null}],{"c":[-0.5e-3]}]', OK),
    ("deep_objects", b'{"a":{"b":{"c":{"d":null}}}}', OK),
    # The record is one level: 1023 more make the 1024 levels allowed.
    ("depth_1024", b"[" * 1023 + b"]" * 1023, OK),
    ("depth_1025", b"[" * 1024 + b"]" * 1024, JSON),
    ("unclosed_array", b"[", JSON),
    ("unopened_array", b"]", JSON),
    ("unclosed_array_after_value", b"[1", JSON),
    ("unclosed_object", b'{"a":1', JSON),
    ("array_closed_by_brace", b"[}", JSON),
    ("object_closed_by_bracket", b"{]", JSON),
    ("array_closed_twice", b"[1]]", JSON),
    ("half_closed", b"[[]", JSON),
    ("deep_unclosed", b"[" * 500, JSON),
]

LITERALS = [
    ("true", b"true", OK),
    ("false", b"false", OK),
    ("null", b"null", OK),
    ("literals_in_array", b"[true,false,null]", OK),
    ("true_capital", b"True", JSON),
    ("false_upper", b"FALSE", JSON),
    ("null_capital", b"Null", JSON),
    ("python_none", b"None", JSON),
    ("undefined", b"undefined", JSON),
    ("true_truncated", b"tru", JSON),
    ("false_truncated", b"fals", JSON),
    ("null_truncated", b"nul", JSON),
    ("t_alone", b"t", JSON),
    ("null_extra_letter", b"nulll", JSON),
    ("true_then_digit", b"true1", JSON),
    ("true_then_false", b"truefalse", JSON),
    ("minus_true", b"-true", JSON),
]

STRUCTURE = [
    ("array", b"[1,2]", OK),
    ("array_spaced", b"[ 1 , 2 ]", OK),
    ("object", b'{"a":1,"b":2}', OK),
    ("object_spaced", b'{ "a" : 1 , "b" : 2 }', OK),
    ("duplicate_keys", b'{"a":1,"a":2}', OK),
    ("empty_key", b'{"":0}', OK),
    ("whitespace_space_before", b" 1", OK),
    ("whitespace_tab_before", b"\t1", OK),
    ("whitespace_cr_before", b"\r1", OK),
    ("whitespace_after", b"1 \t\r", OK),
    ("whitespace_in_array", b"[\t1\r, 2 ]", OK),
    ("trailing_comma_array", b"[1,]", JSON),
    ("trailing_comma_object", b'{"a":1,}', JSON),
    ("leading_comma_array", b"[,1]", JSON),
    ("double_comma", b"[1,,2]", JSON),
    ("comma_alone_object", b"{,}", JSON),
    ("missing_comma", b"[1 2]", JSON),
    ("semicolon", b"[1;2]", JSON),
    ("missing_colon", b'{"a" 1}', JSON),
    ("double_colon", b'{"a"::1}', JSON),
    ("equals_for_colon", b'{"a"=1}', JSON),
    ("missing_value", b'{"a":}', JSON),
    ("key_alone", b'{"a"}', JSON),
    ("unquoted_key", b"{a:1}", JSON),
    ("number_key", b"{1:1}", JSON),
    ("single_quoted_key", b"{'a':1}", JSON),
    ("missing_value_in_record", b"", JSON),
    ("trailing_garbage_value", b"1 2", JSON),
    ("trailing_garbage_after_record", b"1} x", JSON),
    ("second_object", b'1}{"y":1', JSON),
    ("trailing_comma_record", b"1,", JSON),
    ("block_comment", b"/*c*/1", JSON),
    ("line_comment", b"1//c", JSON),
    ("bom_before_value", b"\xef\xbb\xbf1", JSON),
    ("form_feed", b"\x0c1", JSON),
    ("vertical_tab", b"\x0b1", JSON),
    ("nul_byte", b"\x001", JSON),
    ("no_break_space", b"\xc2\xa01", JSON),
    ("zero_width_space", b"\xe2\x80\x8b1", JSON),
    ("ideographic_space", b"\xe3\x80\x801", JSON),
]

CASES = NUMBERS + STRINGS + NESTING + LITERALS + STRUCTURE
IDS = [name for name, _, _ in CASES]

# The value after the summed fields, and before them.
AFTER = b'{"index": 1, "total": 1, "x": '
BEFORE = b'{"x": '
BEFORE_END = b', "index": 1, "total": 1}'
SUM = b',"sum_val":2.0}'
JSON_WS = b" \t\r"


def records(value):
    """(record, its output line if the value is valid, where the value starts)."""
    return [
        # Whitespace after the last member is dropped: the sum follows the value.
        (AFTER + value + b"}", AFTER + value.rstrip(JSON_WS) + SUM, len(AFTER)),
        (BEFORE + value + BEFORE_END, BEFORE + value + BEFORE_END[:-1] + SUM, len(BEFORE)),
    ]


def expected_reason(verdict, start):
    """A pattern for the reason a bad record gets."""
    if verdict == JSON:
        return r"invalid JSON: [^\n]+ \(column \d+\)"
    return re.escape(f"invalid UTF-8 at byte {start + verdict[1] + 1}")


def test_the_table_has_no_duplicates():
    assert len(set(IDS)) == len(IDS)
    assert len({value for _, value, _ in CASES}) == len(CASES)
    assert all(b"\n" not in value for _, value, _ in CASES)


@pytest.mark.parametrize("name,value,verdict", CASES, ids=IDS)
def test_filter_record(name, value, verdict):
    for record, output, start in records(value):
        if verdict == OK:
            assert filter_record(record) == output
        else:
            with pytest.raises(BadRecord) as caught:
                filter_record(record)
            assert re.fullmatch(expected_reason(verdict, start), caught.value.reason), caught.value.reason


# ------------------------------------------------------ through the command

# Filler between the cases: half of it selected, so both the fast paths'
# selected and not-selected lines surround each case.
FILLER = (b'{"index": 1, "total": 1.5, "id": "a", "tags": ["x", "y"]}\n'
          b'{"index": 0.5, "total": 0.25, "id": "b", "tags": []}\n')
FILLER_OUT = b'{"index": 1, "total": 1.5, "id": "a", "tags": ["x", "y"],"sum_val":2.5}\n'
SIZE = 6 * 1024 * 1024
BAD = [(name, value, verdict) for name, value, verdict in CASES if verdict != OK]
GOOD = [(name, value, verdict) for name, value, verdict in CASES if verdict == OK]
# The command describes ten bad records; the rest are only counted.
GROUPS = [BAD[i:i + 5] for i in range(0, len(BAD), 5)]


def big_input(cases):
    """SIZE bytes of filler with each case's records spread through it.

    Returns the input, the expected stdout, and (line number, pattern) for
    each bad record's message.
    """
    lines = [line for name, value, verdict in cases for line in
             [(record, output, verdict, start) for record, output, start in records(value)]]
    gap = max(1, SIZE // len(FILLER) // (len(lines) + 1))
    data, out, messages = [], [], []
    lineno = 0
    for record, output, verdict, start in lines:
        data.append(FILLER * gap)
        out.append(FILLER_OUT * gap)
        lineno += 2 * gap + 1
        data.append(record + b"\n")
        if verdict == OK:
            out.append(output + b"\n")
        else:
            messages.append((lineno, expected_reason(verdict, start)))
    data.append(FILLER * gap)
    out.append(FILLER_OUT * gap)
    return b"".join(data), b"".join(out), messages


def run_ways(run_jsonfilter, tmp_path, data, way):
    if way == "stdin":
        return "<stdin>", run_jsonfilter(stdin=data, timeout=120)
    if way == "gzip":
        (tmp_path / "in.json.gz").write_bytes(gzip.compress(data, compresslevel=1))
        return "in.json.gz", run_jsonfilter("in.json.gz", timeout=120)
    (tmp_path / "in.json").write_bytes(data)
    if way == "jobs":
        return "in.json", run_jsonfilter("-j", "3", "in.json", timeout=120)
    return "in.json", run_jsonfilter("in.json", timeout=120)


WAYS = ["file", "stdin", "gzip", "jobs"]


@pytest.mark.parametrize("way", WAYS)
def test_command_passes_every_valid_value_through(run_jsonfilter, tmp_path, way):
    data, out, _ = big_input(GOOD)
    assert len(data) > 4 * 1024 * 1024
    _, result = run_ways(run_jsonfilter, tmp_path, data, way)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == out


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("group", range(len(GROUPS)),
                         ids=[f"{g[0][0]}..{g[-1][0]}" for g in GROUPS])
def test_command_reports_every_invalid_value_at_its_line(run_jsonfilter, tmp_path, group, way):
    # The valid values come along, so that bad and good cases sit side by side.
    bad = GROUPS[group]
    cases = [pick for i, case in enumerate(bad)
             for pick in (case, GOOD[(group * len(bad) + i) % len(GOOD)])]
    data, out, messages = big_input(cases)
    name, result = run_ways(run_jsonfilter, tmp_path, data, way)
    assert result.returncode == 1
    assert result.stdout == out
    got = result.stderr.decode().splitlines()
    assert len(got) == len(messages) <= 10, result.stderr
    for line, (lineno, reason) in zip(got, messages):
        assert re.fullmatch(re.escape(f"jsonfilter: {name}:{lineno}: ") + reason, line), line


# ------------------------------------------------------------ deep and long

PREFIX = AFTER
DEPTH = 100_000


@pytest.mark.parametrize("line", [
    b"[" * DEPTH,
    b"[" * DEPTH + b"]" * DEPTH,
    b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    PREFIX + b"[" * DEPTH + b"]" * DEPTH + b"}",
    PREFIX + b'{"a":' * DEPTH + b"1" + b"}" * DEPTH + b"}",
], ids=["open_arrays", "closed_arrays", "objects", "arrays_in_record", "objects_in_record"])
def test_deep_nesting_is_a_bad_record(run_jsonfilter, line):
    good = b'{"index": 2, "total": 0}'
    result = run_jsonfilter(stdin=good + b"\n" + line + b"\n" + good + b"\n")
    assert result.returncode == 1
    assert result.stdout == (good[:-1] + SUM + b"\n") * 2
    assert re.fullmatch(rb"jsonfilter: <stdin>:2: [^\n]+\n", result.stderr)


LONG = 16 * 1024 * 1024


@pytest.mark.parametrize("value", [
    b'"' + b"a" * LONG + b'"',
    b'"' + b"\\u00e9\\n\\\"" * (LONG // 10) + b'"',
    b'"' + "\u00e9\U0001f600".encode() * (LONG // 6) + b'"',
], ids=["ascii", "escapes", "utf8"])
def test_very_long_string_passes_through(run_jsonfilter, tmp_path, value):
    (tmp_path / "long.json").write_bytes(PREFIX + value + b"}\n")
    result = run_jsonfilter("long.json")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == PREFIX + value + SUM + b"\n"


@pytest.mark.parametrize("line", [
    PREFIX + b'"' + b"a" * LONG,
    PREFIX + b'"' + b"a" * LONG + b"\x01" + b'"}',
    PREFIX + b'"' + b"a" * LONG + b"\xff" + b'"}',
], ids=["unterminated", "control_character", "invalid_utf8"])
def test_very_long_bad_string_is_a_bad_record(run_jsonfilter, tmp_path, line):
    (tmp_path / "long.json").write_bytes(line + b"\n")
    result = run_jsonfilter("long.json")
    assert (result.returncode, result.stdout) == (1, b"")
    assert re.fullmatch(rb"jsonfilter: long.json:1: [^\n]{1,200}\n", result.stderr)

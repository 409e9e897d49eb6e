"""The fast path (`batch.BatchFilter`) against the per-record path (`chunk.filter_chunk`).

The per-record path is the definition; on any input at all the fast path must
give the same ChunkResult: the same lines count, the same selected output
bytes, the same bad records with the same reasons. Both of its ways are
checked: with the native scanner first, and with msgspec alone.
"""
import io
import string
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import JSONTESTSUITE_FILES, corpus_params
from json_mapper.batch import BatchFilter
from json_mapper.chunk import filter_chunk
from json_mapper.record import Spec
from json_mapper.stream import filter_stream

ONE_LINE_FILES = [p for p in JSONTESTSUITE_FILES if b"\n" not in p.read_bytes().rstrip(b"\n")]


def same(chunk, spec=Spec()):
    """Assert both paths agree on `chunk`, with a fresh and a warmed-up BatchFilter, native or not."""
    expected = filter_chunk(chunk, spec)
    for batch in (BatchFilter(spec), _opened(BatchFilter(spec)), BatchFilter(spec, native=False),
                  _opened(BatchFilter(spec, native=False))):
        assert batch(chunk) == expected
    return expected


def _opened(batch):
    # As after a chunk with other fields: the decoder that skips unknown fields goes first.
    batch._stage = 1
    return batch


# Numbers as they are written: JSON ones and the odd ones orjson and msgspec
# could read differently (overflow, huge integers, exponents, signs).
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(min_value=0, max_value=1).map(repr),
    st.integers().map(str),
    st.integers(min_value=2**53 - 4, max_value=2**70).map(str),
    st.sampled_from(["1e400", "-1e400", "1E308", "1.7976931348623157e308", "1.7976931348623159e308",
                     "123e100000", "0.1e-400", "-0", "-0.0", "1e-320", "5e-324", "1" + "0" * 400,
                     "0." + "0" * 120 + "1", "9223372036854775807", "9223372036854775808",
                     "18446744073709551616", "-9223372036854775809", "1.0e+2", "1E-2", "01", "1.",
                     ".5", "+1", "0x10", "NaN", "Infinity", "-", "1e", "2.e3"]),
)
json_strings = st.one_of(
    st.text().map(lambda s: __import__("orjson").dumps(s).decode()),
    st.sampled_from(['"\\ud800"', '"\\udc00x"', '"\\ud83d\\ude00"', '"\\u00e9"', '"\\x"', '"\t"',
                     '"a\\"b"', '"\\/"', '"\u00e9"', '"\U0001f600"', '"\x7f"', '"\\u0000"']),
)
keys = st.sampled_from(["index", "total", "sum_val", "x", "ind\\u0065x", "t\\u006ftal", "é", ""])


def values(depth=2):
    scalar = st.one_of(numbers, json_strings, st.sampled_from(["true", "false", "null"]))
    if depth == 0:
        return scalar
    inner = values(depth - 1)
    return st.one_of(
        scalar,
        st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(keys.map(lambda k: f'"{k}"'), inner), max_size=3).map(
            lambda members: "{" + ",".join(f"{k}:{v}" for k, v in members) + "}"),
    )


good_records = st.tuples(numbers, st.one_of(numbers, st.sampled_from(["0", "-1e300"])),
                         st.lists(st.tuples(keys, values()), max_size=3)).map(
    lambda t: "{" + ",".join([f'"index":{t[0]}', f'"total":{t[1]}'] + [f'"{k}":{v}' for k, v in t[2]]) + "}")
some_records = st.lists(st.tuples(keys, values()), max_size=5).map(
    lambda members: "{" + ",".join(f'"{k}":{v}' for k, v in members) + "}")
whitespace = st.sampled_from(["", " ", "\t", "\r", "  \r"])
lines = st.one_of(
    st.tuples(whitespace, good_records, whitespace).map("".join).map(str.encode),
    some_records.map(str.encode),
    values().map(str.encode),
    st.sampled_from([b"", b" ", b"\r", b"\xef\xbb\xbf{}", b'{"index":1,"total":1} {}', b"{",
                     b'{"index":1,', b'"total":1}', b'{"index":1,"total":1,"x":"\xff"}',
                     b'{"index":1,"total":1,"x":"\xed\xa0\x80"}', b'{"index":1e308,"total":1e308}',
                     b'{"index":-1e308,"total":-1e308}', b'{"index":1,"total":1,"index":"a"}',
                     b'{"index":"a","index":1,"total":1}', b'{"index":true,"total":1}',
                     b'{"index":1,"total":1,"x":' + b"[" * 1100 + b"]" * 1100 + b"}",
                     b'{"index":1,"total":1,"x":' + b"[" * 1020 + b"]" * 1020 + b"}"]),
    st.binary(max_size=20),
)
specs = st.builds(
    Spec,
    threshold=st.one_of(st.just(1.99), st.floats(-3, 3, allow_nan=False)),
    fields=st.one_of(st.just(("index", "total")), st.lists(
        st.sampled_from(["index", "total", "x", "é", "sum_val", 'a"b']), min_size=1, max_size=3)),
    sum_field=st.sampled_from(["sum_val", "index", "x"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=12), st.booleans(), specs)
@example([b'{"index":1,"total":1}', b'{"index":0,"total":1,"x":1e400}'], True, Spec())
@example([b'{"index":0,"total":1,"x":"\xff"}'], True, Spec())
@example([b'{"index":1,\n"total":1}'], True, Spec())
# A key that is not UTF-8 after lines of only the summed fields: msgspec's
# UnicodeDecodeError ended the run with an internal error.
@example([b'{"index":0.1,"total":0.2}', b'{"index":0,"total":0,"\xff":1}', b'{"index":1,"total":1}'], True, Spec())
def test_fast_path_agrees_with_per_record_path(chunk_lines, final_newline, spec):
    chunk = b"\n".join(chunk_lines) + (b"\n" if final_newline else b"")
    same(chunk, spec)


@pytest.mark.jsontestsuite
@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(corpus_params(ONE_LINE_FILES)), min_size=1, max_size=4),
       st.lists(good_records, min_size=1, max_size=4), st.randoms(), st.sampled_from([b"1", b"0"]))
def test_fast_path_agrees_on_jsontestsuite_values_mixed_in(files, records, rnd, total):
    texts = [r.encode() for r in records]
    for path in files:
        texts.insert(rnd.randrange(len(texts) + 1),
                     b'{"index":1,"total":' + total + b',"x":' + path.read_bytes().rstrip(b"\n") + b"}")
    same(b"\n".join(texts) + b"\n")


@pytest.mark.jsontestsuite
@pytest.mark.parametrize("path", corpus_params(ONE_LINE_FILES), ids=lambda p: p.name if p else "none")
def test_every_jsontestsuite_value_embedded_as_an_extra_field(path):
    value = path.read_bytes().rstrip(b"\n")
    good = b'{"index":0.5,"total":1.75}'
    # Selected and not selected: a bad value must be caught either way.
    for record in (b'{"index":1,"total":1,"x":' + value + b"}",
                   b'{"index":0.5,"total":0.5,"x":' + value + b"}",
                   b'{"x":' + value + b',"index":1.5,"total":0.75}',
                   b'{"x":' + value + b',"index":-1.5,"total":0.75}',
                   b'{"index":1,"total":' + value + b"}",
                   b'{"index":-1,"total":' + value + b"}"):
        same(b"\n".join([good, record, good]) + b"\n")
        same(record + b"\n")


@pytest.mark.jsontestsuite
def test_every_suite_file_is_there():
    # A corpus cut short would pass the tests above with less checked.
    assert len(ONE_LINE_FILES) > 250


def test_fast_path_decides_plain_and_wide_records_itself():
    # Agreement alone would also hold if the fast path never decided anything.
    plain = b"".join(b'{"index": %r, "total": %r}\n' % (i / 10, 1.0) for i in range(30))
    wide = b"".join(b'{"index": %d, "total": 1.5, "msg": "caf\xc3\xa9 \\"x\\"", "n": {"a": [1, 2e5]}}\n' % i
                    for i in range(30))
    for chunk in (plain, wide):
        result = BatchFilter(Spec())(chunk)
        assert BatchFilter(Spec()).fast(chunk) is not None
        assert result == filter_chunk(chunk, Spec())
        assert result.selected  # some lines are selected
    assert BatchFilter(Spec()).fast(wide.replace(b"2e5", b"2e500")) is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream_lines=st.lists(lines, max_size=30), on_error=st.sampled_from(["warn", "skip", "fail"]))
def test_filter_stream_fast_and_per_record_write_the_same(stream_lines, on_error, tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "in.json"
    path.write_bytes(b"\n".join(stream_lines))
    runs = []
    for fast in (True, False):
        out = io.BytesIO()
        reports = []
        try:
            counts = filter_stream([str(path)], out, on_error=on_error, report=reports.append, fast=fast)
            outcome = (counts.lines_read, counts.records_written, counts.bad_records, counts.blank)
        except ValueError as err:  # BadRecord with on_error="fail"
            outcome = (err.reason, err.name, err.lineno)
        # An InputError too: a first line may start like lz4 or Snappy data.
        runs.append((out.getvalue(), [(str(r), getattr(r, "lineno", None)) for r in reports], outcome))
    assert runs[0] == runs[1]


def test_any_field_name_can_be_summed():
    spec = Spec(fields=("a b", "class", "0", 'q"', "é"), threshold=0)
    line = b'{"a b":1,"class":2,"0":3,"q\\"":4,"\xc3\xa9":5,"z":"' + string.ascii_letters.encode() + b'"}'
    assert same(line + b"\n", spec).selected


@pytest.mark.parametrize("depth", [999, 1024, 1025, 3000])
def test_deep_nesting_is_decided_as_orjson_does_whatever_the_recursion_limit(depth):
    # msgspec's nesting limit follows Python's recursion limit; orjson's is 1024.
    nested = b"[" * depth + b"]" * depth
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        for record in (b'{"index":0.5,"total":0.5,"x":' + nested + b"}", b'{"index":0.5,"x":' + nested + b"}"):
            same(record + b"\n", Spec(fields=("index",)))
            same(record + b"\n")
    finally:
        sys.setrecursionlimit(saved)

"""The native line scanner (`json_mapper._scan`) on its own.

Its one duty: a line it leaves out must be a line filter_record reads as a
good record that is not selected. Whatever else it does (returning a line
that is then not selected, or giving up on a chunk with None) costs time, not
correctness. test_batch.py checks the whole fast path against the per-record
path; these tests check the scanner's duty directly, and that it is not
vacuous (that it does vouch for ordinary data).
"""
import math
import subprocess
import sys
import venv
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import copy_tracked_tree, corpus_params, require_module
from json_mapper.record import BadRecord, Spec, filter_record
from test_batch import ONE_LINE_FILES, lines, specs


@pytest.fixture(scope="module")
def scan():
    # Under CI the extension must have been built by `pip install`.
    return require_module("json_mapper._scan")


def keys(spec):
    return tuple(name.encode() for name in spec.fields)


def split_lines(chunk):
    parts = chunk.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return parts


def check_duty(scan, chunk, spec):
    """Assert the scanner's duty on `chunk`; return its answer."""
    found = scan.candidates(chunk, keys(spec), spec.threshold)
    if found is None:
        return None
    count, candidates = found
    all_lines = split_lines(chunk)
    assert count == len(all_lines)
    waiting = iter(candidates)
    next_candidate = next(waiting, None)
    for line in all_lines:
        if line == next_candidate:
            next_candidate = next(waiting, None)
            continue
        # Left out: must be good and not selected (a BadRecord fails the test).
        assert filter_record(line, spec) is None, line
    assert next_candidate is None, "candidates must be lines of the chunk, in order"
    return found


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=12), st.booleans(), specs)
@example([b'{"index":1,"total":1} {}'], True, Spec())
@example([b'{"index":1,"total":1,"x":"\\ud800"}'], True, Spec())
@example([b'{"index":1,"total":1,"index":0}'], True, Spec())
def test_every_line_left_out_is_good_and_not_selected(scan, chunk_lines, final_newline, spec):
    check_duty(scan, b"\n".join(chunk_lines) + (b"\n" if final_newline else b""), spec)


@pytest.mark.jsontestsuite
@pytest.mark.parametrize("path", corpus_params(ONE_LINE_FILES), ids=lambda p: p.name if p else "none")
def test_every_jsontestsuite_value_as_an_extra_field(scan, path):
    value = path.read_bytes().rstrip(b"\n")
    for record in (b'{"index":1,"total":1,"x":' + value + b"}",
                   b'{"x":' + value + b',"index":0.5,"total":0.5}',
                   b'{"index":0.5,"total":' + value + b"}"):
        for spec in (Spec(), Spec(threshold=-1e300)):
            check_duty(scan, record + b"\n", spec)


# Numbers written every way JSON allows, with their exact values.
decimal_texts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: abs(d.adjusted()) < 90)
    .map(lambda d: format(d, "f")),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: abs(f) < 1e90).map(repr),
    st.tuples(st.integers(-10**25, 10**25), st.integers(-99, 99)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.tuples(st.integers(-10**25, 10**25), st.integers(0, 40)).map(
        lambda t: f"{'-' if t[0] < 0 else ''}0.{'0' * t[1]}{abs(t[0])}E+0"),
)


def json_number(text):
    """`text` as JSON writes it (Decimal's format may give '-0' or 'E'; both are JSON)."""
    return text if "." not in text or text.split(".")[1] else text + "0"


@settings(max_examples=1000, deadline=None)
@given(decimal_texts, decimal_texts, st.integers(-2, 2))
@example("0.38511804380287472", "1.6048819561971253", 0)
@example("1e-99", "0", -1)
@example("123456789012345678901234567890", "-123456789012345678901234567890", 0)
def test_a_sum_at_the_threshold_is_returned_when_it_may_pass(scan, first, second, ulps):
    # The threshold sits a few units in the last place around the exact sum,
    # where a sloppy sum would leave out a line that passes.
    a, b = json_number(first), json_number(second)
    exact = float(Decimal(a)) + float(Decimal(b))
    threshold = exact
    for _ in range(abs(ulps)):
        threshold = math.nextafter(threshold, math.inf if ulps > 0 else -math.inf)
    if not math.isfinite(threshold):
        return
    spec = Spec(threshold=threshold)
    line = b'{"index": %s, "total": %s}' % (a.encode(), b.encode())
    found = check_duty(scan, line + b"\n", spec)
    assert found is not None  # plain numbers: the scanner vouches for them
    if filter_record(line, spec) is not None:
        assert found[1] == [line]


def test_blog_data_is_decided_natively_and_selects_what_the_per_record_path_selects(scan):
    chunk = b"".join(b'{"index": %r, "total": %r}\n' % (i / 50, 1 - i / 100) for i in range(200))
    count, candidates = scan.candidates(chunk, (b"index", b"total"), 1.99)
    assert count == 200
    expected = [line for line in split_lines(chunk) if filter_record(line, Spec()) is not None]
    assert expected and set(expected) <= set(candidates)
    # The margin is narrow: hardly any line is returned that is not selected.
    assert len(candidates) <= len(expected) + 2


def test_wide_records_are_decided_natively(scan):
    line = (b'{"ts": "2026-11-24T10:00:00Z", "msg": "caf\xc3\xa9 \\"quoted\\" \\u00e9 \\ud83d\\ude00 \xf0\x9f\x98\x80",'
            b' "nested": {"a": [1, -2.5e-7, true, false, null, {}], "b": {"c": []}}, "index": 1, "total": 1}')
    count, candidates = scan.candidates((line + b"\r\n") * 3 + b"   \n", (b"index", b"total"), 1.99)
    assert (count, candidates) == (4, [line + b"\r"] * 3)


@pytest.mark.parametrize("line", [
    b'{"index":1,"total":1,"x":"\\ud800"}',              # a lone high surrogate
    b'{"index":1,"total":1,"x":"\\udc00\\ud800"}',       # a low surrogate first
    b'{"index":1,"total":1,"x":"\xed\xa0\x80"}',         # a surrogate in UTF-8
    b'{"index":1,"total":1,"x":"\xc0\xaf"}',             # an overlong form
    b'{"index":1,"total":1,"x":"\xf4\x90\x80\x80"}',     # past U+10FFFF
    b'{"index":1,"total":1,"x":"tab\there"}',            # a raw control character
    b'{"index":1,"total":1,"x":1e400}',                  # infinite as a double
    b'{"index":1,"total":1,"x":1e100}',                  # a 3-digit exponent: not vouched for
    b'{"index":1,"total":1,"x":1e+100}',
    b'{"index":1,"total":1,"x":' + b"1" * 100 + b"}",    # 100 integer digits: not vouched for
    b'{"index":1,"total":1,"x":' + b"[" * 65 + b"]" * 65 + b"}",  # deeper than the scanner goes
    b'{"index":1,"total":1} {}',                          # two values on a line
    b'[{"index":1,"total":1}]',                            # not an object
    b'{"index":1,"total":1,}',                             # a trailing comma
    b'{"index":01,"total":1}', b'{"index":1.,"total":1}', b'{"index":-,"total":1}',
    b'{"index":NaN,"total":1}', b'{"index":1,"total":1,"x":tru}', b'{"index":1 "total":1}',
    b'\xef\xbb\xbf{"index":1,"total":1}',                  # a BOM within the stream
    b'{"index":1,"total":1}\x0c',                          # form feed is not JSON whitespace
])
def test_chunks_it_cannot_vouch_for(scan, line):
    good = b'{"index":0.5,"total":0.5}\n'
    assert scan.candidates(good + line + b"\n" + good, (b"index", b"total"), 1.99) is None


@pytest.mark.parametrize("line, why", [
    (b'{"total":1}', "missing field"),
    (b'{"index":"1","total":1}', "not a number"),
    (b'{"index":1,"total":1,"index":-5}', "repeated field"),
    (b'{"ind\\u0065x":1,"total":1}', "escaped key"),
])
def test_lines_it_cannot_sum_are_returned_for_filter_record(scan, line, why):
    count, candidates = scan.candidates(line + b"\n", (b"index", b"total"), 1e300)
    assert (count, candidates) == (1, [line]), why


def test_line_count_matches_split_lines(scan):
    good = b'{"index":0,"total":0}'
    for chunk in (b"", b"\n", b"\n\n", good, good + b"\n", good + b"\n\n" + good, b" \r\n\t\n"):
        found = scan.candidates(chunk, (b"index",), 1.0)
        assert found == (len(split_lines(chunk)), []), chunk


def test_wrong_arguments_raise(scan):
    with pytest.raises(TypeError):
        scan.candidates(b"{}", ("index",), 1.0)
    with pytest.raises(TypeError):
        scan.candidates("{}", (b"index",), 1.0)


def test_too_many_fields_leave_the_chunk_to_msgspec(scan):
    assert scan.candidates(b'{"a":1}\n', tuple(b"f%d" % i for i in range(17)), 0.0) is None


def test_the_extension_is_what_the_fast_path_uses(scan):
    from json_mapper import batch

    assert batch._scan is scan
    assert sys.modules["json_mapper._scan"] is scan


def test_without_a_c_compiler_pip_install_still_works(tmp_path):
    # The extension is optional: where it cannot be built, the msgspec path is used.
    tree = copy_tracked_tree(tmp_path / "jsonfilter")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "CC": "/bin/false"}
    install = subprocess.run([str(bin_dir / "pip"), "install", "-q", "."], cwd=tree, env=env,
                             capture_output=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    run = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import json_mapper.batch as b, sys; print(b._scan); sys.stdout.flush(); from json_mapper.cli import run; run()"],
        input=b'{"index":1,"total":1.5}\n{"index":0.1,"total":0.2}\n', cwd=tmp_path, env=env,
        capture_output=True, timeout=60)
    assert (run.stdout, run.stderr, run.returncode) == (b'None\n{"index":1,"total":1.5,"sum_val":2.5}\n', b"", 0)

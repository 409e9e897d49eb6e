"""The native line scanner (`json_mapper._scan`) on its own.

`emit` must write, for every chunk it vouches for, byte for byte what
filter_record writes line by line, handing to `decide` only lines it cannot
decide itself; and it must decide the ordinary ones (blog and wide records,
nested paths) itself: a line it decides without `decide` must be one
filter_record reads as a good record, and a line filter_record rejects must
reach `decide` or make the whole chunk None. test_numbers.py
checks the number conversions; test_batch.py the whole fast path against the
per-record path.
"""
import functools
import json
import math
import os
import random
import subprocess
import sys
import venv
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import copy_tracked_tree, corpus_params, require_module
from json_mapper.record import SKIPPED, BadRecord, Spec, filter_record
from test_batch import ONE_LINE_FILES, lines, specs

KERNELS = ["scalar", "sse42", "avx2", "avx512"]


@pytest.fixture(scope="module", params=KERNELS)
def scan(request):
    """The extension, with each kernel this CPU runs in turn (scalar runs everywhere)."""
    # Under CI the extension must have been built by `pip install`.
    module = require_module("json_mapper._scan")
    if request.param not in module.kernels():
        pytest.skip(f"this CPU does not run the {request.param} kernel")
    before = module.kernel()
    module.kernel(request.param)
    yield module
    module.kernel(before)


def paths(spec):
    """The spec's paths as the scanner takes them, as the fast path passes them."""
    return tuple(tuple(key.encode() for key in path) for path in spec.paths)


def split_lines(chunk):
    parts = chunk.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return parts


def answer(line, spec):
    try:
        out = filter_record(line, spec)
    except BadRecord:
        return None
    return None if out is SKIPPED else out


def check_duty(scan, chunk, spec):
    """Assert the scanner's duty on `chunk`; return its answer.

    Every line it decides without `decide` is a good record, written as
    filter_record writes it; every other line went to `decide`, in order.
    """
    decide = Decide(spec, bad_as_none=True)
    found = scan.emit(chunk, paths(spec), spec.threshold, spec.sum_key, decide)
    if found is None:
        return None
    count, selected, output, _ = found
    all_lines = split_lines(chunk)
    assert count == len(all_lines)
    waiting = iter(decide.lines)
    next_handed = next(waiting, None)
    expected = []
    for line in all_lines:
        if line == next_handed:
            next_handed = next(waiting, None)
            out = answer(line, spec)
        else:
            # Decided by the scanner: must be a good record (a BadRecord fails the test).
            out = filter_record(line, spec)
            assert out is not SKIPPED, line
        if out is not None:
            expected.append(out + b"\n")
    assert next_handed is None, "the lines handed to decide must be lines of the chunk, in order"
    assert (selected, output) == (len(expected), b"".join(expected))
    return found


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=12), st.booleans(), specs)
@example([b'{"index":1,"total":1} {}'], True, Spec())
@example([b'{"index":1,"total":1,"x":"\\ud800"}'], True, Spec())
@example([b'{"index":1,"total":1,"index":0}'], True, Spec())
def test_lines_it_decides_itself_are_good_and_written_as_filter_record_writes(scan, chunk_lines, final_newline, spec):
    check_duty(scan, b"\n".join(chunk_lines) + (b"\n" if final_newline else b""), spec)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"", b" ", b"\t", b"\r", b" \r\t", b"\x0b", b"\f", b"{}", b"a b", b" x ",
                                 b"\xff", b"\x00"]), max_size=6).map(b"".join),
       st.lists(st.sampled_from([b"", b" ", b"\r", b"{}"]), max_size=4), st.booleans())
@example(b" ", [b""], False)
def test_blank_lines_are_the_lines_filter_record_passes_over_as_blank(scan, line, more, final_newline):
    chunk_lines = [line, *more]
    chunk = b"\n".join(chunk_lines) + (b"\n" if final_newline else b"")
    # Blank for filter_record: nothing but JSON whitespace (not \v, not \f).
    expected = sum(1 for part in split_lines(chunk) if not part.strip(b" \t\r\n"))
    for buffer in (chunk, memoryview(chunk)):
        found = emit(scan, buffer, Spec(), Decide(Spec(), bad_as_none=True))
        # A chunk with a line that is not JSON is refused whole: there is nothing to count.
        assert found is None or found[3] == expected


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
@given(decimal_texts, decimal_texts, st.integers(-3, 3))
@example("0.38511804380287472", "1.6048819561971253", 0)
@example("1e-99", "0", -1)
@example("-0", "-0.0", -1)
@example("123456789012345678901234567890", "-123456789012345678901234567890", 0)
def test_emit_decides_sums_at_the_threshold_exactly(scan, first, second, ulps):
    # The threshold a few units in the last place around the sum: the rough
    # sum must leave these to the exact one.
    a, b = json_number(first), json_number(second)
    threshold = float(Decimal(a)) + float(Decimal(b))
    for _ in range(abs(ulps)):
        threshold = math.nextafter(threshold, math.inf if ulps > 0 else -math.inf)
    if not math.isfinite(threshold):
        return
    spec = Spec(threshold=threshold)
    chunk = b'{"index": %s, "total": %s}\n' % (a.encode(), b.encode())
    decide = Decide(spec)
    assert emit(scan, chunk, spec, decide)[2] == expected_output(chunk, spec)
    assert decide.lines == []


def test_blog_data_is_decided_natively(scan):
    chunk = b"".join(b'{"index": %r, "total": %r}\n' % (i / 50, 1 - i / 100) for i in range(200))
    decide = Decide(Spec(), bad_as_none=True)
    found = scan.emit(chunk, paths(Spec()), 1.99, Spec().sum_key, decide)
    expected = expected_output(chunk, Spec())
    assert expected and found == (200, expected.count(b"\n"), expected, 0)
    assert decide.lines == []


def test_wide_records_are_decided_natively(scan):
    line = (b'{"ts": "2026-11-24T10:00:00Z", "msg": "caf\xc3\xa9 \\"quoted\\" \\u00e9 \\ud83d\\ude00 \xf0\x9f\x98\x80",'
            b' "nested": {"a": [1, -2.5e-7, true, false, null, {}], "b": {"c": []}}, "index": 1, "total": 1}')
    chunk = (line + b"\r\n") * 3 + b"   \n"
    decide = Decide(Spec(), bad_as_none=True)
    found = scan.emit(chunk, paths(Spec()), 1.99, Spec().sum_key, decide)
    assert (found, decide.lines) == ((4, 3, (line[:-1] + b',"sum_val":2.0}\n') * 3, 1), [])


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
    decide = Decide(Spec(), bad_as_none=True)
    found = scan.emit(good + line + b"\n" + good, paths(Spec()), 1.99, Spec().sum_key, decide)
    # Never decided as a good record: the chunk is refused, or the line goes to filter_record.
    assert found is None or line in decide.lines


@pytest.mark.parametrize("line, why", [
    (b'{"total":1}', "missing field"),
    (b'{"index":"1","total":1}', "not a number"),
    (b'{"index":1,"total":1,"index":-5}', "repeated field"),
    (b'{"ind\\u0065x":1,"total":1}', "escaped key"),
])
def test_lines_it_cannot_sum_go_to_decide(scan, line, why):
    spec = Spec(threshold=1e300)
    decide = Decide(spec, bad_as_none=True)
    found = scan.emit(line + b"\n", paths(spec), spec.threshold, spec.sum_key, decide)
    assert (found, decide.lines) == ((1, 0, b"", 0), [line]), why


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
         "import json_mapper.batch as b, sys; print(b._scan); sys.stdout.flush(); "
         "from json_mapper.cli import run; run()"],
        input=b'{"index":1,"total":1.5}\n{"index":0.1,"total":0.2}\n', cwd=tmp_path, env=env,
        capture_output=True, timeout=60)
    assert (run.stdout, run.stderr, run.returncode) == (b'None\n{"index":1,"total":1.5,"sum_val":2.5}\n', b"", 0)


# ---- emit ----

def expected_output(chunk, spec):
    """What filter_record writes for `chunk`, line by line."""
    outs = (filter_record(line, spec) for line in split_lines(chunk))
    return b"".join(out + b"\n" for out in outs if out is not None)


class Decide:
    """filter_record bound to a Spec, remembering the lines it was given.

    With `bad_as_none`, a bad line (or a skipped one) is answered with None
    rather than raising BadRecord, as `answer` does.
    """

    def __init__(self, spec, bad_as_none=False):
        self.spec = spec
        self.bad_as_none = bad_as_none
        self.lines = []

    def __call__(self, line):
        self.lines.append(line)
        return answer(line, self.spec) if self.bad_as_none else filter_record(line, self.spec)


def paths_of(spec):
    return tuple((name.encode(),) for name in spec.fields)


def emit(scan, chunk, spec, decide=None):
    return scan.emit(chunk, paths_of(spec), spec.threshold, spec.sum_key,
                     decide or functools.partial(filter_record, spec=spec))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=12), st.booleans(), specs)
@example([b'{"index":1,"total":1} {}'], True, Spec())
@example([b'{"index":-0,"total":-0}'], True, Spec(threshold=-1))
@example([b'{"index":-0.0,"total":-0}', b'{"index":-0.0,"total":-0.0}'], True, Spec(threshold=-1))
@example([b'{"index":1,"total":1,"sum_val":0}'], True, Spec())
@example([b'{"index":1,"total":1,"index":0}'], True, Spec())
@example([b'{"index":1e200,"total":1e200,"x":1}', b'{"index":1,"total":1}'], True,
         Spec(fields=("index",) * 16 + ("total",)))
def test_emit_writes_what_filter_record_writes(scan, chunk_lines, final_newline, spec):
    chunk = b"\n".join(chunk_lines) + (b"\n" if final_newline else b"")
    try:
        expected = expected_output(chunk, spec)
    except BadRecord:
        expected = BadRecord
    try:
        found = emit(scan, chunk, spec)
    except BadRecord:
        assert expected is BadRecord  # only filter_record raises it, through decide
        return
    if found is not None:
        blank = sum(1 for part in split_lines(chunk) if not part.strip(b" \t\r"))
        assert found == (len(split_lines(chunk)), found[2].count(b"\n"), expected, blank)


def blog_number(rnd):
    kind = rnd.randrange(10)
    if kind < 6:
        return repr(rnd.random())
    if kind == 6:
        return "0.%017d" % rnd.randrange(10**17)
    if kind == 7:
        return str(rnd.choice([0, -0, 1, -1, 2**53 + 1, 2**64 + 1, -(2**63) - 1, rnd.randrange(-10**6, 10**6)]))
    if kind == 8:
        return f"{rnd.randrange(-99, 99)}.{rnd.randrange(10**6)}e{rnd.randrange(-30, 30)}"
    return rnd.choice(["-0", "-0.0", "0.0", "1E+2", "1e-5", "12345678901234567890123", "0.1", "0.2",
                       "1.7976931348623157e+99", "5e-324", "2.4703282292062328e-324"])


STRINGS = ['"plain"', '"caf\u00e9 \\"quoted\\" \\u00e9 \\ud83d\\ude00 \U0001f600"', '"tab\\tnew\\nline\\\\"',
           '"\u4e2d\u6587"', '""', '"}{][,:"', '"sum_val"', '"index"']


def wide_record(rnd, index, total):
    members = [f'"index":{index}', f'"total":{total}',
               f'"ts":"2026-11-24T10:{rnd.randrange(60):02d}:00Z"',
               f'"msg":{rnd.choice(STRINGS)}',
               '"nested":{"a":[1,-2.5e-7,true,false,null,{}],"b":{"c":[],"index":5,"sum_val":1}}',
               f'"tags":[{rnd.choice(STRINGS)},{blog_number(rnd)}]', '"n":null', '"ok":true']
    rnd.shuffle(members)
    sep = rnd.choice([",", ", ", " , ", ",\t"])
    colon = rnd.choice([":", ": ", " : "])
    text = sep.join(m.replace(":", colon, 1) for m in members)
    return rnd.choice(["", " ", "\t"]) + "{" + rnd.choice(["", " "]) + text + rnd.choice(["", " ", " \t"]) + "}"


def random_chunk(rnd, size):
    """Blog and wide records, with a few the scanner must hand to decide and blank lines."""
    out = []
    length = 0
    while length < size:
        index, total = blog_number(rnd), blog_number(rnd)
        kind = rnd.randrange(20)
        if kind < 10:
            line = '{"index": %s, "total": %s}' % (index, total)
        elif kind < 18:
            line = wide_record(rnd, index, total)
        elif kind == 18:
            line = rnd.choice([
                '{"index":%s,"total":%s,"sum_val":"old"}', '{"sum_val":1,"index":%s,"total":%s,"sum_val":2}',
                '{"ind\\u0065x":%s,"total":%s}', '{"a\\"b":1,"index":%s,"total":%s}']) % (index, total)
        else:
            line = rnd.choice(["", " ", "\t\r"])
        line += rnd.choice(["", "", "", " ", "\r"])
        out.append(line.encode())
        length += len(line) + 1
    return b"\n".join(out) + b"\n"


def sums_of(chunk, spec):
    return sorted(t for t in (_sum(line, spec) for line in split_lines(chunk)) if t is not None)


def _sum(line, spec):
    out = filter_record(line, Spec(threshold=-1e308, fields=spec.fields, sum_field="\x00unused"))
    return None if out is None else float(out.rsplit(b":", 1)[1][:-1])


@pytest.mark.parametrize("seed", range(3))
def test_emit_on_mebibytes_of_random_records_writes_what_filter_record_writes(scan, seed):
    rnd = random.Random(seed)
    chunk = random_chunk(rnd, 3 << 20)
    spec = Spec()
    sums = sums_of(chunk, spec)
    # From nothing selected to everything selected.
    thresholds = [-1e300, sums[0] - 1, sums[len(sums) // 10], sums[len(sums) // 2], sums[-len(sums) // 10],
                  sums[-1], sums[-1] + 1, rnd.uniform(sums[0], sums[-1])]
    for threshold in thresholds:
        spec = Spec(threshold=threshold)
        decide = Decide(spec)
        lines, selected, output, _ = emit(scan, chunk, spec, decide)
        assert output == expected_output(chunk, spec)
        assert (lines, selected) == (len(split_lines(chunk)), output.count(b"\n"))
        # It decides the ordinary lines itself: only the one in 20 that it cannot goes to decide.
        assert len(decide.lines) < lines / 15
        assert all(b"sum_val\":" in line.replace(b'"sum_val":1}', b"") or b"\\" in line
                   for line in decide.lines)


def test_emit_takes_any_buffer(scan):
    chunk = b'{"index":1,"total":1}\n{"index":0,"total":0}'
    expected = emit(scan, chunk, Spec())
    assert expected == (2, 1, b'{"index":1,"total":1,"sum_val":2.0}\n', 0)
    assert emit(scan, memoryview(chunk), Spec()) == expected
    assert emit(scan, bytearray(chunk), Spec()) == expected


def test_emit_counts_lines_as_split_lines_does(scan):
    good = b'{"index":0,"total":0}'
    for chunk, blank in ((b"", 0), (b"\n", 1), (b"\n\n", 2), (good, 0), (good + b"\n", 0),
                         (good + b"\n\n" + good, 1), (b" \r\n\t\n", 2)):
        assert emit(scan, chunk, Spec(fields=("index",))) == (len(split_lines(chunk)), 0, b"", blank), chunk


def test_emit_hands_undecided_lines_to_decide_in_order_and_splices_its_answers(scan):
    chunk = (b'{"index":1,"total":1}\n{"total":5}\n{"index":1,"total":1,"sum_val":0}\n'
             b'{"index":"x","total":1}\n{"index":2,"total":2}\n')
    given = []

    def decide(line):
        given.append(line)
        return None if line.startswith(b'{"index":"') else b"<%d>" % len(given)

    found = scan.emit(chunk, ((b"index",), (b"total",)), 1.99, b'"sum_val"', decide)
    assert given == [b'{"total":5}', b'{"index":1,"total":1,"sum_val":0}', b'{"index":"x","total":1}']
    assert found == (5, 4, b'{"index":1,"total":1,"sum_val":2.0}\n<1>\n<2>\n'
                           b'{"index":2,"total":2,"sum_val":4.0}\n', 0)


def test_emit_lets_the_exception_of_decide_through(scan):
    with pytest.raises(BadRecord, match="missing field"):
        emit(scan, b'{"index":1,"total":1}\n{"total":1}\n', Spec())
    with pytest.raises(TypeError):
        scan.emit(b'{"total":1}\n', ((b"index",),), 0.0, b'"s"', lambda line: "text")


@pytest.mark.parametrize("line", [
    b'{"index":' + b"9" * 99 + b',"total":-1.5e99}',  # the largest it vouches for
    b'{"index":1,"total":1e-400}',                    # 0
    b'{"index":-0,"total":-0.0}',                     # -0 is the int 0: 0.0 + -0.0
    b'{"index":-0.0,"total":-0e1}',                   # -0.0
    b'{"index":9007199254740993,"total":0}',          # an int rounds as float(int) does
    b'{"index":' + b"1" * 30 + b'.5,"total":1}',      # more digits than 64 bits hold
])
def test_emit_numbers_at_the_edges(scan, line):
    spec = Spec(threshold=-1)
    decide = Decide(spec)
    assert emit(scan, line + b"\n", spec, decide)[2] == expected_output(line + b"\n", spec)
    assert decide.lines == []


def test_emit_splices_a_quoted_sum_key_as_given(scan):
    spec = Spec(sum_field='s"\\\u00e9', threshold=0)
    chunk = b'{"index":1,"total":1}\n{"index":1,"total":1,"s\\"\\\\\xc3\xa9":0}\n'
    decide = Decide(spec)
    assert emit(scan, chunk, spec, decide)[2] == expected_output(chunk, spec)
    assert len(decide.lines) == 1


def test_emit_gives_up_on_chunks_it_cannot_vouch_for(scan):
    good = b'{"index":0.5,"total":0.5}\n'
    for line in (b'{"index":1,"total":1,"x":1e100}', b"[1]", b'{"index":1,"total":1,"x":"\\ud800"}', b"{"):
        assert emit(scan, good + line + b"\n" + good, Spec()) is None


def test_emit_wrong_arguments(scan):
    with pytest.raises(TypeError):
        scan.emit("{}", ((b"index",),), 1.0, b'"s"', print)
    with pytest.raises(TypeError):
        scan.emit(b"{}", (b"index",), 1.0, b'"s"', None)
    with pytest.raises(TypeError):
        scan.emit(b"{}", (("index",),), 1.0, b'"s"', print)
    with pytest.raises(ValueError):
        scan.emit(b"{}", (), 1.0, b'"s"', print)
    with pytest.raises(TypeError):
        scan.emit(b"{}", ((b"index",),), 1.0, b'"s"', 3)
    # More fields or deeper paths than it holds: the caller takes another path.
    assert scan.emit(b"{}\n", tuple((b"f",) for _ in range(17)), 0.0, b'"s"', print) is None
    assert scan.emit(b"{}\n", ((b"f",) * 17,), 0.0, b'"s"', print) is None


# ---- emit with nested paths ----

class Pairs(list):
    """A JSON object as its members in order, duplicates kept."""


def reference_sum(line, paths, sum_key):
    """The sum of `line` by the rule, or UNDECIDED where the scanner must hand it on."""
    obj = json.loads(line, object_pairs_hook=Pairs)
    if not isinstance(obj, Pairs):
        raise TypeError(f"not an object: {line!r}")
    if any(key == json.loads(sum_key) for key, _ in obj):
        return UNDECIDED
    total = None
    for path in paths:
        value = obj
        for key in path:
            found = [v for k, v in value if k == key.decode()] if isinstance(value, Pairs) else []
            if len(found) != 1:
                return UNDECIDED  # missing, repeated, or inside something not an object
            value = found[0]
        if type(value) not in (int, float):
            return UNDECIDED
        total = float(value) if total is None else total + float(value)
    return total if math.isfinite(total) else UNDECIDED


def reference_output(line, total, threshold, sum_key):
    if total == UNDECIDED:
        return UNDECIDED
    if not total > threshold:
        return None
    text = line.strip(b" \t\r\n")
    return text[:-1].rstrip(b" \t\r\n") + b"," + sum_key + b":" + repr(total).encode() + b"}"


UNDECIDED = b"undecided"


def nested_record(rnd):
    def number():
        if rnd.random() < 0.03:
            return rnd.choice(["null", '"12"', "true", "[1]", '{"x":1}'])
        return blog_number(rnd)

    http = [f'"latency_ms":{number()}', f'"status":{rnd.choice([200, 404])}', '"path":"/a/b?c=\\"d\\""']
    if rnd.random() < 0.05:
        http.append(f'"latency_ms":{number()}')
    rnd.shuffle(http)
    http_value = "{" + ",".join(http) + "}"
    if rnd.random() < 0.05:
        http_value = rnd.choice(['"down"', "null", "[]", "5", '{"latency":1}'])
    deep = '{"b":{"c":%s,"d":[{"c":1}]},"c":2}' % number()
    members = [f'"http":{http_value}', f'"db":{{"ms":{number()}, "host":"db1"}}', f'"a":{deep}',
               '"msg":"caf\u00e9 \\u00e9"', f'"ms":{number()}', '"other":{"http":{"latency_ms":1e5}}']
    if rnd.random() < 0.05:
        members.append(rnd.choice(['"http":{"latency_ms":1}', '"sum":0', '"h\\u0074tp":{}', '"db":[]']))
    if rnd.random() < 0.1:
        members.remove(rnd.choice(members))
    rnd.shuffle(members)
    return ("{" + rnd.choice([",", ", "]).join(members) + rnd.choice(["", " "]) + "}").encode()


NESTED_PATHS = [
    ((b"http", b"latency_ms"), (b"db", b"ms")),
    ((b"a", b"b", b"c"), (b"ms",), (b"http", b"latency_ms")),
    ((b"http", b"latency_ms"), (b"http", b"latency_ms"), (b"http", b"status")),
]


@pytest.mark.parametrize("paths", NESTED_PATHS)
def test_emit_reaches_nested_fields_as_the_reference_does(scan, paths):
    rnd = random.Random(len(paths))
    chunk_lines = [nested_record(rnd) for _ in range(10_000)]
    chunk = b"\n".join(chunk_lines) + b"\n"
    totals = {line: reference_sum(line, paths, b'"sum"') for line in chunk_lines}
    for threshold in (-1e300, 0.5, 1.0, 1e300):
        expected = [reference_output(line, totals[line], threshold, b'"sum"') for line in chunk_lines]
        decided_here = []

        def decide(line, decided_here=decided_here, threshold=threshold):
            decided_here.append(line)
            return reference_output(line, totals[line], threshold, b'"sum"')

        found = scan.emit(chunk, paths, threshold, b'"sum"', decide)
        assert found == (len(chunk_lines), sum(e is not None for e in expected),
                         b"".join(e + b"\n" for e in expected if e is not None), 0)
        # What it hands on is what the rule leaves undecided, or holds an escaped key.
        undecided = {line for line, e in zip(chunk_lines, expected) if e == UNDECIDED}
        assert undecided <= set(decided_here)
        assert all(line in undecided or b'"h\\u0074tp"' in line for line in decided_here)
        assert len(undecided) < len(chunk_lines) / 2  # the paths are mostly reachable


def test_nested_paths_each_way_a_path_can_fail(scan):
    paths = ((b"http", b"ms"),)
    cases = {
        b'{"http":{"ms":3}}': b'{"http":{"ms":3},"s":3.0}',
        b'{"http" : { "ms" : 3 } , "x" : 1 }': b'{"http" : { "ms" : 3 } , "x" : 1,"s":3.0}',
        b'{"x":{"http":{"ms":3}},"http":{"y":{"ms":5},"ms":-2.5}}':
            b'{"x":{"http":{"ms":3}},"http":{"y":{"ms":5},"ms":-2.5},"s":-2.5}',
        b'{"http":{"ms":3},"http":{"ms":3}}': UNDECIDED,   # the intermediate repeated
        b'{"http":{"ms":3,"ms":3}}': UNDECIDED,            # the leaf repeated
        b'{"http":[{"ms":3}]}': UNDECIDED,                 # not an object
        b'{"http":"x"}': UNDECIDED,
        b'{"http":null}': UNDECIDED,
        b'{"http":{}}': UNDECIDED,                         # missing
        b'{"ms":3}': UNDECIDED,
        b'{"http":{"ms":null}}': UNDECIDED,
        b'{"http":{"ms":{"v":1}}}': UNDECIDED,
        b'{"http":{"m\\u0073":3}}': UNDECIDED,             # an escaped key on the path
        b'{"http":{"ms":3},"s":1}': UNDECIDED,             # the sum key is there
        b'{"http":{"ms":3,"s":1}}': b'{"http":{"ms":3,"s":1},"s":3.0}',  # only the top level counts
    }
    for line, expected in cases.items():
        found = scan.emit(line + b"\n", paths, -10.0, b'"s"', lambda line: UNDECIDED)
        assert found == (1, 1, expected + b"\n", 0), line


def test_keep_freed_memory_is_set_where_the_c_library_is_glibc(scan):
    import platform

    # Under AddressSanitizer (.ci/sanitize) its allocator, not glibc's, hands out memory.
    glibc = platform.libc_ver()[0] == "glibc" and "libasan" not in os.environ.get("LD_PRELOAD", "")
    assert scan.keep_freed_memory(16 << 20) is glibc
    with pytest.raises(ValueError):
        scan.keep_freed_memory(-1)


# emit's `into` (a -j worker's slot of shared memory): every room, from none
# to more than the output needs, gives the output emit gives without it, in
# the room when it fits, and not one byte is written past the room's end,
# though short lines are copied in blocks that run past their own end.
INTO_LINES = [b'{"index":1,"total":1}', b'{"index":0.5,"total":0.25}', b'{"index":0,"total":0}',
              b'{"index":2,"total":1,"note":"' + b"x" * 150 + b'"}',  # longer than a block
              b'{"in\\u0064ex":1,"total":1}',  # handed to decide
              b'{"index":1,"total":1,"x":"' + b"y" * 40 + b'"}', b"  ", b'{"index":-3,"total":1.5e-3}']


@pytest.mark.parametrize("invert", [False, True])
def test_emit_into_a_buffer_never_writes_past_it(scan, invert):
    spec = Spec(invert=invert)
    rng = random.Random(7)
    chunks = [b"\n".join(rng.choice(INTO_LINES) for _ in range(count)) + b"\n" for count in (1, 3, 40)]
    chunks.append(INTO_LINES[0])  # a last line without a newline: no block copy, nothing after it to read
    decide = functools.partial(filter_record, spec=spec)
    guard = b"\xa5" * 256
    for chunk in chunks:
        expected = scan.emit(chunk, paths_of(spec), spec.threshold, spec.sum_key, decide, invert)
        assert expected is not None
        fitted = set()
        for room in [*range(0, 400), *range(len(expected[2]) - 50, len(expected[2]) + 400)]:
            if room < 0:
                continue
            buffer = bytearray(guard + b"\0" * room + guard)
            into = memoryview(buffer)[len(guard):len(guard) + room]
            found = scan.emit(chunk, paths_of(spec), spec.threshold, spec.sum_key, decide, invert, into)
            into.release()
            assert buffer[:len(guard)] == guard and buffer[len(guard) + room:] == guard, (chunk, room)
            lines, selected, output, blank = found
            if isinstance(output, int):
                fitted.add(room)
                output = bytes(buffer[len(guard):len(guard) + output])
            assert (lines, selected, output, blank) == expected, (chunk, room)
        # A room large enough is used, and one too small is not.
        assert max(fitted) == len(expected[2]) + 399 and (not expected[2] or 0 not in fitted)


def test_emit_into_needs_a_writable_buffer(scan):
    for into in (b"read only" * 100, memoryview(b"read only" * 100), "text"):
        with pytest.raises((BufferError, TypeError)):
            scan.emit(b'{"index":1,"total":1}\n', ((b"index",),), 0.0, b'"s"', print, False, into)

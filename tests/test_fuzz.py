"""Property tests: arbitrary input never breaks jsonfilter, and it agrees with a strict reference.

The reference below is written from RFC 8259 and the contract, independently
of json_mapper: Python's `json`, with UTF-8 checked first, NaN/Infinity
refused, and the limits RFC 8259 lets a parser set (numbers beyond a double's
range, nesting deeper than 1024, lone surrogates: sections 6, 9 and 8.2) set
where orjson sets them.
"""
import contextlib
import gzip
import json
import math
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st

from json_mapper import BadRecord, Spec, filter_chunk, filter_record
from json_mapper.chunk import KEEP_BAD
from json_mapper.inputs import read_chunks

# ----------------------------------------------------------------- reference

MAX_DEPTH = 1024
JSON_WS = b" \t\r\n"
BLANK, BAD, SKIP, KEEP = "blank", "bad", "skip", "keep"


class Refused(ValueError):
    pass


def _refuse(literal):
    raise Refused(literal)


def _float(literal):
    value = float(literal)
    if math.isinf(value):
        raise Refused(literal)
    return value


def _int(literal):
    value = int(literal)  # ValueError past 4300 digits: far beyond a double anyway
    float(value)  # OverflowError beyond a double's range
    return value


_STRING_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _depth(text):
    depth = deepest = 0
    for ch in _STRING_TOKEN.sub('""', text):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _has_lone_surrogate(text):
    """Whether any string of valid JSON `text` (duplicates included) holds a lone surrogate."""
    for token in _STRING_TOKEN.findall(text):
        try:
            json.loads(token).encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


@contextlib.contextmanager
def deep_enough():
    """Python's json recurses once per level: let it reach orjson's limit."""
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 10 * MAX_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(old_limit)


def reference(line, spec):
    """(verdict, sum) for one line, from the contract alone."""
    if not line.strip(JSON_WS):
        return BLANK, None
    try:
        text = line.decode("utf-8")
        with deep_enough():
            obj = json.loads(text, parse_constant=_refuse, parse_float=_float, parse_int=_int)
    except (ValueError, OverflowError):
        return BAD, None
    if _depth(text) > MAX_DEPTH:
        return BAD, None
    if _has_lone_surrogate(text):
        return BAD, None
    if type(obj) is not dict:
        return BAD, None
    total = None
    for name in map(key_of, spec.fields):
        if name not in obj or type(obj[name]) not in (int, float):
            return BAD, None
        total = float(obj[name]) if total is None else total + float(obj[name])
    if not math.isfinite(total):
        return BAD, None
    return (KEEP, total) if total > spec.threshold else (SKIP, None)


def _literal(kind):
    return lambda text: (kind, text)


def literal_tree(text):
    """Parse keeping every number's literal and every object's members in order."""
    with deep_enough():
        return json.loads(text, object_pairs_hook=list, parse_float=_literal("num"),
                          parse_int=_literal("num"), parse_constant=_refuse)


THE_SUM = object()


def check_output_line(out, line, total, spec):
    """`out` is `line`'s record, literals intact, with the sum field set to `total`."""
    members = literal_tree(out.decode("utf-8"))
    original = literal_tree(line.decode("utf-8"))
    keys = [key for key, _ in original]
    expected = [(key, THE_SUM if key == spec.sum_field else value) for key, value in original]
    if spec.sum_field not in keys:
        expected.append((spec.sum_field, THE_SUM))
    assert [key for key, _ in members] == [key for key, _ in expected]
    for (_, got), (_, want) in zip(members, expected):
        if want is THE_SUM:
            kind, literal = got
            assert kind == "num" and float(literal) == total
        else:
            with deep_enough():
                assert got == want
    assert b"\n" not in out


def lines_of(stream):
    lines = stream.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


# ---------------------------------------------------------------- strategies

ws = st.sampled_from(["", "", "", " ", "\t", "\r", "  \t"])
number = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.sampled_from(["1e308", "1e309", "-1e309", "1" + "0" * 309, "4.9e-324", "1e-400",
                     "18446744073709551616", "-9223372036854775809", "1.7976931348623157e308"]),
)
string_literal = st.one_of(
    st.text().map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.text().map(json.dumps),
    st.from_regex(r'"([^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"', fullmatch=True),
)
scalar = st.one_of(number, string_literal, st.sampled_from(["true", "false", "null"]))


def _wrap(children):
    def array(items):
        return "[" + ",".join(items) + "]"

    def obj(pairs):
        return "{" + ",".join(f"{k}{a}:{b}{v}" for k, a, b, v in pairs) + "}"

    return st.one_of(
        st.lists(children, max_size=4).map(array),
        st.lists(st.tuples(string_literal, ws, ws, children), max_size=4).map(obj),
    )


json_value = st.recursive(scalar, _wrap, max_leaves=12)

name = st.text(min_size=1, max_size=6)
plain_name = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=",\x00"),
                     min_size=1, max_size=6)


def as_field(key):
    """The -f name of top-level key `key`: a JSON Pointer where a plain name would be a path."""
    if "." in key or key.startswith("/"):
        return "/" + key.replace("~", "~0").replace("/", "~1")
    return key


def key_of(field):
    """The top-level key an `as_field` name reaches."""
    if field.startswith("/"):
        return field[1:].replace("~1", "/").replace("~0", "~")
    return field


@st.composite
def specs(draw, names=name):
    pool = draw(st.lists(names, min_size=1, max_size=3))
    fields = [as_field(key) for key in draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))]
    sum_field = draw(st.one_of(names, st.sampled_from(pool + ["sum_val"])))
    threshold = draw(st.one_of(st.floats(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                               st.just(1.99)))
    return Spec(threshold=threshold, fields=fields, sum_field=sum_field)


@st.composite
def records(draw, spec):
    """Object text whose members are mostly the spec's fields with numbers."""
    summed = [key_of(field) for field in spec.fields]
    keys = summed + draw(st.lists(st.one_of(name, st.just(spec.sum_field)), max_size=3))
    keys = draw(st.permutations(keys))
    members = []
    for key in keys:
        key_text = json.dumps(key, ensure_ascii=draw(st.booleans()))
        value = draw(number) if key in summed and draw(st.integers(0, 9)) else draw(json_value)
        members.append(f"{draw(ws)}{key_text}{draw(ws)}:{draw(ws)}{value}{draw(ws)}")
    return draw(ws) + "{" + ",".join(members) + "}" + draw(ws)


def _damage(text, data):
    raw = text.encode("utf-8", "surrogatepass")
    how = data.draw(st.sampled_from(["cut", "flip", "insert", "none"]))
    if how == "cut" and raw:
        return raw[:data.draw(st.integers(0, len(raw) - 1))]
    if how == "flip" and raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([data.draw(st.integers(0, 255))]) + raw[i + 1:]
    if how == "insert":
        i = data.draw(st.integers(0, len(raw)))
        return raw[:i] + data.draw(st.binary(max_size=3)) + raw[i:]
    return raw


@st.composite
def streams(draw, spec):
    """JSON Lines: good records, damaged ones, other JSON, blank lines and raw bytes."""
    data = draw(st.data())
    lines = []
    for kind in draw(st.lists(st.integers(0, 9), max_size=12)):
        if kind < 5:
            lines.append(draw(records(spec)).encode("utf-8", "surrogatepass"))
        elif kind < 7:
            lines.append(_damage(draw(records(spec)), data))
        elif kind == 7:
            lines.append(draw(json_value).encode("utf-8", "surrogatepass"))
        elif kind == 8:
            lines.append(draw(st.sampled_from([b"", b" ", b"\r", b"\t \r"])))
        else:
            lines.append(draw(st.binary(max_size=40)))
    return b"\n".join(lines) + draw(st.sampled_from([b"\n", b"", b"\r\n"]))


# ------------------------------------------------------------ in-process runs

def check_record(line, spec):
    verdict, total = reference(line, spec)
    if currently_in_test_context():
        event(verdict)
    try:
        out = filter_record(line, spec)
    except BadRecord as err:
        assert verdict == BAD, (line, err.reason)
        assert err.reason and "\n" not in err.reason
        return verdict, None
    if verdict == KEEP:
        assert out is not None, line
        check_output_line(out, line, total, spec)
    else:
        assert verdict in (BLANK, SKIP) and out is None, (line, verdict, out)
    return verdict, out


DEEP = b'{"index": 1, "total": 1, "x": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
TOO_DEEP = b'{"index": 1, "total": 1, "x": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_stream_agrees_with_reference(data):
    spec = data.draw(specs())
    stream = data.draw(streams(spec))
    verdicts = [check_record(line, spec) for line in lines_of(stream)]
    result = filter_chunk(stream, spec)
    assert result.lines == len(verdicts)
    bad = [i for i, (v, _) in enumerate(verdicts) if v == BAD]
    assert result.bad_count == len(bad)
    assert [line.index for line in result.bad] == bad[:KEEP_BAD]
    selected = [out for v, out in verdicts if v == KEEP]
    assert (result.output, result.selected) == (b"".join(out + b"\n" for out in selected), len(selected))


@settings(max_examples=300, deadline=None)
@given(line=st.binary(max_size=200), spec=specs())
def test_arbitrary_bytes_agree_with_reference(line, spec):
    check_record(line.replace(b"\n", b""), spec)


# Inputs worth keeping whatever hypothesis happens to draw: the edges of the
# limits the reference sets, each named for what it pins down.
EDGE_CASES = {
    "depth_1024_accepted": DEEP,
    "depth_1025_refused": TOO_DEEP,
    "double_max_accepted": b'{"index": 1.7976931348623157e308, "total": 0}',
    "double_overflow_refused": b'{"index": 1e309, "total": 0}',
    "integer_overflow_refused": b'{"index": 1' + b"0" * 309 + b', "total": 0}',
    "integer_beyond_u64": b'{"index": 18446744073709551616, "total": 0}',
    "sum_overflows": b'{"index": 1e308, "total": 1e308}',
    "underflow_is_zero": b'{"index": 1e-400, "total": 2}',
    "nan_refused": b'{"index": NaN, "total": 1}',
    "infinity_refused": b'{"index": Infinity, "total": 1}',
    "lone_surrogate_in_overwritten_duplicate": b'{"index": 1, "total": 1, "x": "\\uD800", "x": 0}',
    "lone_surrogate_refused": b'{"index": 1, "total": 1, "x": "\\ud800"}',
    "surrogate_pair_accepted": b'{"index": 1, "total": 1, "x": "\\ud83d\\ude00"}',
    "encoded_surrogate_refused": b'{"index": 1, "total": 1, "x": "\xed\xa0\x80"}',
    "overlong_utf8_refused": b'{"index": 1, "total": 1, "x": "\xc0\xaf"}',
    "bool_is_not_a_number": b'{"index": true, "total": 1}',
    "last_duplicate_wins": b'{"index": "x", "total": 1, "index": 1.5}',
    "sum_field_replaced_everywhere": b'{"sum_val": 1, "index": 1, "total": 1, "sum_val": [2]}',
    "escaped_sum_field_replaced": b'{"\\u0073um_val": 1, "index": 1, "total": 1}',
    "nested_sum_field_untouched": b'{"index": 1, "x": {"sum_val": 5, "y": ["sum_val", {"sum_val": 6}]}, "total": 1}',
    "quotes_and_braces_in_strings": b'{"a\\"b": "}\\"{", "index": 1, "total": 1, "sum_val": "\\\\"}',
    "empty_object_fields_missing": b"{}",
    "null_member_beside_the_sum": b'{"index": 1, "total": 1, "x": null}',
    "form_feed_is_not_whitespace": b'\x0c{"index": 1, "total": 1}',
    "bom_inside_stream_refused": b'\xef\xbb\xbf{"index": 1, "total": 1}',
    "carriage_return_is_whitespace": b'{"index": 1, "total": 1}\r',
    "nul_after_record_refused": b'{"index": 1, "total": 1}\x00',
}


@pytest.mark.parametrize("line", EDGE_CASES.values(), ids=EDGE_CASES.keys())
@pytest.mark.parametrize("spec", [Spec(), Spec(threshold=-1e300), Spec(fields=("total",), sum_field="index")],
                         ids=["default", "low_threshold", "sum_into_field"])
def test_edge_cases_agree_with_reference(line, spec):
    check_record(line, spec)


def test_reference_is_not_vacuous():
    # The edges above must exercise every verdict, or agreeing would prove little.
    verdicts = {reference(line, Spec(threshold=-1e300))[0] for line in EDGE_CASES.values()}
    assert verdicts == {BAD, KEEP}
    assert reference(b" \r", Spec())[0] == BLANK
    assert reference(b'{"index": 0, "total": 0}', Spec())[0] == SKIP


# ------------------------------------------------------------ the real command

def expected_run(stream, spec, on_error, name):
    """Expected (stdout, message lines, status) of the command, from the reference."""
    if stream.startswith(b"\xef\xbb\xbf"):
        stream = stream[3:]
    out, messages = [], []
    for lineno, line in enumerate(lines_of(stream), 1):
        verdict, _ = reference(line, spec)
        if verdict == KEEP:
            out.append(filter_record(line, spec) + b"\n")
        elif verdict == BAD:
            messages.append(f"jsonfilter: {name}:{lineno}: ".encode())
            if on_error == "fail":
                return b"".join(out), messages, 2
    if on_error == "skip":
        return b"".join(out), [], 0
    return b"".join(out), messages, 1 if messages else 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_command_agrees_with_reference(data, cli_env, tmp_path):
    spec = data.draw(specs(plain_name))
    stream = data.draw(streams(spec))
    if data.draw(st.booleans()):
        stream = b"\xef\xbb\xbf" + stream
    on_error = data.draw(st.sampled_from(["warn", "skip", "fail"]))
    stats = data.draw(st.booleans())
    args = ["jsonfilter", f"--threshold={spec.threshold!r}", "--fields=" + ",".join(spec.fields),
            f"--sum-field={spec.sum_field}", f"--on-error={on_error}"] + (["--stats"] if stats else [])
    source = data.draw(st.sampled_from(["stdin", "plain", "gzip"]))
    if source == "stdin":
        name, stdin = "<stdin>", stream
    else:
        path = tmp_path / f"in.{source}"
        path.write_bytes(gzip.compress(stream) if source == "gzip" else stream)
        name, stdin = str(path), b""
        args.append(str(path))
    result = subprocess.run(args, input=stdin, capture_output=True, env=cli_env, timeout=60)

    stdout, messages, status = expected_run(stream, spec, on_error, name)
    assert b"Traceback" not in result.stderr
    assert result.returncode == status, result.stderr
    assert result.stdout == stdout
    errors = result.stderr.splitlines(keepends=True)
    if stats:
        assert b" lines read, " in errors.pop()
    if len(messages) > 10 and on_error == "warn":
        assert errors.pop().startswith(f"jsonfilter: {len(messages)} bad records in all".encode())
        messages = messages[:10]
    assert len(errors) == len(messages)
    for got, prefix in zip(errors, messages):
        assert got.startswith(prefix) and len(got) > len(prefix) + 1


# ---------------------------------------------------------------- regressions
# Inputs that once failed, each named after its bug.

@pytest.mark.parametrize("option", ["fields", "sum_field"])
def test_bug_undecodable_field_name_was_internal_error(option):
    # Undecodable bytes in argv arrive as lone surrogates; orjson cannot quote
    # them, so every record ended in "internal error: TypeError".
    with pytest.raises(ValueError, match="not valid UTF-8"):
        Spec(**{option: "\udcff"})


@pytest.mark.parametrize("option", ["-f", "-s"])
def test_bug_undecodable_field_name_on_command_line(cli_env, option):
    result = subprocess.run([b"jsonfilter", option.encode(), b"\xff"], input=b'{"index": 1, "total": 1}\n',
                            capture_output=True, env=cli_env, timeout=60)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.startswith(b"jsonfilter: field name ")
    assert b"not valid UTF-8" in result.stderr
    assert result.stderr.count(b"\n") == 1


class Trickle:
    """A reader that hands out at most the next planned number of bytes per read, like a pipe."""

    def __init__(self, data, sizes):
        self.data = data
        self.sizes = sizes or [1]
        self.at = 0
        self.reads = 0

    def read1(self, size):
        want = self.sizes[self.reads % len(self.sizes)]
        self.reads += 1
        piece = self.data[self.at:self.at + min(size, want)]
        self.at += len(piece)
        return piece


def test_bug_bom_in_a_read_of_its_own_dropped_the_input():
    # A read that returned exactly the BOM left nothing once it was dropped,
    # and that empty piece was taken for the end of the input.
    data = b'{"index": 1, "total": 1}\n'
    for sizes in ([3, 100], [1, 1, 1, 100], [2, 1, 100]):
        chunks = list(read_chunks(Trickle(b"\xef\xbb\xbf" + data, sizes), "-"))
        assert b"".join(chunks) == data


def test_bug_bom_in_a_write_of_its_own_dropped_the_input(cli_env):
    # The same through a pipe: a producer that writes the BOM by itself.
    producer = "printf '\\357\\273\\277'; sleep 0.3; printf '{\"index\": 1, \"total\": 1}\\n'"
    result = subprocess.run(f"({producer}) | jsonfilter", shell=True, capture_output=True,
                            env=cli_env, timeout=60)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == b'{"index": 1, "total": 1,"sum_val":2.0}\n'


# ------------------------------------------------------------ chunking

@settings(max_examples=300, deadline=None)
@example(lines=[b"\xef\xbb\xbf"], end=b"", bom=False, sizes=[], chunk_size=1)
@example(lines=[b"\xef\xbb\xbfx"], end=b"\n", bom=True, sizes=[2], chunk_size=1)
@given(lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=20),
       end=st.sampled_from([b"", b"\n"]), bom=st.booleans(),
       sizes=st.lists(st.integers(1, 40), max_size=8), chunk_size=st.integers(1, 64))
def test_chunks_are_whole_lines_whatever_the_reads(lines, end, bom, sizes, chunk_size):
    # However a pipe splits the bytes, the chunks are the input, BOM dropped,
    # cut only after newlines.
    data = b"\xef\xbb\xbf" * bom + (b"\n".join(lines) + end if lines else b"")
    chunks = list(read_chunks(Trickle(data, sizes), "-", chunk_size=chunk_size))
    # One BOM at the very start is dropped, and nothing else.
    assert b"".join(chunks) == (data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
    assert all(chunks)

"""End-to-end differential fuzzing at the scale the fast paths run.

Seeded random and mutated records (bad UTF-8 in keys and values, escapes,
odd numbers, 17+ digit literals, big integers, deep nesting, BOMs, blank
lines, CRLF, an existing sum field, missing and non-number fields, other
JSON values) are embedded in multi-MiB streams of the blog's records: in
the first chunk, mid-stream, across the 1 MiB and 2 MiB boundaries of a
chunk, and as the last line without a newline. Each stream goes through the
real command as a file, stdin, gzip, `-j 2` and `-j 0`, and its stdout,
messages (FILE:LINE and reason) and exit status must match a reference
written here from the README's contract, with Python's `json`: 16 streams of
about 4 MB (69,000 lines, 364 of them tricky) x 5 modes = 80 runs.
Reasons are compared exactly where the README fixes their text, and by kind
("invalid JSON: ") where it leaves the parser's words open.
"""
import gzip
import json
import math
import random

import pytest

from test_fuzz import MAX_DEPTH, _depth, _float, _has_lone_surrogate, _int, _refuse, deep_enough

MIB = 1 << 20
JSON_WS = b" \t\r\n"
BOM = b"\xef\xbb\xbf"
SEEDS = range(16)
MODES = ["file", "stdin", "gzip", "jobs_2", "jobs_0"]
TYPE_NAMES = {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
              int: "a number", float: "a number"}


# ----------------------------------------------------------------- reference

def verdict(line, fields, sum_field, threshold):
    """(output line or None, reason or None) for one line, from the README alone.

    A reason ending in ": " is a kind: the README leaves the rest to the parser.
    """
    if not line.strip(JSON_WS):
        return None, None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"invalid UTF-8 at byte {err.start + 1}"
    try:
        with deep_enough():
            obj = json.loads(text, parse_constant=_refuse, parse_float=_float, parse_int=_int)
    except (ValueError, OverflowError, RecursionError):
        return None, "invalid JSON: "
    if _depth(text) > MAX_DEPTH or _has_lone_surrogate(text):
        return None, "invalid JSON: "
    if type(obj) is not dict:
        return None, f"not a JSON object but {TYPE_NAMES[type(obj)]}"
    total = None
    for name in fields:
        if name not in obj:
            return None, f'missing field "{name}"'
        if type(obj[name]) not in (int, float):
            return None, f'field "{name}" is not a number'
        total = float(obj[name]) if total is None else total + float(obj[name])
    if not math.isfinite(total):
        return None, "sum is not finite"
    if not total > threshold:
        return None, None
    record = line.strip(JSON_WS)
    number = repr(total).encode()
    if sum_field in obj:  # made only by `with_sum_field` below, whose output is known
        return None, f"a record with {sum_field} not made by with_sum_field"
    comma = b"," if obj else b""
    return record[:-1].rstrip(JSON_WS) + comma + b'"' + sum_field.encode() + b'":' + number + b"}", None


def line_verdicts(data, threshold, replaced):
    """Yield (line, output, reason) for each line of `data`, as the contract decides it."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for line in lines:
        if line.rstrip(b"\r") in replaced:  # a record that already has the sum field: known from how it was made
            yield (line, *replaced[line.rstrip(b"\r")](threshold))
        else:
            yield (line, *verdict(line, ("index", "total"), "sum_val", threshold))


def expected_run(data, name, on_error, threshold, replaced):
    """Expected (stdout, [(prefix, reason)], status) of the command on `data`."""
    out, messages = [], []
    for lineno, (_, output, reason) in enumerate(line_verdicts(data, threshold, replaced), 1):
        if output is not None:
            out.append(output + b"\n")
        if reason is not None:
            messages.append((f"jsonfilter: {name}:{lineno}: ", reason))
            if on_error == "fail":
                return b"".join(out), messages, 2
    if on_error == "skip":
        return b"".join(out), [], 0
    return b"".join(out), messages, 1 if messages else 0


# ---------------------------------------------------------------- the streams

def blog_record(rnd):
    return b'{"index": %r, "total": %r}' % (rnd.random(), rnd.random())


ODD_NUMBERS = [b"-0", b"-0.0", b"1E2", b"1e-400", b"4.9e-324", b"1.7976931348623157e308", b"1e309", b"-1e400",
               b"01", b"1.", b".5", b"+1", b"0.12345678901234567890123", b"12345678901234567890123",
               b"18446744073709551616", b"1" + b"0" * 400, b"2.00000000000000000001", b"NaN", b"Infinity",
               b"0.99999999999999999999", b"1.0000000000000002", b"99999999999999999999e-19"]
STRINGS = [b'"caf\\u00e9 \\"q\\" \\\\ \\/ \\ud83d\\ude00"', b'"\\ud800"', b'"\\udc00x"', '"ünï"'.encode(),
           b'"a\xffb"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'"\xe2\x82"', b'"tab\there"', b'"\\u0000"']
KEYS = [b'"x"', b'"ind\\u0065x"', b'"k\xffey"', b'"\xff"', '"ké"'.encode(), b'"\\u00e9"', b'"a\\"b"']


def tricky_record(rnd, replaced):
    """One line meant to be odd in some way, from a menu of what the README speaks of."""
    a, b = rnd.choice([b"1", b"0.5", b"0.1"]), rnd.choice([b"1", b"1.5", b"0.2"])
    kind = rnd.randrange(16)
    if kind == 0:
        return b'{"index": %s, "total": %s, %s: 1}' % (a, b, rnd.choice(KEYS))
    if kind == 1:
        return b'{"index": %s, "total": %s, "v": %s}' % (a, b, rnd.choice(STRINGS))
    if kind == 2:
        return b'{"index": %s, "total": %s}' % (rnd.choice(ODD_NUMBERS), rnd.choice([a, rnd.choice(ODD_NUMBERS)]))
    if kind == 3:
        return b'{"index": %s, "total": %s, "n": %s}' % (a, b, rnd.choice(ODD_NUMBERS))
    if kind == 4:
        depth = rnd.choice([10, 63, 64, 65, 1000, 1023, 1024, 1100])
        return b'{"index": %s, "total": %s, "d": %s%s}' % (a, b, b"[" * depth, b"]" * depth)
    if kind == 5:
        return rnd.choice([b"", b" ", b"\t", b"\r", b" \t\r"])
    if kind == 6:
        return blog_record(rnd) + b"\r"
    if kind == 7 and replaced is not None:
        return with_sum_field(rnd, a, b, replaced)
    if kind == 8:
        return rnd.choice([b'{"index": %s}' % a, b'{"total": %s}' % b, b"{}", b'{"Index": 1, "total": 1}'])
    if kind == 9:
        value = rnd.choice([b'"1"', b"true", b"false", b"null", b"[1]", b'{"a": 1}'])
        return rnd.choice([b'{"index": %s, "total": %s}' % (value, b), b'{"index": %s, "total": %s}' % (a, value)])
    if kind == 10:
        return rnd.choice([b"[1, 2]", b'"s"', b"3", b"true", b"null", b"x", b"{", b"}", b"not json", BOM + b"{}",
                           b'{"index": 1, "total": 1} x', b'{"index": 1, "total": 1}{}', b"\x00"])
    if kind == 11:
        return b'{"index": 1e308, "total": %s}' % rnd.choice([b"1e308", b"-1e308", b"1.7976931348623157e308"])
    if kind == 12:  # duplicate keys: the last one counts
        return b'{"index": "x", "total": %s, "index": %s, "index": %s}' % (b, a, rnd.choice([a, b"true"]))
    if kind == 13:
        return b' \t{ "index" : %s ,\t"total":%s , "msg": "a}b{\\"" } \r' % (a, b)
    return mutated(blog_record(rnd) if kind == 14 else tricky_record(rnd, None), rnd)


def mutated(line, rnd):
    data = bytearray(line)
    for _ in range(rnd.randint(1, 3)):
        at = rnd.randrange(len(data) + 1)
        how = rnd.randrange(3)
        if how == 0 and data:
            data[min(at, len(data) - 1)] = rnd.randrange(256)
        elif how == 1:
            data[at:at] = bytes([rnd.randrange(256)])
        elif data:
            del data[min(at, len(data) - 1)]
    return bytes(data).replace(b"\n", b"")


def with_sum_field(rnd, a, b, replaced):
    """A record that already holds sum_val: its expected output is known from how it is made."""
    value = rnd.choice([b"null", b"1", b'"x"', b"[1, 2]", b'{"sum_val": 3}'])
    parts = [b'{"sum_val": ', b', "index": %s, "total": %s, "sum_val" :' % (a, b), b"}"]
    line = parts[0] + value + parts[1] + value + parts[2]

    def expected(threshold):
        total = float(a) + float(b)
        if not total > threshold:
            return None, None
        number = repr(total).encode()
        return parts[0] + number + parts[1] + number + parts[2], None

    replaced[line] = expected
    return line


def stream(seed):
    """(data, `replaced`): about 3 MiB of blog records with tricky lines in every place that matters."""
    rnd = random.Random(seed)
    replaced = {}
    lines = [blog_record(rnd) + b"\n" for _ in range(3 * MIB // 46)]
    tricky = lambda: tricky_record(rnd, replaced) + rnd.choice([b"\n", b"\n", b"\r\n"])  # noqa: E731
    for _ in range(50):  # the first chunk
        lines.insert(rnd.randrange(200), tricky())
    for _ in range(300):  # anywhere in the first half
        lines.insert(rnd.randrange(len(lines) // 2), tricky())
    # Lines starting just before a chunk boundary, so they reach across it:
    # ten at 1 MiB, one at 2 MiB. In the chunks after 2 MiB the damage is
    # sparse: one damaged record in a chunk of the blog's records (the fast
    # paths decide chunks of those, so it must notice the one bad line).
    offset = 0
    for i, line in enumerate(lines):
        offset += len(line)
        for mark, count in ((MIB, 10), (2 * MIB, 1), (2.6 * MIB, 1), (3.5 * MIB, 1)):
            if offset - len(line) < mark < offset:
                for _ in range(count):
                    lines.insert(i, tricky() if mark <= 2 * MIB else mutated(blog_record(rnd), rnd) + b"\n")
    lines.append(tricky_record(rnd, replaced) or b"x")
    data = b"".join(lines)
    if seed % 2:
        data += b"\n"  # half of them end with a newline, half without
    if seed % 3 == 0:
        data = BOM + data
    return data, replaced


OPTIONS = [(["--on-error", "warn"], 1.99), (["-t", "1.0"], 1.0), (["--on-error", "skip", "-t=-1e5"], -1e5),
           (["--on-error", "fail", "-t", "1.5"], 1.5)]


@pytest.fixture(scope="module")
def streams():
    return {seed: stream(seed) for seed in SEEDS}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", SEEDS)
def test_command_agrees_with_the_reference_on_large_streams(run_jsonfilter, tmp_path, streams, seed, mode):
    data, replaced = streams[seed]
    options, threshold = OPTIONS[seed % len(OPTIONS)]
    on_error = options[options.index("--on-error") + 1] if "--on-error" in options else "warn"
    if mode == "stdin":
        name = "<stdin>"
        result = run_jsonfilter(*options, stdin=data, timeout=300)
    else:
        name = "in.json.gz" if mode == "gzip" else "in.json"
        (tmp_path / name).write_bytes(gzip.compress(data, 1) if mode == "gzip" else data)
        jobs = {"jobs_2": ["-j", "2"], "jobs_0": ["-j", "0"]}.get(mode, [])
        result = run_jsonfilter(*jobs, *options, name, timeout=300)

    stdout, messages, status = expected_run(data, name, on_error, threshold, replaced)
    assert len(messages) >= (1 if on_error != "skip" else 0)  # the stream is tricky enough to say so
    assert b"Traceback" not in result.stderr
    assert result.stdout == stdout
    errors = result.stderr.decode("utf-8").splitlines()
    if on_error == "warn" and len(messages) > 10:
        assert errors.pop() == f"jsonfilter: {len(messages)} bad records in all ({len(messages) - 10} not shown)"
        messages = messages[:10]
    assert len(errors) == len(messages), errors
    for got, (prefix, reason) in zip(errors, messages):
        if reason.endswith(": "):
            assert got.startswith(prefix + reason), (got, reason)
        else:
            assert got == prefix + reason
    assert result.returncode == status

"""The native scanner's kernels against its scalar one.

Each kernel (SSE4.2, AVX2, AVX-512) looks at 16, 32 or 64 bytes at a time;
the scalar kernel, one, is the reference. Whatever the chunk, every kernel
must give what the scalar one gives: the same result (or None, or the same
exception), the same lines handed to `decide`, in the same order. The
chunks here put the bytes the wide kernels treat apart (quotes,
backslashes, control characters, bytes past ASCII, line feeds, digits) at
every position around their block sizes, from the start of a string and
from the end of the chunk, and then fill several MiB. test_scan.py runs its
own tests with every kernel against filter_record.
"""
import gzip
import os
import platform
import random
import subprocess
import sys

import orjson
import pytest

from conftest import ROOT, corpus_params, require_module
from json_mapper.record import BadRecord, Spec, filter_record
from test_batch import ONE_LINE_FILES
from test_scan import random_chunk, sums_of

WIDE = ["sse42", "avx2", "avx512"]


@pytest.fixture(scope="module")
def scan():
    module = require_module("json_mapper._scan")
    before = module.kernel()
    yield module
    module.kernel(before)


@pytest.fixture(params=WIDE)
def wide(request, scan):
    """The name of a wide kernel this CPU runs."""
    if request.param not in scan.kernels():
        pytest.skip(f"this CPU does not run the {request.param} kernel")
    return request.param


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(platform.machine() != "x86_64" or not os.path.exists("/proc/cpuinfo"),
                    reason="the CPU's flags are read from Linux's /proc/cpuinfo on x86-64")
def test_the_kernels_are_those_the_cpu_has(scan):
    flags = cpu_flags()
    expected = ["scalar"]
    if "sse4_2" in flags:
        expected.append("sse42")
    if {"avx2", "bmi2"} <= flags:
        expected.append("avx2")
    if {"avx512f", "avx512bw", "avx512vl", "bmi2"} <= flags:
        expected.append("avx512")
    assert scan.kernels() == tuple(expected)


def test_the_widest_kernel_short_of_avx512_is_the_default_and_the_variable_forces_each(scan):
    def kernel_with(value):
        env = {k: v for k, v in os.environ.items() if k != "JSONFILTER_SCANNER"}
        env["PYTHONPATH"] = str(ROOT)
        if value is not None:
            env["JSONFILTER_SCANNER"] = value
        run = subprocess.run([sys.executable, "-c", "import json_mapper._scan as s; print(s.kernel())"],
                             env=env, capture_output=True, text=True, check=True)
        return run.stdout.strip()

    widest = [name for name in scan.kernels() if name != "avx512"][-1]
    assert kernel_with(None) == widest
    for name in scan.kernels():
        assert kernel_with(name) == name
    # A name this CPU cannot run (or none at all) is passed over.
    assert kernel_with("neon") == widest
    assert kernel_with("") == widest


def test_kernel_refuses_what_the_cpu_does_not_run(scan):
    with pytest.raises(ValueError, match="no scanner kernel neon"):
        scan.kernel("neon")
    before = scan.kernel()
    assert scan.kernel("scalar") == "scalar" == scan.kernel()
    scan.kernel(before)


class Decide:
    """filter_record's answer, remembering the lines; a bad line answers None."""

    def __init__(self, spec):
        self.spec = spec
        self.lines = []

    def __call__(self, line):
        self.lines.append(line)
        try:
            out = filter_record(line, self.spec)
        except BadRecord:
            return None
        return out if isinstance(out, bytes) else None


def run(scan, kernel, chunk, spec):
    """What emit gives with `kernel`: (result, lines handed to decide)."""
    scan.kernel(kernel)
    decide = Decide(spec)
    paths = tuple(tuple(key.encode() for key in path) for path in spec.paths)
    found = scan.emit(chunk, paths, spec.threshold, spec.sum_key, decide)
    return found, decide.lines


def same_as_scalar(scan, kernel, chunk, spec=Spec()):
    expected = run(scan, "scalar", chunk, spec)
    assert run(scan, kernel, chunk, spec) == expected, chunk[-200:]
    return expected


# The bytes the wide kernels stop at, and what they start: each is read by
# the scalar code, good or bad.
SPECIAL = [b'"', b"\\", b'\\"', b"\\\\", b"\\\\\\", b"\\n", b"\\u00e9", b"\\ud83d\\ude00", b"\\ud83d", b"\\udc00",
           b"\\x", b"\\u12", b"\x00", b"\x1f", b"\t", b"\r", b"\n", b"\x7f", b" ", b"\x80", b"\xc3\xa9", b"\xc3",
           b"\xe2\x82\xac", b"\xe2\x82", b"\xed\xa0\x80", b"\xef\xbf\xbf", b"\xf0\x9f\x98\x80", b"\xf4\x90\x80\x80",
           b"\xc0\xaf", b"\xff", b"}", b",", b":"]
BLOCK = 64
GOOD = b'{"index": 0.25, "total": 0.5}\n{"index":1,"total":1.5}\n'


def lines_with(special, at, length):
    """Lines with `special` at `at` in a string of `length` plain bytes: a value, a key, a summed key."""
    text = (b"a" * length)[:at] + special + (b"a" * length)[at:]
    return [b'{"index":0.5,"msg":"' + text + b'","total":0.75}',
            b'{"' + text + b'":1,"index":1,"total":1}',
            b'{"index":1,"to' + text + b'tal":1}']


@pytest.mark.parametrize("special", SPECIAL, ids=repr)
def test_special_bytes_at_every_position_of_a_string(scan, wide, special):
    for length in (0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100):
        for at in range(length + 1):
            for line in lines_with(special, at, length):
                same_as_scalar(scan, wide, GOOD + line + b"\n" + GOOD)


@pytest.mark.parametrize("special", SPECIAL, ids=repr)
def test_special_bytes_at_every_distance_from_the_chunk_end(scan, wide, special):
    # The last bytes of a chunk, fewer than a block, are read another way.
    for length in range(2 * BLOCK + 2):
        for at in (0, length // 2, length):
            for line in lines_with(special, at, length):
                for end in (b"", b"\n", b" ", b"\r\n"):
                    same_as_scalar(scan, wide, GOOD + line + end)


def test_line_feeds_at_every_position(scan, wide):
    # Lines of every length up to a few blocks, blank ones among them.
    rnd = random.Random(1)
    for length in range(3 * BLOCK):
        pad = b" " * length
        for chunk in (b'{"index":1,"total":1}' + pad + b"\n" + pad + b"\n" + GOOD,
                      pad + b'{"index":1,' + pad + b'"total":1}\n' + pad,
                      b"\n" * length + GOOD + b"\n" * rnd.randrange(3)):
            same_as_scalar(scan, wide, chunk)


@pytest.mark.parametrize("spec", [Spec(), Spec(threshold=-1e300), Spec(threshold=1.5)], ids=["1.99", "all", "1.5"])
def test_numbers_of_every_length(scan, wide, spec):
    # Runs of digits of every length around sixteen, with something else
    # where each one could stop.
    for head in (b"0", b"-0", b"1", b"999", b"1000", b"99999", b"123456789", b"12345678901234567890"):
        for digits in range(0, 42):
            fraction = bytes(random.Random(digits).choices(b"0123456789", k=digits))
            for tail in (b"", b"e5", b"E-7", b"e+99", b"e100", b"x", b"."):
                number = head + (b"." + fraction if digits else b"") + tail
                same_as_scalar(scan, wide, GOOD + b'{"index":' + number + b',"total":0.5}\n', spec)
                same_as_scalar(scan, wide, GOOD + b'{"index":0.5,"total":' + number + b"}", spec)


def test_parse_reads_every_number_as_the_scalar_kernel_does(scan, wide):
    rnd = random.Random(2)
    for _ in range(20000):
        head = rnd.choice(["0", "-0", "1", "7", "999", "1000", "54321", "-123456", str(rnd.randrange(10**20))])
        fraction = "".join(rnd.choices("0123456789", k=rnd.randrange(0, 45)))
        text = head + ("." + fraction if fraction else "") + rnd.choice(["", "", "e-3", "E+12", "e-330"])
        scan.kernel("scalar")
        expected = scan._parse(text.encode())
        scan.kernel(wide)
        found = scan._parse(text.encode())
        reference = float(orjson.loads(text))  # what filter_record adds
        assert (found, str(found)) == (expected, str(expected)) == (reference, str(reference)), text


@pytest.mark.parametrize("seed", range(2))
def test_mebibytes_of_random_records(scan, wide, seed):
    rnd = random.Random(seed)
    chunk = random_chunk(rnd, 3 << 20)
    sums = sums_of(chunk, Spec())
    for threshold in (-1e300, sums[len(sums) // 2], sums[-1] + 1):
        found, handed = same_as_scalar(scan, wide, chunk, Spec(threshold=threshold))
        assert found is not None and found[0] > 20000 and len(handed) < found[0] / 15


def test_mebibytes_with_a_special_byte_anywhere(scan, wide):
    # One damaged byte in a few MiB: the same lines decided, the same chunk refused.
    rnd = random.Random(3)
    chunk = random_chunk(rnd, 2 << 20)
    spec = Spec(threshold=1)
    for _ in range(40):
        at = rnd.randrange(len(chunk))
        damaged = chunk[:at] + rnd.choice(SPECIAL) + chunk[at + 1:]
        same_as_scalar(scan, wide, damaged, spec)


def test_the_blogs_records(scan, wide):
    rnd = random.Random(4)
    chunk = b"".join(b'{"index": 0.%017d, "total": 0.%017d}\n' % (rnd.randrange(10**17), rnd.randrange(10**17))
                     for _ in range(40000))
    for threshold in (1.99, 1.5, 1, 0):
        found, handed = same_as_scalar(scan, wide, chunk, Spec(threshold=threshold))
        assert found[0] == 40000 and handed == []


@pytest.mark.jsontestsuite
@pytest.mark.parametrize("path", corpus_params(ONE_LINE_FILES), ids=lambda p: p.name if p else "none")
def test_every_jsontestsuite_value(scan, path):
    value = path.read_bytes().rstrip(b"\n")
    for kernel in scan.kernels()[1:]:
        for record in (b'{"index":1,"total":1,"x":' + value + b"}", b'{"x":' + value + b',"index":0.5,"total":0.5}',
                       b'{"index":0.5,"total":' + value + b"}"):
            same_as_scalar(scan, kernel, GOOD + record + b"\n" + GOOD)
            same_as_scalar(scan, kernel, GOOD + record)



# A flat record's pieces, and what may come between them: the wide kernels
# read a line whose fields are all one key deep, and whose line feed is in
# the chunk, with a parser of their own (flat_object_end).
SPACES = ["", "", "", " ", "  ", "\t", "\r", " \t\r "]
NOISE_VALUES = ["1", "-0.5e3", '"text"', '"a\\"b"', '"\\u00e9t\\u00e9"', '"\u00e9t\u00e9"', '"\\ud83d\\ude00"',
                "true", "false", "null", "{}", "[]", '[1, {"index": 2}]',
                '{"index": 1, "total": {"a": []}}', '"' + "x" * 70 + '"']
PATH_VALUES = ["0.38511804380287472", "1", "-2", "0", "-0.0", "1e5", "12345678901234567890.5", "0.1e-400", "1E+2",
               "null", '"1"', "{}", "[1]", "true"]
NOISE_KEYS = ["msg", "ind\\u0065x", "sum_val", "index" + "x" * 40, "t\u00f6tal", "", "a\\\\b", "indexx", "tota"]


def flat_record(rnd):
    members = [("index", rnd.choice(PATH_VALUES)), ("total", rnd.choice(PATH_VALUES))]
    members += [(rnd.choice(NOISE_KEYS), rnd.choice(NOISE_VALUES)) for _ in range(rnd.randrange(3))]
    if rnd.random() < 0.05:
        members.append(rnd.choice(members))  # a repeated key
    rnd.shuffle(members)

    def ws():
        return rnd.choice(SPACES)

    tokens = ["{"] + [piece for key, value in members for piece in (f'"{key}"', ":", value, ",")][:-1] + ["}"]
    if rnd.random() < 0.1:  # bad JSON: a piece lost or another byte in its place
        at = rnd.randrange(len(tokens))
        tokens[at] = rnd.choice(["", "x", '"', ",", ":", "\\", "\x01", "\xff"])
    return (ws() + "".join(token + ws() for token in tokens)).encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("spec", [Spec(threshold=1), Spec(threshold=-1e300)], ids=["1", "all"])
def test_flat_records_of_every_layout(scan, wide, spec):
    rnd = random.Random(7)
    lines = [flat_record(rnd) for _ in range(6000)]
    # Each bad line makes the chunk refused: a few lines at a time, and all the good ones together.
    for at in range(0, len(lines), 4):
        same_as_scalar(scan, wide, b"\n".join(lines[at:at + 4]) + b"\n", spec)
    good = [line for line in lines if filter_record_or_bad(line, spec) is not BadRecord]
    found, handed = same_as_scalar(scan, wide, b"\n".join(good) + b"\n", spec)
    assert found is not None and found[0] == len(good) and len(handed) < len(good) * 0.8


def filter_record_or_bad(line, spec):
    try:
        return filter_record(line, spec)
    except BadRecord:
        return BadRecord


LAYOUTS = [b'{"index": 0.5, "msg": "%s", "total": 0.75}', b'{"%s": 1, "index": 1, "total": 1}',
           b'{"index": 1, "total": 0.25, "%s": 1}']


def test_plain_lines_beside_ones_with_a_backslash_or_a_byte_past_ascii_inside_mebibytes(scan, wide):
    # Lines whose only special bytes are quotes, next to ones with a backslash
    # or a byte past ASCII at every position around 32 and 64 bytes from the
    # line's start, among blog records of every length, in several MiB.
    rnd = random.Random(8)
    pieces = []
    for length in (14, 15, 16, 17, 30, 31, 32, 33, 46, 47, 48, 49, 62, 63, 64, 65, 78, 79, 80, 81):
        for at in range(length + 1):
            for special in (b"\\\\", b'\\"', b"\\u0041", b"\\n", b"\xc3\xa9", b"\xe2\x82\xac", b"\xc3", b"\\", b"\x80"):
                text = b"a" * at + special + b"a" * (length - at)
                pieces.append(b'{"index": 0.5, "msg": "%s", "total": 0.75}' % (b"a" * length))
                pieces.append(rnd.choice(LAYOUTS) % text)
                pieces.append(b'{"index": 0.%0*d, "total": 1}' % (rnd.randrange(1, 20), rnd.randrange(10**6)))
    chunk = b"\n".join(pieces) + b"\n"
    assert len(chunk) > 3 << 19
    spec = Spec(threshold=1)
    found, _ = same_as_scalar(scan, wide, chunk, spec)
    assert found is None  # some of the bytes are bad UTF-8 or a bad escape
    good = b"".join(line + b"\n" for line in pieces if filter_record_or_bad(line, spec) is not BadRecord)
    found, _ = same_as_scalar(scan, wide, good, spec)
    assert found is not None and found[0] > 20000

# Fields on paths that share keys, repeat them, or are 8 or 9 bytes long.
FIELD_SETS = [("http.latency_ms", "db.ms"), ("a.b.c", "ms", "http.latency_ms"), ("index", "index", "total"),
              ("a.b", "a.c", "d"), ("12345678", "123456789", "1234567"), ("x",), ("ab.cd", "ab")]


def near_misses(key):
    """Keys that differ from `key` in one byte, first or last, or in length."""
    if not key:
        return ["x"]
    return [chr(ord(key[0]) ^ 1) + key[1:], key[:-1] + chr(ord(key[-1]) ^ 1), key[:-1], key + "s"]


@pytest.mark.parametrize("fields", FIELD_SETS, ids=",".join)
def test_fields_on_every_sort_of_path(scan, wide, fields):
    rnd = random.Random(5)
    paths = [field.split(".") for field in fields]
    noise = [miss for path in paths for key in path for miss in near_misses(key)] + ["sum_val", "ind\\u0065x"]

    def tree():
        """The fields' paths, most of them, into nested dicts; numbers at the ends."""
        root = {}
        for path in paths:
            if rnd.random() < 0.97:
                node = root
                for key in path[:-1]:
                    node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
                node[path[-1]] = rnd.choice(["1", "0.5", "-2.25e-3", "7e1", "0.125"] * 10 + ["null", '"s"', "{}"])
        return root

    def text(node):
        members = [(key, text(value) if isinstance(value, dict) else value) for key, value in node.items()]
        members += [(rnd.choice(noise), rnd.choice(["1", "{}", '{"b": 2}'])) for _ in range(rnd.randrange(3))]
        if members and rnd.random() < 0.02:
            members.append(rnd.choice(members))  # a repeated key
        rnd.shuffle(members)
        return "{" + ", ".join(f'"{key}": {value}' for key, value in members) + "}"

    lines = [text(tree()).encode() for _ in range(3000)]
    chunk = b"\n".join(lines)
    for threshold in (-1e300, 1.0):
        spec = Spec(threshold=threshold, fields=fields)
        found, handed = same_as_scalar(scan, wide, chunk, spec)
        # Most decided by the scanner itself, unless a field is also a path to another.
        conflict = any(other.startswith(field + ".") for field in fields for other in fields)
        assert found is not None and (conflict or len(handed) < len(lines) * 0.6)
        # Short keys last in a chunk are compared another way.
        for line in lines[:200]:
            same_as_scalar(scan, wide, line, spec)


def test_the_command_writes_the_same_with_every_kernel(scan, cli_env, tmp_path):
    # Several MiB with bad lines among them (messages and exit status), from a
    # file, stdin and gzip, by one process and by -j 2.
    rnd = random.Random(6)
    lines = random_chunk(rnd, 6 << 20).split(b"\n")
    for at in rnd.sample(range(len(lines)), 8):
        lines[at] = lines[at][:-3] + rnd.choice(SPECIAL) + lines[at][-3:]
    data = b"\n".join(lines)
    plain = tmp_path / "in.json"
    plain.write_bytes(data)
    packed = tmp_path / "in.json.gz"
    packed.write_bytes(gzip.compress(data, 1))
    runs = [(["-t", "1", str(plain)], None), (["-t", "0", "-j", "2", str(plain)], None),
            (["-t", "1.5", str(packed)], None), (["-t", "1"], data)]
    for args, given in runs:
        results = {}
        for kernel in scan.kernels():
            run = subprocess.run(["jsonfilter", *args], input=given, capture_output=True,
                                 env={**cli_env, "JSONFILTER_SCANNER": kernel})
            results[kernel] = (run.returncode, run.stdout, run.stderr)
        expected = results["scalar"]
        # The bad lines reported (exit status 1), and the rest filtered.
        assert expected[0] == 1 and b"jsonfilter: " in expected[2] and expected[1].count(b"\n") > 1000, args
        for kernel, result in results.items():
            assert result == expected, (kernel, args)

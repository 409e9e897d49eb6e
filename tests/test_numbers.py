"""The native scanner's number conversions against Python's own.

`_scan._parse(text)` must give exactly float(orjson.loads(text)) (the double
filter_record adds), and `_scan._repr(x)` exactly repr(x) (the text
filter_record writes): on millions of random doubles and on the known hard
cases. Exactly means bit for bit, so -0.0 and 0.0 differ here.
"""
import gzip
import math
import random
import struct
import subprocess
import sys
import sysconfig
from array import array
from decimal import Decimal, localcontext

import orjson
import pytest

from conftest import ROOT, require, require_module

MANY = 1_000_000


@pytest.fixture(scope="module")
def scan():
    return require_module("json_mapper._scan")


def random_doubles(rnd, count):
    """Finite doubles from random bit patterns: every exponent equally likely."""
    raw = array("d", rnd.randbytes(8 * count))
    return [x for x in raw if math.isfinite(x)]


def assert_same_doubles(got, expected, inputs):
    """Bit for bit, with the first difference in the message."""
    if array("d", got).tobytes() != array("d", expected).tobytes():
        for g, e, i in zip(got, expected, inputs):
            if struct.pack("<d", g) != struct.pack("<d", e):
                pytest.fail(f"{i!r}: got {g!r}, expected {e!r}")


def assert_same_texts(got, expected, inputs):
    if got != expected:
        for g, e, i in zip(got, expected, inputs):
            if g != e:
                pytest.fail(f"{i!r}: got {g!r}, expected {e!r}")


def as_json(x):
    """A double as JSON text: repr() without the forms JSON does not have."""
    return repr(x).encode()


# ---- double to text ----

def test_repr_of_random_bit_patterns(scan):
    xs = random_doubles(random.Random(1), 2 * MANY)
    assert_same_texts(list(map(scan._repr, xs)), list(map(repr, xs)), xs)


def test_repr_of_sums_of_numbers_like_the_blogs(scan):
    rnd = random.Random(2)
    xs = [rnd.random() + rnd.random() for _ in range(MANY // 2)]
    xs += [rnd.randrange(10**6) / 10**rnd.randrange(8) for _ in range(MANY // 4)]
    xs += [float(rnd.randrange(-2**60, 2**60)) for _ in range(MANY // 4)]
    assert_same_texts(list(map(scan._repr, xs)), list(map(repr, xs)), xs)


def hard_doubles():
    xs = [0.0, -0.0, 5e-324, -5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308,
          sys.float_info.max, -sys.float_info.max, sys.float_info.min, 1.0, -1.0, 0.1 + 0.2, 0.3,
          2.0, 1e22, 1e23, 9007199254740992.0, 9007199254740994.0, 9007199254740991.0,
          9999999999999998.0, 1e16, 1e15, 123456789012345680.0, 0.0001, 0.00001, 1.5e-05,
          5e-05, 9.999999999999999e-05, 1e-4, 1e-5, 1.7976931348623157e308, 4.35, 0.57, 2.675]
    xs += [10.0 ** e for e in range(-323, 309)]
    xs += [2.0 ** e for e in range(-1074, 1024)]
    xs += [math.nextafter(x, d) for x in list(xs) for d in (0.0, math.inf) if x != 0]
    # Every boundary where the gap between doubles changes size, and its neighbours.
    xs += [struct.unpack("<d", struct.pack("<Q", e << 52 | m))[0]
           for e in range(2047) for m in (0, 1, 2, (1 << 52) - 1)]
    return [x for x in xs if math.isfinite(x)]


def test_repr_of_hard_cases(scan):
    xs = hard_doubles()
    xs += [-x for x in xs]
    assert_same_texts(list(map(scan._repr, xs)), list(map(repr, xs)), xs)


def test_repr_refuses_what_is_not_finite(scan):
    for x in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError):
            scan._repr(x)


def bits_to_double(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def test_repr_of_short_decimals_at_every_exponent(scan):
    # 1 to 17 significant digits at every power of ten: every length of the
    # digits, every place for their trailing zeros, every layout repr() has.
    rnd = random.Random(7)
    xs = []
    for e in range(-340, 309):
        for n in range(1, 18):
            xs.append(float(f"{rnd.randrange(10 ** (n - 1), 10 ** n)}e{e}"))
            xs.append(float(f"{rnd.randrange(1, 10)}{'0' * (n - 1)}e{e}"))
    xs = [x for x in xs if math.isfinite(x) and x != 0]
    xs += [-x for x in xs]
    assert_same_texts(list(map(scan._repr, xs)), list(map(repr, xs)), xs)


def test_repr_where_the_layout_changes(scan):
    # repr() writes 0.0001 but 1e-05, 9999999999999998.0 but 1e+16: a few
    # units in the last place either side of every power of ten near both
    # switches, and of the numbers just below them (9.999...).
    xs = []
    for e in range(-8, 20):
        for text in (f"1e{e}", f"9.999999999999999e{e}", f"9.99999999999999e{e}",
                     f"5e{e}", f"1.5e{e}", f"1.0000000000000002e{e}"):
            x = float(text)
            below = above = x
            for _ in range(4):
                below, above = math.nextafter(below, 0.0), math.nextafter(above, math.inf)
                xs += [below, above]
            xs.append(x)
    xs += [-x for x in xs]
    assert_same_texts(list(map(scan._repr, xs)), list(map(repr, xs)), xs)


def test_repr_of_integers_up_to_2_53_and_past(scan):
    rnd = random.Random(8)
    ints = list(range(100_000))
    ints += [rnd.randrange(2 ** (b - 1), 2 ** b) for b in range(1, 54) for _ in range(2000)]
    ints += [2**53 - k for k in range(1000)] + [2**53 + 2 * k for k in range(1000)]
    ints += [d * 10**k + j for d in range(1, 10) for k in range(23) for j in (-1, 0, 1)]
    ints += [rnd.randrange(2**53, 2**70) for _ in range(20_000)]
    xs = [float(i) for i in ints]
    xs += [-x for x in xs]
    assert_same_texts(list(map(scan._repr, xs)), list(map(repr, xs)), xs)


def test_repr_of_subnormals(scan):
    rnd = random.Random(9)
    patterns = list(range(1, 20_000)) + [(1 << 52) - k for k in range(1, 20_000)]
    patterns += [rnd.randrange(1, 1 << 52) for _ in range(MANY // 5)]
    xs = [bits_to_double(b) for b in patterns]
    xs += [-x for x in xs[:1000]]
    assert_same_texts(list(map(scan._repr, xs)), list(map(repr, xs)), xs)


def test_emit_writes_sums_as_repr_does_at_every_exponent(scan):
    # In bulk through the scanner itself, where write_repr writes into the
    # output it builds: several MiB of records of one random double each,
    # every one below 1e100, which the scanner vouches for (repr() writes
    # larger ones with a 3-digit exponent, left to msgspec).
    rnd = random.Random(10)
    xs = [x for x in random_doubles(rnd, 3 * MANY // 2) if abs(x) < 1e100]
    texts = [repr(x).encode() for x in xs]
    chunk = b"".join(b'{"x":%s}\n' % t for t in texts)
    assert len(chunk) > 8 << 20

    def decide(line):
        pytest.fail(f"the scanner handed over {line!r}")

    found = scan.emit(chunk, ((b"x",),), -math.inf, b'"sum_val"', decide)
    assert found is not None
    lines, selected, output, _ = found
    assert (lines, selected) == (len(xs), len(xs))
    expected = b"".join(b'{"x":%s,"sum_val":%s}\n' % (t, t) for t in texts)
    if output != expected:
        assert_same_texts(output.splitlines(), expected.splitlines(), xs)


def test_emit_rounds_a_product_and_its_sum_apart_under_every_kernel(scan):
    # A literal such as 9007199254740991e5 is a product of two exact doubles
    # rounded once; its sum with the other field is rounded again. Fused into
    # one multiply-add (the AVX-512 kernel's instruction set has one), the two
    # would round once: a sum of 0.0 would come out as the product's error.
    rnd = random.Random(12)
    pairs = []
    for _ in range(200_000):
        text = f"{rnd.randrange(1, 2**53)}e{rnd.randrange(1, 23)}"
        x = float(text)
        other = rnd.choice((-x, -x * (1 + 2**-52), rnd.random(), -float(f"{x:.15e}")))
        pairs.append((text, repr(other)))
    chunk = b"".join(b'{"a":%s,"b":%s}\n' % (a.encode(), b.encode()) for a, b in pairs)
    expected = b"".join(b'{"a":%s,"b":%s,"sum_val":%s}\n' % (a.encode(), b.encode(), repr(float(a) + float(b)).encode())
                        for a, b in pairs)
    before = scan.kernel()
    try:
        for kernel in scan.kernels():
            scan.kernel(kernel)
            found = scan.emit(chunk, ((b"a",), (b"b",)), -math.inf, b'"sum_val"', lambda line: pytest.fail(line))
            assert found is not None and found[1] == len(pairs), kernel
            if found[2] != expected:
                assert_same_texts(found[2].splitlines(), expected.splitlines(), pairs)
    finally:
        scan.kernel(before)


@pytest.mark.parametrize("invert", [False, True])
def test_emit_selects_the_same_where_rough_sums_are_used_and_where_not(scan, invert):
    # emit leaves the rough sums out where few lines go unselected, and takes
    # them up again where many do: runs of lines far above the threshold, far
    # below it, and a few units in the last place either side of it, each run
    # long or short, so that the switches come anywhere in them.
    rnd = random.Random(13)
    threshold = 1.0
    lines, expected = [], []
    while len(lines) < 200_000:
        kind = rnd.randrange(3)
        for _ in range(rnd.choice((1, 7, 100, 255, 256, 257, 1000, 3000))):
            a = rnd.random()
            if kind == 0:
                b = 1.5 - a + rnd.random()
            elif kind == 1:
                b = -1.5 - a - rnd.random()
            else:
                b = threshold - a
                for _ in range(rnd.randrange(4)):
                    b = math.nextafter(b, rnd.choice((-math.inf, math.inf)))
            line = b'{"a":%s,"b":%s}' % (repr(a).encode(), repr(b).encode())
            lines.append(line)
            if (a + b > threshold) != invert:
                expected.append(line[:-1] + b',"sum_val":%s}' % repr(a + b).encode())
    found = scan.emit(b"\n".join(lines) + b"\n", ((b"a",), (b"b",)), threshold, b'"sum_val"',
                      lambda line: pytest.fail(line), invert)
    assert found is not None
    assert found[:2] == (len(lines), len(expected))
    if found[2] != b"".join(e + b"\n" for e in expected):
        assert_same_texts(found[2].splitlines(), expected, expected)


@pytest.mark.parametrize("how", ["file", "gzip stdin", "-j 2"])
def test_jsonfilter_writes_sums_as_repr_does(run_jsonfilter, tmp_path, how):
    # The command end to end, over several MiB: two fields a line, summed by
    # the scanner, at every exponent the scanner vouches for (below 1e100).
    rnd = random.Random(11)
    xs = [x for x in random_doubles(rnd, 200_000) if abs(x) < 1e99]
    ys = [rnd.choice((0.0, 1.5, -0.1, x / 3)) for x in xs]
    data = b"".join(b'{"a": %s, "b": %s}\n' % (repr(x).encode(), repr(y).encode())
                    for x, y in zip(xs, ys))
    expected = b"".join(b'{"a": %s, "b": %s,"sum_val":%s}\n'
                        % (repr(x).encode(), repr(y).encode(), repr(x + y).encode())
                        for x, y in zip(xs, ys) if x + y > -1e300)
    (tmp_path / "in.json").write_bytes(data)
    args = ["-t", "-1e300", "-f", "a,b"]
    if how == "file":
        result = run_jsonfilter(*args, "in.json")
    elif how == "gzip stdin":
        result = run_jsonfilter(*args, stdin=gzip.compress(data, 1))
    else:
        result = run_jsonfilter(*args, "-j", "2", "in.json")
    assert (result.returncode, result.stderr) == (0, b"")
    if result.stdout != expected:
        assert_same_texts(result.stdout.splitlines(), expected.splitlines(), list(zip(xs, ys)))


PORTABLE = ["-DJSONFILTER_REPR_SWAR"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


@pytest.fixture(scope="module", params=[[], PORTABLE, PORTABLE + SANITIZE],
                ids=["as built", "portable", "portable, sanitized"])
def bench_repr(request, tmp_path_factory):
    """tools/bench_repr.c built as its comment says, and with the digits
    written by the portable code where the SSE2 code would be used (the
    extension under .ci/sanitize runs the code it is built with)."""
    binary = tmp_path_factory.mktemp("bench") / "bench_repr"
    include = sysconfig.get_paths()["include"]
    subprocess.run([require("cc"), "-O3", "-Wall", "-Werror", *request.param,
                    f"-I{include}", "-o", str(binary), str(ROOT / "tools" / "bench_repr.c")], check=True)
    return binary


@pytest.mark.parametrize("kind", ["blog", "short", "ints", "bits"])
def test_bench_repr_times_numbers_written_as_repr_does(bench_repr, kind):
    out = subprocess.run([str(bench_repr), kind, "100000", "1", "print"],
                         capture_output=True, check=True, text=True)
    assert out.stderr.startswith(f"{kind}: ") and " ns a number " in out.stderr
    pairs = [line.split(" ") for line in out.stdout.splitlines()]
    assert len(pairs) == 100_000
    xs = [struct.unpack("<d", bytes.fromhex(bits)[::-1])[0] for bits, _ in pairs]
    assert_same_texts([text for _, text in pairs], list(map(repr, xs)), xs)


# ---- text to double ----

def test_parse_reads_back_every_repr(scan):
    xs = random_doubles(random.Random(3), MANY)
    texts = list(map(as_json, xs))
    assert_same_doubles(list(map(scan._parse, texts)), xs, texts)


def random_decimal(rnd):
    """A JSON number with 1 to 25 significant digits, in every form JSON allows."""
    digits = str(rnd.randrange(1, 10)) + "".join(rnd.choices("0123456789", k=rnd.randrange(25)))
    sign = rnd.choice(["", "-"])
    form = rnd.randrange(4)
    if form == 0:
        return f"{sign}{digits}"
    if form == 1:
        point = rnd.randrange(1, len(digits) + 1)
        return f"{sign}{digits[:point]}.{digits[point:] or '0'}"
    if form == 2:
        return f"{sign}0.{'0' * rnd.randrange(30)}{digits}"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}{rnd.choice('eE')}{rnd.choice(['', '+', '-'])}{rnd.randrange(350)}"


def orjson_float(text):
    """The double filter_record adds for this number: float() of what orjson reads."""
    return float(orjson.loads(text))


def test_parse_random_decimals_as_orjson_and_float_read_them(scan):
    rnd = random.Random(4)
    texts = [random_decimal(rnd).encode() for _ in range(MANY // 2)]
    expected = []
    for t in texts:
        try:
            expected.append(orjson_float(t))
        except orjson.JSONDecodeError:  # infinite for orjson; the scanner never vouches for it
            expected.append(float(t))
    assert_same_doubles(list(map(scan._parse, texts)), expected, texts)


def halfway_texts(x):
    """The exact midpoint between x and the next double up, cut to 17 to 20
    digits, and decimals a hair either side of it: where a sloppy parser rounds wrong."""
    x = abs(x)
    up = math.nextafter(x, math.inf)
    if not math.isfinite(up):
        return []
    with localcontext() as exact:
        exact.prec = 800
        mid = (Decimal(x) + Decimal(up)) / 2
        hair = Decimal(up - x) / 10**12
        texts = [format(mid, "e"), format(mid + hair, ".18e"), format(mid - hair, ".18e")]
        texts += [format(mid, f".{digits - 1}e") for digits in (17, 18, 19, 20)]
    return [t.encode() for t in texts]


def test_parse_near_halfway_points(scan):
    rnd = random.Random(5)
    xs = random_doubles(rnd, 20_000)
    xs += [rnd.random() for _ in range(20_000)]
    xs += [float(rnd.randrange(2**53, 2**64)) for _ in range(5_000)]
    xs += hard_doubles()[:3000]
    texts = [text for x in xs for text in halfway_texts(x)]
    assert_same_doubles(list(map(scan._parse, texts)), list(map(float, texts)), texts)


def test_parse_rounds_up_into_the_next_power_of_two(scan):
    # A decimal just above the midpoint below 2^e rounds up to 2^e: its
    # significand carries into the exponent, at every exponent, up to the
    # largest finite double; and just below it, to the double under 2^e.
    xs = [math.nextafter(2.0 ** e, 0.0) for e in range(-1021, 1024)]
    xs.append(sys.float_info.max)
    texts = [text for x in xs for text in halfway_texts(x)]
    texts += [b"1.797693134862315807e308", b"1.797693134862315808e308"]  # the largest, inf
    assert_same_doubles(list(map(scan._parse, texts)), list(map(float, texts)), texts)


HARD_LITERALS = [
    "0", "-0", "0.0", "-0.0", "0e0", "-0e5", "0.000", "1", "-1", "0.1", "0.2", "0.3",
    "9007199254740991", "9007199254740992", "9007199254740993", "9007199254740995",
    "-9007199254740993", "18014398509481985", "9223372036854775807", "9223372036854775808",
    "9223372036854775809", "18446744073709551615", "18446744073709551616",
    "-9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
    "1" + "0" * 98, "1e22", "1e23", "8.41e21", "9.5e22", "1.7976931348623157e308",
    "1.7976931348623158e308", "1.7976931348623159e308", "2.2250738585072014e-308",
    "2.2250738585072011e-308", "2.2250738585072012e-308", "4.9406564584124654e-324",
    "2.4703282292062328e-324", "2.4703282292062327e-324", "5e-324", "1e-324", "3e-324",
    "1e-400", "0." + "0" * 330 + "1", "0.38511804380287472", "1.6048819561971253",
    "0.30000000000000004", "0.1000000000000000055511151231257827021181583404541015625",
    "0.1000000000000000055511151231257827021181583404541015624",
    "0.1000000000000000055511151231257827021181583404541015626",
    "1.00000000000000011102230246251565404236316680908203125",
    "1.00000000000000011102230246251565404236316680908203124",
    "1.00000000000000011102230246251565404236316680908203126",
    "9007199254740993.0000000000000000001", "7.038531e-26", "3.0540412e5", "1e-4", "1e-5",
    "1.5e-05", "123.456e-7", "0.0000001e7", "100000000000000000000e-20",
    "1234567890123456789", "12345678901234567890", "12345678901234567890e-10",
    "9999999999999999999", "99999999999999999999", "4503599627370496.5", "4503599627370497.5",
    "2.2250738585072013e-308", "1.9999999999999998", "1.99999999999999989", "1E+2", "1e-0",
]


@pytest.mark.parametrize("text", HARD_LITERALS)
def test_parse_hard_literals(scan, text):
    try:
        expected = orjson_float(text)
    except orjson.JSONDecodeError:  # infinite for orjson; the scanner never vouches for it
        expected = float(text)
    got = scan._parse(text.encode())
    assert struct.pack("<d", got) == struct.pack("<d", expected)


def test_integer_literals_round_as_float_of_int(scan):
    # orjson reads an integer literal as an int (a float past 64 bits), and
    # filter_record adds float(value): round half to even past 2**53.
    rnd = random.Random(6)
    ints = [rnd.randrange(2**53, 2**64) for _ in range(50_000)]
    ints += [(2**53 + 2 * k + 1) * 2**s for k in range(100) for s in range(11)]  # halfway points
    ints += [rnd.randrange(10**19, 10**30) for _ in range(20_000)]
    ints += [-i for i in ints[:1000]]
    texts = [str(i).encode() for i in ints]
    assert_same_doubles(list(map(scan._parse, texts)), [float(orjson.loads(t)) for t in texts], texts)
    assert_same_doubles(list(map(scan._parse, texts)), list(map(float, ints)), texts)


@pytest.mark.parametrize("text", [b"", b"-", b"01", b"1.", b".5", b"+1", b"1e", b"1e+", b"NaN",
                                  b"1 ", b"0x10", b"1.5.5"])
def test_parse_refuses_what_is_not_a_json_number(scan, text):
    with pytest.raises(ValueError):
        scan._parse(text)


def test_generated_powers_are_what_the_script_writes():
    script = ROOT / "tools" / "gen_pow10.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, check=True).stdout
    assert out == (ROOT / "json_mapper" / "_pow10.h").read_bytes()

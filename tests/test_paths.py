"""Field paths (`-f http.latency_ms`, `-f /a.b/c`) and `--missing bad|skip|zero`.

A golden table of literal records and what filter_record makes of them; the
fast path (`batch.BatchFilter`) against the per-record path on several MiB
of nested records; and the real command through a file, stdin, gzip and -j.
"""
import gzip
import io
import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_module
from json_mapper.batch import BatchFilter
from json_mapper.record import SKIPPED, BadRecord, Spec, field_path, filter_record
from json_mapper.stream import filter_chunk, filter_stream

BAD = "bad"
ALL = ("bad", "skip", "zero")

# ------------------------------------------------------------- path syntax

PATHS = [
    ("index", ("index",)),
    ("http.latency_ms", ("http", "latency_ms")),
    ("a.b.c.d", ("a", "b", "c", "d")),
    ("/a.b/c", ("a.b", "c")),
    ("/a.b", ("a.b",)),
    ("/x~0y/p~1q", ("x~y", "p/q")),
    ("/~01", ("~1",)),  # ~0 first would make "/": RFC 6901 undoes ~1 first
    ("/~10", ("/0",)),
    ("/", ("",)),
    ("/a/", ("a", "")),
    ("//a", ("", "a")),
    ("/0", ("0",)),  # a key, never an array index
    ("caf\u00e9.\u65e5\u672c", ("caf\u00e9", "\u65e5\u672c")),
    ("a b.c-d", ("a b", "c-d")),
]


@pytest.mark.parametrize("name, keys", PATHS)
def test_a_field_name_is_a_path_of_keys_or_a_json_pointer(name, keys):
    assert field_path(name) == keys
    assert Spec(fields=(name, "z")).paths == (keys, ("z",))


@pytest.mark.parametrize("name, message", [
    ("a..b", 'field "a..b": a path of keys cannot hold an empty key (a JSON Pointer can: /a//b)'),
    (".a", 'field ".a": a path of keys cannot hold an empty key (a JSON Pointer can: //a)'),
    ("a.", 'field "a.": a path of keys cannot hold an empty key (a JSON Pointer can: /a/)'),
    ("/a~2", 'field "/a~2": in a JSON Pointer, ~ must be followed by 0 (for ~) or 1 (for /)'),
    ("/a~", 'field "/a~": in a JSON Pointer, ~ must be followed by 0 (for ~) or 1 (for /)'),
    ("/~~01", 'field "/~~01": in a JSON Pointer, ~ must be followed by 0 (for ~) or 1 (for /)'),
])
def test_a_path_that_cannot_be_is_refused(name, message):
    with pytest.raises(ValueError) as caught:
        Spec(fields=name)
    assert str(caught.value) == message


def test_spec_keeps_the_names_as_given_and_the_sum_field_as_a_top_level_key():
    spec = Spec(fields=["http.latency_ms", "/db/ms"], sum_field="out.sum", missing="zero")
    assert spec.fields == ("http.latency_ms", "/db/ms")
    assert spec.paths == (("http", "latency_ms"), ("db", "ms"))
    assert filter_record(b'{"http":{"latency_ms":2}}', spec) == b'{"http":{"latency_ms":2},"out.sum":2.0}'


def test_spec_refuses_an_unknown_missing_mode_and_cannot_be_changed():
    with pytest.raises(ValueError, match="missing must be one of bad, skip, zero"):
        Spec(missing="maybe")
    with pytest.raises(AttributeError):
        Spec().threshold = 5


# ------------------------------------------------------------ golden table
# (fields, record, {mode: result}) with threshold 1. A result is the output
# line, None (not selected), SKIPPED, or (BAD, the message).

T2 = ("http.latency_ms", "db.ms")
MISSING_LATENCY = (BAD, 'missing field "http.latency_ms"')
NULL_LATENCY = (BAD, 'field "http.latency_ms" is not a number')
HTTP_NOT_OBJECT = (BAD, 'field "http.latency_ms": "http" is not an object')
LATENCY_NOT_NUMBER = (BAD, 'field "http.latency_ms" is not a number')


def same_in_every_mode(result):
    return dict.fromkeys(ALL, result)


GOLDEN = [
    # Nested values are reached, and added left to right as doubles.
    (("http.latency_ms",), b'{"http":{"latency_ms":950}}',
     same_in_every_mode(b'{"http":{"latency_ms":950},"sum_val":950.0}')),
    (T2, b'{"http": {"latency_ms": 1.5}, "db": {"ms": 0.25}}',
     same_in_every_mode(b'{"http": {"latency_ms": 1.5}, "db": {"ms": 0.25},"sum_val":1.75}')),
    (("a.b.c.d",), b'{"a":{"b":{"c":{"d":2}}}}', same_in_every_mode(b'{"a":{"b":{"c":{"d":2}}},"sum_val":2.0}')),
    (("a.x", "b.x", "c.x"), b'{"a":{"x":1e16},"b":{"x":1},"c":{"x":1}}',
     same_in_every_mode(b'{"a":{"x":1e16},"b":{"x":1},"c":{"x":1},"sum_val":1e+16}')),
    (T2, b'{"http":{"latency_ms":0.5},"db":{"ms":0.25}}', same_in_every_mode(None)),
    # A dotted name is a path; a pointer reaches a key that holds dots.
    (("a.b",), b'{"a.b":5,"a":{"b":2}}', same_in_every_mode(b'{"a.b":5,"a":{"b":2},"sum_val":2.0}')),
    (("/a.b",), b'{"a.b":5,"a":{"b":2}}', same_in_every_mode(b'{"a.b":5,"a":{"b":2},"sum_val":5.0}')),
    (("/a.b/c",), b'{"a":{"b":{"c":9}},"a.b":{"c":3}}',
     same_in_every_mode(b'{"a":{"b":{"c":9}},"a.b":{"c":3},"sum_val":3.0}')),
    (("/x~0y/p~1q",), b'{"x~y":{"p/q":4}}', same_in_every_mode(b'{"x~y":{"p/q":4},"sum_val":4.0}')),
    (("/~01",), b'{"/":9,"~1":2}', same_in_every_mode(b'{"/":9,"~1":2,"sum_val":2.0}')),
    (("/",), b'{"":2}', same_in_every_mode(b'{"":2,"sum_val":2.0}')),
    (("/a/",), b'{"a":{"":3}}', same_in_every_mode(b'{"a":{"":3},"sum_val":3.0}')),
    # Keys are compared as decoded: an escape in the data still matches.
    (("http.ms",), b'{"h\\u0074tp":{"ms":2}}', same_in_every_mode(b'{"h\\u0074tp":{"ms":2},"sum_val":2.0}')),
    # Duplicate keys: the last one counts, as for a top-level field.
    (("http.ms",), b'{"http":{"ms":5},"http":{"ms":0}}', same_in_every_mode(None)),
    # Absent or null, anywhere on the path: what --missing says.
    (T2, b'{"db":{"ms":2}}', {"bad": MISSING_LATENCY, "skip": SKIPPED, "zero": b'{"db":{"ms":2},"sum_val":2.0}'}),
    (T2, b'{"http":null,"db":{"ms":2}}',
     {"bad": MISSING_LATENCY, "skip": SKIPPED, "zero": b'{"http":null,"db":{"ms":2},"sum_val":2.0}'}),
    (T2, b'{"http":{},"db":{"ms":2}}',
     {"bad": MISSING_LATENCY, "skip": SKIPPED, "zero": b'{"http":{},"db":{"ms":2},"sum_val":2.0}'}),
    (T2, b'{"http":{"latency_ms":null},"db":{"ms":2}}',
     {"bad": NULL_LATENCY, "skip": SKIPPED, "zero": b'{"http":{"latency_ms":null},"db":{"ms":2},"sum_val":2.0}'}),
    (("index", "total"), b'{"index":null,"total":5}',
     {"bad": (BAD, 'field "index" is not a number'), "skip": SKIPPED,
      "zero": b'{"index":null,"total":5,"sum_val":5.0}'}),
    (("index", "total"), b'{"total":5}',
     {"bad": (BAD, 'missing field "index"'), "skip": SKIPPED, "zero": b'{"total":5,"sum_val":5.0}'}),
    (T2, b'{"http":{"latency_ms":0.5}}', {"bad": (BAD, 'missing field "db.ms"'), "skip": SKIPPED, "zero": None}),
    (T2, b'{"http":{"latency_ms":5},"http":null,"db":{"ms":0}}',
     {"bad": MISSING_LATENCY, "skip": SKIPPED, "zero": None}),
    (("a.b",), b'{}', {"bad": (BAD, 'missing field "a.b"'), "skip": SKIPPED, "zero": None}),
    # Something other than an object on the path: a bad record in every mode.
    (T2, b'{"http":"down","db":{"ms":2}}', same_in_every_mode(HTTP_NOT_OBJECT)),
    (T2, b'{"http":[{"latency_ms":5}],"db":{"ms":2}}', same_in_every_mode(HTTP_NOT_OBJECT)),
    (T2, b'{"http":0,"db":{"ms":2}}', same_in_every_mode(HTTP_NOT_OBJECT)),
    (T2, b'{"http":false,"db":{"ms":2}}', same_in_every_mode(HTTP_NOT_OBJECT)),
    (("a.b.c",), b'{"a":{"b":7}}', same_in_every_mode((BAD, 'field "a.b.c": "a.b" is not an object'))),
    (("/a.b/c",), b'{"a.b":true}', same_in_every_mode((BAD, 'field "/a.b/c": "/a.b" is not an object'))),
    # A value that is not a number: a bad record in every mode.
    (T2, b'{"http":{"latency_ms":"950"},"db":{"ms":2}}', same_in_every_mode(LATENCY_NOT_NUMBER)),
    (T2, b'{"http":{"latency_ms":true},"db":{"ms":2}}', same_in_every_mode(LATENCY_NOT_NUMBER)),
    (T2, b'{"http":{"latency_ms":[1]},"db":{"ms":2}}', same_in_every_mode(LATENCY_NOT_NUMBER)),
    (T2, b'{"http":{"latency_ms":{"v":1}},"db":{"ms":2}}', same_in_every_mode(LATENCY_NOT_NUMBER)),
    # A missing field comes first, but a later bad one still makes the record bad.
    (T2, b'{"db":{"ms":"x"}}',
     {"bad": MISSING_LATENCY, "skip": (BAD, 'field "db.ms" is not a number'),
      "zero": (BAD, 'field "db.ms" is not a number')}),
    (T2, b'{"http":null,"db":7}',
     {"bad": MISSING_LATENCY, "skip": (BAD, 'field "db.ms": "db" is not an object'),
      "zero": (BAD, 'field "db.ms": "db" is not an object')}),
    # Lines that are not records do not change with the mode.
    (T2, b"[1]", same_in_every_mode((BAD, "not a JSON object but an array"))),
    (T2, b"  \r", same_in_every_mode(None)),
]


def _outcome(line, spec):
    try:
        return filter_record(line, spec)
    except BadRecord as err:
        return (BAD, err.reason)


@pytest.mark.parametrize("mode", ALL)
@pytest.mark.parametrize("fields, line, results", GOLDEN, ids=[line.decode() for _, line, _ in GOLDEN])
def test_golden_paths_and_missing_modes(fields, line, results, mode):
    assert _outcome(line, Spec(threshold=1, fields=fields, missing=mode)) == results[mode]


def test_zero_counts_every_missing_field_as_zero():
    spec = Spec(threshold=-1, fields=T2, missing="zero")
    assert filter_record(b"{}", spec) == b'{"sum_val":0.0}'
    assert filter_record(b'{"http":null}', Spec(threshold=0, fields=T2, missing="zero")) is None


def test_skipped_is_false_like_not_selected():
    assert not SKIPPED and SKIPPED is not None and repr(SKIPPED) == "SKIPPED"


# ---------------------------------------------- fast path against per-record

def log_record(rng, n, kinds):
    """One nested log record of a kind, as JSON text, and the (latency, db) values it holds."""
    kind = rng.choice(kinds)
    latency = round(rng.uniform(0, 200), 3)
    db = round(rng.uniform(0, 50), 3) if n % 7 else rng.randrange(50)
    http = {"method": "GET", "status": rng.choice([200, 404]), "latency_ms": latency}
    record = {"ts": f"2026-11-25T01:{n % 60:02d}:00Z", "level": "INFO", "http": http,
              "db": {"ms": db, "rows": n % 13}, "msg": rng.choice(["ok", "caf\u00e9", "say \"hi\""]),
              "a.b": {"c/d": latency / 2}}
    if kind == "no http":
        del record["http"]
    elif kind == "null http":
        record["http"] = None
    elif kind == "no latency":
        del http["latency_ms"]
    elif kind == "null latency":
        http["latency_ms"] = None
    elif kind == "string latency":
        http["latency_ms"] = str(latency)
    elif kind == "http not object":
        record["http"] = "down"
    return json.dumps(record, ensure_ascii=rng.random() < 0.5), kind, latency, db


MISSING_KINDS = ["no http", "null http", "no latency", "null latency"]
GOOD_KINDS = ["full"] * 6 + MISSING_KINDS
BAD_KINDS = ["string latency", "http not object"]


def log_lines(seed, count, bad_from=None, bad_to=None):
    """`count` records; between lines bad_from and bad_to a few are bad in every mode."""
    rng = random.Random(seed)
    records = []
    for n in range(count):
        kinds = GOOD_KINDS + BAD_KINDS if bad_from is not None and bad_from <= n < bad_to else GOOD_KINDS
        records.append(log_record(rng, n, kinds))
    return records


def chunks_of(data, size=1 << 20):
    at = 0
    while at < len(data):
        end = data.find(b"\n", at + size)
        end = len(data) if end < 0 else end + 1
        yield data[at:end]
        at = end


@pytest.fixture(scope="module")
def nested_mib():
    """About 6 MB of nested records, with bad ones in the third MiB only."""
    records = log_lines(1, 30000, bad_from=12000, bad_to=13000)
    return ("\n".join(text for text, *_ in records) + "\n").encode()


@pytest.mark.parametrize("mode", ALL)
@pytest.mark.parametrize("fields", [T2, ("/a.b/c~1d", "http.latency_ms"), ("db.ms",),
                                    ("db.ms", "db.rows", "http.status")])
@pytest.mark.parametrize("native", [False, True])
def test_fast_path_agrees_with_per_record_on_nested_mib(nested_mib, mode, fields, native):
    if native:
        require_module("json_mapper._scan")
    spec = Spec(threshold=150, fields=fields, missing=mode)
    batch = BatchFilter(spec, native=native)
    decided = without_bad = 0
    chunks = list(chunks_of(nested_mib))
    assert len(chunks) >= 5
    for chunk in chunks:
        expected = filter_chunk(chunk, spec)
        got = batch(chunk)
        assert got == expected
        decided += batch.fast(chunk) is not None
        without_bad += not expected.bad
        if native and not expected.bad:
            assert batch._scanned(chunk) is not None  # decided in C, not by msgspec
    # Every chunk without a bad record is decided by the fast path, nested
    # fields and missing ones included (and none with one: it has no way to say so).
    assert decided == without_bad
    if mode != "bad":
        assert without_bad >= len(chunks) - 2  # the bad band may straddle two chunks


def test_the_fast_path_counts_what_it_skips(nested_mib):
    spec = Spec(threshold=150, fields=T2, missing="skip")
    chunk = next(chunks_of(nested_mib))
    result = BatchFilter(spec, native=False).fast(chunk)
    records = log_lines(1, result.lines)
    assert result.skipped == sum(kind != "full" for _, kind, _, _ in records) > 0
    assert result.selected == sum(kind == "full" and latency + db > 150 for _, kind, latency, db in records) > 0


def test_nested_fields_are_decided_by_msgspec_as_top_level_ones_are():
    rng = random.Random(2)
    lines = [b'{"index":%r,"total":%r,"http":{"ms":%r},"db":{"ms":%r}}' % (rng.random(), rng.random(), rng.random(),
                                                                          rng.random()) for _ in range(5000)]
    chunk = b"\n".join(lines) + b"\n"
    for fields in (("index", "total"), ("http.ms", "db.ms"), ("/http/ms", "/db/ms")):
        spec = Spec(fields=fields, threshold=1.9)
        result = BatchFilter(spec, native=False).fast(chunk)
        assert result is not None
        assert result == filter_chunk(chunk, spec)
        assert result.selected > 0


@pytest.mark.parametrize("line", [
    b'{"http":{"latency_ms":5},"http":null,"db":{"ms":0}}',
    b'{"http":null,"http":{"latency_ms":500},"db":{"ms":0}}',
    b'{"http":{"latency_ms":500,"latency_ms":null},"db":{"ms":0}}',
    b'{"http":{"latency_ms":1e400},"db":{"ms":0}}',
    b'{"http":{"latency_ms":1e308},"db":{"ms":1e308}}',
    b'{"http":{"latency_ms":-1e308},"db":{"ms":-1e308}}',
    b'{"http":{"latency_ms":1},"db":{"ms":1},"x":1e400}',
    b'{"http":{"latency_ms":1},"db":{"ms":1},"x":"\xff"}',
    b'{"http":{"latency_ms":1},"db":{"ms":1,"ms":true}}',
    b'{"http":{"latency_ms":500},"db":{"ms":0}} x',
    b'{"http":{"latency_ms":500},"db":{"ms":0},"sum_val":{"a":1}}',
    b'{"http":{"LATENCY_MS":500},"db":{"ms":0}}',
    b'{"http":{"latency_ms":-0.0},"db":{"ms":-0.0}}',
])
@pytest.mark.parametrize("mode", ALL)
def test_odd_nested_lines_agree_among_good_ones(line, mode):
    good = b'{"http":{"latency_ms":200},"db":{"ms":1},"pad":"%s"}' % (b"x" * 40)
    chunk = b"\n".join([good] * 200 + [line] + [good] * 200) + b"\n"
    for threshold in (150, -1):
        spec = Spec(threshold=threshold, fields=T2, missing=mode)
        expected = filter_chunk(chunk, spec)
        for native in (False, True):
            for stage in (0, 1, 2):
                batch = BatchFilter(spec, native=native)
                batch._stage = min(stage, len(batch._stages) - 1) if batch.usable else 0
                got = batch(chunk)
                assert got == expected


def test_a_key_both_summed_and_on_a_path_takes_the_per_record_path():
    spec = Spec(fields=("a", "a.b"), threshold=0)
    batch = BatchFilter(spec, native=False)
    assert not batch.usable
    chunk = b'{"a":{"b":1}}\n{"a":1}\n'
    assert batch(chunk).bad == filter_chunk(chunk, spec).bad == [(0, 'field "a" is not a number', 0, 0, 0, 0),
                                                                (1, 'field "a.b": "a" is not an object', 0, 0, 0, 0)]


def test_filter_stream_counts_skipped_records_the_same_either_way(nested_mib, tmp_path):
    path = tmp_path / "logs.json"
    path.write_bytes(nested_mib)
    spec = Spec(threshold=150, fields=T2, missing="skip")
    runs = []
    for fast in (True, False):
        out = io.BytesIO()
        counts = filter_stream([str(path)], out, spec=spec, on_error="skip", fast=fast)
        runs.append((out.getvalue(), counts.lines_read, counts.records_written, counts.skipped, counts.bad_records,
                     counts.blank, counts.not_selected))
    assert runs[0] == runs[1]
    assert runs[0][3] == sum(kind in MISSING_KINDS for _, kind, _, _ in log_lines(1, 30000, 12000, 13000))


# ------------------------------------------------------- the real command

@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    """About 5 MB of nested records with a band of bad ones, and what each mode expects of it."""
    records = log_lines(3, 26000, bad_from=20000, bad_to=20500)
    data = ("\n".join(text for text, *_ in records) + "\n").encode()
    folder = tmp_path_factory.mktemp("paths")
    (folder / "logs.json").write_bytes(data)
    (folder / "logs.json.gz").write_bytes(gzip.compress(data, compresslevel=1))
    return folder, data, records


THRESHOLD = 150.0


def expected_run(records, mode, name):
    """stdout, the bad-record messages and the number skipped, from how each record was made."""
    out = []
    messages = []
    skipped = 0
    for lineno, (text, kind, latency, db) in enumerate(records, 1):
        if kind == "string latency":
            messages.append(f'jsonfilter: {name}:{lineno}: field "http.latency_ms" is not a number')
            continue
        if kind == "http not object":
            messages.append(f'jsonfilter: {name}:{lineno}: field "http.latency_ms": "http" is not an object')
            continue
        if kind != "full":
            if mode == "skip":
                skipped += 1
                continue
            if mode == "bad":
                why = 'is not a number' if kind == "null latency" else None
                messages.append(f'jsonfilter: {name}:{lineno}: ' + (f'field "http.latency_ms" {why}' if why else
                                                                  'missing field "http.latency_ms"'))
                continue
            latency = 0.0
        total = float(latency) + float(db)
        if total > THRESHOLD:
            out.append(text[:-1] + ',"sum_val":' + repr(total) + "}")
    stdout = "".join(line + "\n" for line in out).encode()
    return stdout, messages, skipped


@pytest.mark.parametrize("how", ["file", "stdin", "gzip -j 2", "stdin -j 2"])
@pytest.mark.parametrize("mode", ALL)
def test_command_with_nested_fields_and_missing_modes(run_jsonfilter, log_file, mode, how):
    folder, data, records = log_file
    args = ["-t", THRESHOLD, "-f", "http.latency_ms,db.ms", "--missing", mode, "--stats"]
    if "-j 2" in how:
        args += ["-j", "2"]
    stdin = b""
    name = "<stdin>"
    if how.startswith("file"):
        name = str(folder / "logs.json")
    elif how.startswith("gzip"):
        name = str(folder / "logs.json.gz")
    else:
        stdin = gzip.compress(data, compresslevel=1) if "-j" in how else data
    result = run_jsonfilter(*args, *([name] if name != "<stdin>" else []), stdin=stdin, timeout=300)
    stdout, messages, skipped = expected_run(records, mode, name)
    assert result.stdout == stdout
    assert stdout.count(b"\n") > 1000
    errors = result.stderr.decode().splitlines()
    stats = errors.pop()
    written = stdout.count(b"\n")
    shown_skipped = f"{skipped} skipped, " if mode == "skip" else ""
    not_selected = len(records) - written - (skipped if mode == "skip" else 0) - len(messages)
    assert re.fullmatch(f"jsonfilter: {len(records)} lines read, {written} records written, {shown_skipped}"
                        rf"{len(messages)} bad records, 0 blank, {not_selected} not selected, "
                        r"[0-9.]+ s, [0-9.]+ MB/s", stats), stats
    hidden = f"jsonfilter: {len(messages)} bad records in all ({len(messages) - 10} not shown)"
    assert errors == messages[:10] + [hidden]
    assert result.returncode == 1
    if mode == "skip":
        assert skipped > 1000


def test_command_with_a_pointer_and_a_dotted_key(run_jsonfilter, log_file):
    folder, data, records = log_file
    good = [text for text, kind, _, _ in records[:20000] if kind in ("full", "no latency", "null latency")]
    data = ("\n".join(good) + "\n").encode()
    result = run_jsonfilter("-t", 250, "-f", "/a.b/c~1d,/http/status", stdin=data, timeout=300)
    expected = []
    for text in good:
        record = json.loads(text)
        total = float(record["a.b"]["c/d"]) + float(record["http"]["status"])
        if total > 250:
            expected.append(text[:-1] + ',"sum_val":' + repr(total) + "}\n")
    assert (result.stdout, result.stderr, result.returncode) == ("".join(expected).encode(), b"", 0)
    assert 1000 < len(expected) < len(good)


@pytest.mark.parametrize("args, message", [
    (["-f", "http..ms"], b'jsonfilter: field "http..ms": a path of keys cannot hold an empty key '
                         b"(a JSON Pointer can: /http//ms) (see 'jsonfilter --help')\n"),
    (["-f", "/a~x"], b'jsonfilter: field "/a~x": in a JSON Pointer, ~ must be followed by 0 (for ~) '
                     b"or 1 (for /) (see 'jsonfilter --help')\n"),
    (["--missing", "maybe"], b"jsonfilter: argument --missing: invalid choice: 'maybe' "
                             b"(choose from 'bad', 'skip', 'zero') (see 'jsonfilter --help')\n"),
])
def test_a_bad_path_or_mode_is_a_usage_error(run_jsonfilter, args, message):
    result = run_jsonfilter(*args, stdin=b'{"index":1,"total":1}\n')
    assert (result.stdout, result.stderr, result.returncode) == (b"", message, 2)


def test_stats_show_no_skipped_count_unless_records_can_be_skipped(run_jsonfilter):
    line = b'{"index":1,"total":1}\n{"total":5}\n'
    zero = run_jsonfilter("--missing", "zero", "--stats", stdin=line)
    assert re.fullmatch(rb"jsonfilter: 2 lines read, 2 records written, 0 bad records, 0 blank, 0 not selected, "
                        rb"[0-9.]+ s, [0-9.]+ MB/s\n",
                        zero.stderr)
    skip = run_jsonfilter("--missing", "skip", "--stats", "--on-error", "fail", stdin=line + b"[]\n" + line)
    assert skip.stdout == b'{"index":1,"total":1,"sum_val":2.0}\n'
    assert re.fullmatch(rb"jsonfilter: <stdin>:3: not a JSON object but an array\n"
                        rb"jsonfilter: 3 lines read, 1 records written, 1 skipped, 1 bad records, 0 blank, "
                        rb"0 not selected, [0-9.]+ s, [0-9.]+ MB/s\n", skip.stderr)
    assert skip.returncode == 2


# ------------------------------------------------- any nesting, any values

KEYS = ["a", "b", "a.b", "~/"]
leaf = st.one_of(st.integers(-5, 5), st.floats(-4, 4), st.sampled_from([1e308, -1e308, 0.0, -0.0]),
                 st.none(), st.booleans(), st.just("s"), st.just([1]))
tree = st.recursive(leaf, lambda inner: st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=3),
                    max_leaves=8)


def _text(value):
    """JSON text of a value, where a list of (key, value) pairs is an object (duplicates kept)."""
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return "{" + ",".join(f"{json.dumps(k)}:{_text(v)}" for k, v in value) + "}"
    if value == [] or value == [1]:
        return json.dumps(value) if value else "{}"
    return json.dumps(value)


def _name(keys):
    if any("." in key or "/" in key or "~" in key for key in keys):
        return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in keys)
    return ".".join(keys)


def _put(pairs, keys, value):
    """`pairs` (an object as (key, value) pairs) with `value` set at path `keys`, the other members kept."""
    key, rest = keys[0], keys[1:]
    inner = next((v for k, v in reversed(pairs) if k == key), None)
    if rest:
        value = _put(inner if isinstance(inner, list) and (not inner or isinstance(inner[0], tuple)) else [],
                     rest, value)
    return [(k, v) for k, v in pairs if k != key] + [(key, value)]


@st.composite
def nested_records(draw, paths):
    """Records that mostly hold a number at each path, around other keys and values of any kind."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS), tree), max_size=3))
    for path in paths:
        how = draw(st.sampled_from(["number"] * 8 + ["leave", "null", "other"]))
        if how != "leave":
            value = {"number": st.floats(-2, 2), "null": st.none(), "other": leaf}[how]
            pairs = _put(pairs, path[:draw(st.integers(1, len(path)))] if how == "null" else path, draw(value))
    return pairs


@settings(max_examples=200, deadline=None)
@given(data=st.data(),
       paths=st.lists(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3), min_size=1, max_size=3),
       mode=st.sampled_from(ALL), threshold=st.sampled_from([-1e300, 0.0, 1.5]))
def test_fast_path_agrees_with_per_record_on_any_nesting(data, paths, mode, threshold):
    records = data.draw(st.lists(nested_records(paths), min_size=1, max_size=6))
    spec = Spec(threshold=threshold, fields=[_name(path) for path in paths], missing=mode)
    assert spec.paths == tuple(map(tuple, paths))
    chunk = "".join(_text(record) + "\n" for record in records).encode()
    expected = filter_chunk(chunk, spec)
    for native in (False, True):
        for stage in (0, 1, 2):
            batch = BatchFilter(spec, native=native)
            if batch.usable:
                batch._stage = min(stage, len(batch._stages) - 1)
            got = batch(chunk)
            assert got == expected

"""The blog's race, side by side: every way of running the filter, timed on the same data.

    python examples/bench.py

generates seeded data sets (the blog's, with the built-in generator; a wide,
log-like one; the blog's lines cut into many small files), runs every variant
several times, checks each output against the section's first one (same
bytes, or the same records with the same values), and writes a Markdown
report (examples/bench.md) with the targets of the open speed issues checked
on its own figures, and a chart (examples/bench.png). Variants whose program
or Python package is missing are reported as skipped. Each table ends with
two floors, what the hardware does: `cat FILES > /dev/null`, and `cat` of a
file of the output's size into a new file. The blog data's tables also have
a parse floor, what the fastest JSON parser we know of takes to read and
decide the same lines without writing them: simdjson's parse_many
(tools/simdjson_floor.cpp, built when g++, pkg-config and the Debian package
libsimdjson-dev are there; its count of selected lines is checked). Needs the `bench` extra
(pip install -e '.[bench]') for the peers (DuckDB, Polars, chDB, DataFusion)
and the chart, and GNU Parallel and jq for their rows. The whole run takes
about 8 minutes on 2 cores and says at the end how long it took; smaller or
partial runs: --lines, --runs, --sections, --thresholds.
"""
import argparse
import compileall
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from json_mapper import datagen  # noqa: E402  (the tree's own generator)

SECTIONS = ("series", "scaling", "wide", "nested", "small", "startup", "sizes", "stream")
THRESHOLDS = (1.99, 1.5, 1.0, 0.0)  # the selectivity series: about 0.005%, 12.5%, 50% and 100% selected
WIDE_THRESHOLD = 1.0
# Nested and top-level fields of the wide records hold the same values, so both
# rows select the same records: what differs is only the way to the values.
NESTED_FIELDS, TOP_FIELDS, NESTED_THRESHOLD = "http.latency_ms,db.ms", "latency_ms,db_ms", 25.0
STARTUP_INPUT = b'{"index": 1, "total": 1}\n'
RSS_LIMIT_MB = 64

# Runs one command in a fresh process, so that its peak memory (the largest
# process it started) is not mixed up with any other run's. A process's peak
# RSS counts that of the process it was forked from, up to its exec: under
# GNU time, where there is one, that is time's own 2 MB rather than this
# Python's 14 MB (time starts in about a millisecond).
MEASURE = r"""
import os, resource, subprocess, sys, tempfile, time
command, out = sys.argv[1], sys.argv[2]
timer = "/usr/bin/time"
with open(out, "wb") as f, tempfile.NamedTemporaryFile("r") as peak:
    argv = ["bash", "-c", command]
    if os.access(timer, os.X_OK):
        argv = [timer, "-f", "%M", "-o", peak.name, *argv]
    start = time.perf_counter()
    status = subprocess.run(argv, stdout=f, stdin=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - start
    said = peak.read().split()  # time says why a command failed before its figure
used = resource.getrusage(resource.RUSAGE_CHILDREN)
rss = int(said[-1]) if said and said[-1].isdigit() else used.ru_maxrss
print(status, seconds, rss, used.ru_utime, used.ru_stime)
"""

# The peers, the engines a user would pick for JSON Lines: each reads the
# data set's files, adds up the fields (comma-separated; nested ones as
# http.latency_ms, a struct's field) and writes each record above the
# threshold, with the sum as sum_val, as JSON Lines. Arguments: the files (a
# glob; DataFusion: their folder), the threshold, the fields (and for
# DataFusion, which writes files only through its object store, the output).
DUCKDB = r"""
import sys, duckdb
files, threshold, fields = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(",")
total = " + ".join(".".join(f'"{key}"' for key in field.split(".")) for field in fields)
# Its progress bar, shown once a query has run 2 s, goes to stdout, into the output.
duckdb.sql("SET enable_progress_bar = false")
duckdb.sql(f'''COPY (SELECT *, {total} AS sum_val FROM read_ndjson('{files}')
                      WHERE {total} > {threshold!r}) TO '/dev/stdout' (FORMAT JSON)''')
"""
POLARS = r"""
import sys, polars as pl
files, threshold, fields = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(",")
def column(field):
    first, *rest = field.split(".")
    value = pl.col(first)
    for key in rest:
        value = value.struct.field(key)
    return value
total = sum((column(field) for field in fields[1:]), column(fields[0]))
(pl.scan_ndjson(files).with_columns(total.alias("sum_val")).filter(pl.col("sum_val") > threshold)
   .sink_ndjson("/dev/stdout"))
"""
CHDB = r"""
import sys, chdb
files, threshold, fields = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(",")
total = " + ".join(".".join(f"`{key}`" for key in field.split(".")) for field in fields)
chdb.query(f"SELECT *, {total} AS sum_val FROM file('{files}', JSONEachRow) WHERE sum_val > {threshold!r} "
           "INTO OUTFILE '/dev/stdout' APPEND FORMAT JSONEachRow")
"""
DATAFUSION = r"""
import sys, datafusion
folder, threshold, fields, out = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(","), sys.argv[4]
context = datafusion.SessionContext()
context.register_json("records", folder, file_extension=".json")
total = " + ".join(f'"{field.split(".")[0]}"' + "".join(f"['{key}']" for key in field.split(".")[1:])
                   for field in fields)
context.sql(f"SELECT *, {total} AS sum_val FROM records WHERE {total} > {threshold!r}").write_json(out)
"""
BLOG_FIELDS = "index,total"
PEERS = ("DuckDB read_ndjson", "Polars scan_ndjson", "chDB file(JSONEachRow)", "DataFusion register_json")
READ_FLOOR, WRITE_FLOOR = "read floor: cat FILES > /dev/null", "write floor: cat OUTPUT > new file"
# What the fastest JSON parser takes to read and decide the same lines (tools/simdjson_floor.cpp).
PARSE_FLOOR = "parse floor: simdjson parse_many, deciding, writing nothing"


@dataclass
class Variant:
    name: str
    command: str  # bash, with {files}, {data}, {th}, {jq} and {out} (the output file) filled in by race()
    needs: tuple = ()  # programs on PATH or "py:module"
    lossless: bool = True  # whole records comparable (the peers add nulls for absent keys, drop key order)
    at: tuple = ()  # thresholds it runs at in the selectivity series (none: every one)
    paths: bool = False  # uses field paths, which an older jsonfilter rejects
    baseline: bool = False  # a slow baseline (20 to 40 times slower): timed --baseline-runs times
    floor: str = ""  # a floor (what the hardware does): what it reads or writes, for its row; not checked
    counts: bool = False  # writes "LINES SELECTED", not records: checked against the reference's count


@dataclass
class Result:
    variant: Variant
    seconds: list = field(default_factory=list)
    cpu: list = field(default_factory=list)  # (user, system) CPU seconds of each run
    rss_kb: int = 0
    skipped: str = ""
    check: str = ""

    @property
    def median(self):
        return statistics.median(self.seconds)


def series_variants(jf, python, parse_floor):
    """The race, as the blog ran it plus this project's ways, the peers, and simdjson's parse floor."""
    return [
        Variant("blog mapper (Python json, one line at a time)",
                f"cat {{files}} | {python} {HERE / 'blog_json_mapper.py'} {{th}}", at=(1.99,), baseline=True),
        Variant("cat FILES | jsonfilter", f"cat {{files}} | {jf} -t {{th}}"),
        Variant("jsonfilter FILES", f"{jf} -t {{th}} {{files}}"),
        Variant("jsonfilter -j 2 FILES", f"{jf} -j 2 -t {{th}} {{files}}", at=(1.99,)),
        Variant("jsonfilter -j 0 FILES", f"{jf} -j 0 -t {{th}} {{files}}"),
        Variant("cat FILES | jsonfilter -j 0", f"cat {{files}} | {jf} -j 0 -t {{th}}"),
        Variant("GNU Parallel, one jsonfilter per file",
                f"find {{data}} -type f | sort | parallel '{jf} -t {{th}} < {{{{}}}}'", ("parallel",), at=(1.99,)),
        Variant("parallel --pipepart + jsonfilter",
                f"for f in {{files}}; do parallel --pipepart --block -1 -a $f '{jf} -t {{th}}'; done",
                ("parallel",), at=(1.99,)),
        Variant("jq -c -f map.jq", "cat {files} | jq -c -f {jq}", ("jq",), at=(1.99, 0.0), baseline=True),
        Variant("parallel --pipe + jq", "cat {files} | parallel --pipe 'jq -c -f {jq}'", ("parallel", "jq"),
                at=(1.99,), baseline=True),
        *peer_variants(python, BLOG_FIELDS),
        Variant(PARSE_FLOOR, f"{parse_floor} {{th}} {{files}}", (parse_floor,), counts=True),
    ]


def built_parse_floor(work):
    """tools/simdjson_floor.cpp built into `work`: its path, or what it needs (a name missing() reports)."""
    needs = "simdjson_floor (g++, pkg-config and libsimdjson-dev)"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "simdjson"], capture_output=True,
                           text=True) if shutil.which("pkg-config") else None
    if flags is None or flags.returncode != 0 or shutil.which("g++") is None:
        return needs
    binary = work / "simdjson_floor"
    built = subprocess.run(["g++", "-O3", "-o", str(binary), str(ROOT / "tools" / "simdjson_floor.cpp"),
                            *flags.stdout.split()], capture_output=True, text=True)
    if built.returncode != 0:
        raise RuntimeError(f"tools/simdjson_floor.cpp did not build:\n{built.stderr}")
    return str(binary)


def peer_variants(python, fields, suffix=""):
    """DuckDB, Polars, chDB and DataFusion adding up `fields`; `suffix` is added to their names."""
    def peer(name, script, module, *args):
        # The command is formatted by race(): the script's own braces are doubled.
        quoted = shlex.quote(script).replace("{", "{{").replace("}", "}}")
        return Variant(name + suffix, f"{python} -c {quoted} {' '.join(args)} {shlex.quote(fields)}"
                       + (" {out}" if module == "datafusion" else ""), (f"py:{module}",), lossless=False)

    return [peer(PEERS[0], DUCKDB, "duckdb", "'{data}/*.json'", "{th}"),
            peer(PEERS[1], POLARS, "polars", "'{data}/*.json'", "{th}"),
            peer(PEERS[2], CHDB, "chdb", "'{data}/*.json'", "{th}"),
            peer(PEERS[3], DATAFUSION, "datafusion", "{data}", "{th}")]


# The columns of the selectivity summary, and of the wide section.
SERIES_CORE = ("cat FILES | jsonfilter", "jsonfilter FILES", "jsonfilter -j 0 FILES",
               "cat FILES | jsonfilter -j 0", *PEERS, "jq -c -f map.jq", PARSE_FLOOR, READ_FLOOR, WRITE_FLOOR)
WIDE_VARIANTS = ("blog mapper (Python json, one line at a time)", "cat FILES | jsonfilter", "jsonfilter FILES",
                 "jsonfilter -j 0 FILES", "cat FILES | jsonfilter -j 0", "jq -c -f map.jq", *PEERS)


def scaling_variants(jf):
    return [Variant("jsonfilter -j 1 FILES", f"{jf} -j 1 -t {{th}} {{files}}"),
            Variant("jsonfilter -j 2 FILES", f"{jf} -j 2 -t {{th}} {{files}}")]


def nested_variants(jf, python):
    return [Variant(f"jsonfilter -f {TOP_FIELDS} FILES (top-level)", f"{jf} -f {TOP_FIELDS} -t {{th}} {{files}}"),
            Variant(f"jsonfilter -f {NESTED_FIELDS} FILES (nested)", f"{jf} -f {NESTED_FIELDS} -t {{th}} {{files}}",
                    paths=True),
            *peer_variants(python, NESTED_FIELDS, f", {NESTED_FIELDS.replace(',', ' + ')}")]


def small_variants(jf):
    return [Variant("find data -type f | parallel 'jsonfilter < {}'",
                    f"find {{data}} -type f | parallel '{jf} < {{{{}}}}'", ("parallel",)),
            Variant("find data -type f | parallel 'jq -c -f map.jq < {}'",
                    "find {data} -type f | parallel 'jq -c -f {jq} < {{}}'", ("parallel", "jq")),
            Variant("jsonfilter -j 0 FILES", f"{jf} -j 0 {{files}}")]


def missing(needs):
    for need in needs:
        if need.startswith("py:"):
            try:
                __import__(need[3:])
            except ImportError:
                return f"Python package {need[3:]} not installed"
        elif shutil.which(need) is None:
            return f"{need} not installed"
    return ""


def measure(command, out):
    """Run `command` (bash) with stdout to `out`.

    Returns (exit status, seconds, peak RSS in KB of its largest process, stderr,
    (user, system) CPU seconds of all its processes).
    """
    done = subprocess.run([sys.executable, "-c", MEASURE, command, str(out)], capture_output=True, text=True)
    status, seconds, rss, user, system = done.stdout.split()
    return int(status), float(seconds), int(rss), done.stderr, (float(user), float(system))


def measured(command, out):
    """measure() for commands that must succeed: (seconds, peak RSS in KB)."""
    status, seconds, rss, stderr, _ = measure(command, out)
    if status != 0:
        raise RuntimeError(f"exit status {status}: {command}\n{stderr}")
    return seconds, rss


def unsupported(status, stderr):
    """Why a field-path row failed because this jsonfilter has no field paths, or '' if it failed otherwise."""
    if (status == 2 and "usage:" in stderr) or "missing field" in stderr:
        lines = stderr.strip().splitlines()
        said = next((line for line in lines if "missing field" in line or "error:" in line), lines[-1])
        return "not supported by this jsonfilter: " + said[:100]
    return ""


def fingerprint(path):
    """(sha256 of the bytes, number of lines) of an output file."""
    sha, lines, last = hashlib.sha256(), 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return sha.hexdigest(), lines + (last != b"\n")


def frozen(value):
    """A hashable form of a decoded JSON value that ignores key order (1 and 1.0 hash alike, as they compare)."""
    if isinstance(value, dict):
        return tuple(sorted((key, frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(frozen(item) for item in value)
    return value


def digests(path):
    """(records, digest of whole records, digest of (index, total, sum_val)) of an output, in any order.

    Sums of hashes: a multiset digest that ignores the order of lines and the
    formatting of each (jq writes 12.0 as 12), in constant memory.
    """
    count = whole = key = 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                obj = orjson.loads(line)
                count += 1
                whole += hash(frozen(obj))
                key += hash((obj.get("index"), obj.get("total"), obj.get("sum_val")))
    return count, whole & 0xFFFFFFFFFFFFFFFF, key & 0xFFFFFFFFFFFFFFFF


class Reference:
    """The first output of a race, which every later one is checked against."""

    def __init__(self, path):
        self.path = path
        self.sha, self.lines = fingerprint(path)
        self._digests = None

    def digests(self):
        if self._digests is None:
            self._digests = digests(self.path)
        return self._digests

    def check(self, path, lossless):
        """'same bytes', 'same records' or 'DIFFERENT ...' for the output at `path`."""
        sha, _ = fingerprint(path)
        if sha == self.sha:
            return "same bytes"
        count, whole, key = digests(path)
        ref_count, ref_whole, ref_key = self.digests()
        if (whole == ref_whole) if lossless else (key == ref_key):
            return "same records" if lossless else "same records (index, total, sum_val)"
        return f"DIFFERENT ({count:,} records, reference {ref_count:,})"

    def check_counts(self, path):
        """'same decisions ...' or 'DIFFERENT ...' for the "LINES SELECTED" written to `path`."""
        lines, selected = (int(word) for word in path.read_text().split())
        if selected == self.lines:
            return f"same decisions: {selected:,} of {lines:,} lines selected"
        return f"DIFFERENT ({selected:,} selected, reference {self.lines:,})"


def race(variants, dataset, work, runs, threshold, jq_program, expected=None, baseline_runs=None):
    """Run each variant `runs` times (a baseline `baseline_runs` times) on `dataset` at `threshold`;
    check outputs against the first one. Then the two floors, `runs` times each:
    reading the files (READ_FLOOR) and writing a file of the output's size (WRITE_FLOOR, a copy of
    the first jsonfilter row's output, or the reference).

    `expected`: the number of records the generator says the data set has above the threshold.
    """
    files = " ".join(shlex.quote(str(p)) for p in sorted(dataset.glob("*.json")))
    results = []
    reference = None
    out = work / "out.json"
    written = None  # the output the write floor copies
    for variant in variants:
        result = Result(variant)
        results.append(result)
        result.skipped = missing(variant.needs)
        if result.skipped:
            continue
        command = variant.command.format(files=files, data=dataset, th=threshold, jq=jq_program,
                                         out=shlex.quote(str(out)))
        for _ in range(baseline_runs if variant.baseline and baseline_runs else runs):
            status, seconds, rss, stderr, cpu = measure(command, out)
            if status != 0:
                # The message names a file of the temporary folder: the name alone says enough.
                result.skipped = unsupported(status, stderr.replace(f"{dataset}/", "")) if variant.paths else ""
                if result.skipped:
                    break
                raise RuntimeError(f"exit status {status}: {command}\n{stderr}")
            result.seconds.append(seconds)
            result.cpu.append(cpu)
            result.rss_kb = max(result.rss_kb, rss)
        if result.skipped:
            result.seconds = []
            print(f"  {variant.name}: {result.skipped}", file=sys.stderr)
            continue
        if variant.counts:
            result.check = reference.check_counts(out) if reference else "no records to check against"
        elif reference is None:
            reference = Reference(out.rename(work / "reference.json"))
            result.check = f"reference: {reference.lines:,} records"
            if expected is not None:
                result.check += (", as the generator predicts" if expected == reference.lines
                                 else f", DIFFERENT from the generator's {expected:,}")
            if "jsonfilter" in variant.name:
                written = reference.path
        else:
            result.check = reference.check(out, variant.lossless)
            if written is None and "jsonfilter" in variant.name:
                written = out.rename(work / "written.json")
        print(f"  {variant.name}: median {result.median:.2f} s, {result.check}", file=sys.stderr)
    written = written or (reference.path if reference else None)
    if written is not None:
        for name, command, what in (
                (READ_FLOOR, f"cat {files} > /dev/null", f"reads {size_of(dataset) / 1e6:,.0f} MB"),
                (WRITE_FLOOR, f"cat {shlex.quote(str(written))}",
                 f"writes {written.stat().st_size / 1e6:,.0f} MB, the size of the output")):
            result = Result(Variant(name, command, floor=what))
            for _ in range(runs):
                seconds, rss = measured(command, out)
                result.seconds.append(seconds)
                result.rss_kb = max(result.rss_kb, rss)
            result.check = f"floor: {what}"
            results.append(result)
            print(f"  {name}: median {result.median:.3f} s", file=sys.stderr)
    return results


def line_count(dataset, counted={}):  # noqa: B006 (a cache, by folder)
    """The lines of the data set's files (counted once per folder)."""
    if dataset not in counted:
        total = 0
        for path in dataset.glob("*.json"):
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    total += chunk.count(b"\n")
        counted[dataset] = total
    return counted[dataset]


def generator_count(files, lines, threshold):
    """How many records of the generator's `files` x `lines` data set are above `threshold`."""
    return sum(datagen.expected_selected(0, number, lines, threshold) for number in range(files))


def escaped(text):
    """Text for a Markdown table cell: its pipes escaped."""
    return text.replace("|", "\\|")


def cell(command):
    """A command as a Markdown table cell: in code."""
    return "`" + escaped(command) + "`"


def table(results, size_bytes, lines=None):
    """The Markdown table of a race; `lines`: the input's lines, for ns/line (the median run's time a line)."""
    timed = [r for r in results if r.seconds and not r.variant.floor]
    fastest = min(r.median for r in timed) if timed else 1
    rows = ["| variant | runs | min s | median s | x fastest | MB/s | ns/line | peak RSS MB | output |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if r.skipped:
            rows.append(f"| {escaped(r.variant.name)} | | | | | | | | skipped: {escaped(r.skipped)} |")
            continue
        per_line = f"{r.median / lines * 1e9:.0f}" if lines else ""
        # Floors take a few hundredths of a second: three decimals.
        digits = 3 if r.variant.floor else 2
        rows.append(f"| {escaped(r.variant.name)} | {len(r.seconds)} | {min(r.seconds):.{digits}f} | "
                    f"{r.median:.{digits}f} | {r.median / fastest:.1f} | {size_bytes / 1e6 / r.median:.0f} | "
                    f"{per_line} | {r.rss_kb / 1024:.0f} | {r.check} |")
    return "\n".join(rows)


def selectivity_summary(summary):
    """The selectivity series, a row per command: its median at each threshold, and its peak RSS."""
    thresholds = list(summary)
    rows = ["| command | " + " | ".join(f"{th:g} ({share:.3g}%)" for th, (share, _) in summary.items())
            + " | peak RSS MB |", "|---|" + "---:|" * (len(thresholds) + 1)]
    for name in SERIES_CORE:
        timed = [by_name[name] for _, by_name in summary.values() if name in by_name and by_name[name].seconds]
        if not timed:
            continue
        cells = []
        for _, by_name in summary.values():
            r = by_name.get(name)
            cells.append(f"{r.median:.{3 if r.variant.floor else 2}f}" if r and r.seconds else "")
        peaks = sorted(r.rss_kb / 1024 for r in timed)
        peak = f"{peaks[0]:.0f}" if round(peaks[0]) == round(peaks[-1]) else f"{peaks[0]:.0f}-{peaks[-1]:.0f}"
        rows.append(f"| {cell(name)} | " + " | ".join(cells) + f" | {peak} |")
    return "\n".join(rows)


# Times the tree's native scanner alone: the data's chunks read into memory
# first, then BatchFilter over them, as the command calls it, at each
# threshold (a first pass unrecorded). Prints "threshold seconds" lines, or
# "none" without the native scanner.
SCANNER = r"""
import statistics, sys, time
sys.path.insert(0, sys.argv[1])
from json_mapper import batch
from json_mapper.inputs import open_input, read_chunks
from json_mapper.record import Spec
files, thresholds, runs = sys.argv[2].split("\n"), [float(th) for th in sys.argv[3].split(",")], int(sys.argv[4])
if not batch.native():
    print("none")
    sys.exit()
chunks = []
for name in files:
    with open_input(name) as (reader, fmt):
        chunks.extend(bytes(chunk) for chunk in read_chunks(reader, name, fmt))
for threshold in thresholds:
    scan = batch.BatchFilter(Spec(threshold=threshold))
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        for chunk in chunks:
            scan(chunk)
        times.append(time.perf_counter() - start)
    print(threshold, statistics.median(times[1:]))
"""


def scanner_rows(dataset, thresholds, runs, lines):
    """The table of the native scanner's time alone, a row per threshold."""
    files = "\n".join(str(p) for p in sorted(dataset.glob("*.json")))
    done = subprocess.run([sys.executable, "-c", SCANNER, str(ROOT), files, ",".join(map(repr, thresholds)),
                           str(runs)], capture_output=True, text=True, check=True)
    if done.stdout.strip() == "none":
        return "Skipped: the native scanner is not built in this tree."
    size = size_of(dataset)
    rows = ["| threshold | lines | median s | ns/line | MB/s |", "|---:|---:|---:|---:|---:|"]
    for line in done.stdout.split("\n"):
        if line.strip():
            threshold, seconds = map(float, line.split())
            rows.append(f"| {threshold:g} | {lines:,} | {seconds:.3f} | {seconds / lines * 1e9:.1f} | "
                        f"{size / 1e6 / seconds:.0f} |")
    return "\n".join(rows)


def wide_lines(seed, count):
    """Log-like records of about 0.6 KB: escapes, non-ASCII text, nested objects, many keys.

    http.latency_ms and db.ms are repeated at the top level as latency_ms and
    db_ms, so that a sum over nested paths and one over top-level fields
    select the same records.
    """
    rand = random.Random(f"wide:{seed}")
    words = ["naïve", "café", "Grüße", "日本語", "😀", "tab\there", 'say "hi"', "back\\slash", "new\nline",
             "ok", "error", "timeout", "user", "request", "served", "cache", "miss"]
    for n in range(count):
        latency, db_ms = round(rand.expovariate(0.05), 3), round(rand.expovariate(0.1), 3)
        record = {
            "ts": f"2024-05-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}.{n % 1000:03d}Z",
            "level": rand.choice(["DEBUG", "INFO", "WARN", "ERROR"]),
            "index": rand.random(),
            "host": f"web-{rand.randrange(40):02d}.example.org",
            "msg": " ".join(rand.choice(words) for _ in range(12)),
            "http": {"method": rand.choice(["GET", "POST"]), "path": f"/api/v1/items/{rand.randrange(10**6)}",
                     "status": rand.choice([200, 200, 200, 404, 500]), "bytes": rand.randrange(10**7),
                     "latency_ms": latency},
            "user": {"id": rand.randrange(10**9), "name": rand.choice(words), "roles": ["reader", "writer"][
                :1 + n % 2], "geo": {"lat": rand.uniform(-90, 90), "lon": rand.uniform(-180, 180)}},
            "total": rand.random(),
            "db": {"system": rand.choice(["postgresql", "redis"]), "rows": rand.randrange(1000), "ms": db_ms},
            "tags": [rand.choice(words) for _ in range(3)],
            "latency_ms": latency,
            "db_ms": db_ms,
            "retry": rand.random() < 0.1,
            "trace": None if n % 3 else f"{rand.getrandbits(64):016x}",
        }
        yield json.dumps(record, ensure_ascii=False)


def write_wide(folder, files, lines):
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(files):
        with open(folder / f"wide_{number}.json", "w", encoding="utf-8") as f:
            for line in wide_lines(number, lines):
                f.write(line + "\n")


def size_of(folder):
    return sum(p.stat().st_size for p in folder.glob("*.json"))


def jq_program(work, threshold):
    """map.jq with its threshold replaced."""
    path = work / f"map_{threshold}.jq"
    path.write_text((ROOT / "map.jq").read_text().replace("1.99", repr(threshold)))
    return path


def best_of(command, runs, work):
    samples = [measured(command, work / "out.json") for _ in range(runs)]
    return min(s for s, _ in samples), statistics.median(s for s, _ in samples), max(r for _, r in samples)


# A CPU-bound loop of a fixed amount of work, for the machine's own gain from two processes.
SPIN = "n = 0\nfor i in range(4_000_000):\n    n += i"


def two_process_gain(python, runs):
    """(seconds of one CPU-bound loop alone, seconds of two run at once, 2 x one / two): medians of `runs`.

    What two processes gain on this machine whatever they run: 2.0 where its
    two CPUs are two whole cores, less where they share one (SMT siblings, or
    a host's CPUs shared with other machines). `-j 2` cannot gain more.
    """
    alone, together = [], []
    for _ in range(runs + 1):  # the first turn warms the caches and is not counted
        start = time.perf_counter()
        subprocess.run([python, "-c", SPIN], check=True)
        alone.append(time.perf_counter() - start)
        start = time.perf_counter()
        procs = [subprocess.Popen([python, "-c", SPIN]) for _ in range(2)]
        for proc in procs:
            proc.wait()
        together.append(time.perf_counter() - start)
    one, two = statistics.median(alone[1:]), statistics.median(together[1:])
    return one, two, 2 * one / two


def startup(jf, runs):
    """Start-up rows: each command run directly (no shell), its input written to a pipe; median ms per run.

    The commands take turns, so that a change in the machine's load weighs on all of them alike.
    """
    commands = [
        ("echo '{\"index\": 1, \"total\": 1}' | jsonfilter", shlex.split(jf), STARTUP_INPUT, ()),
        ("echo '{\"index\": 1, \"total\": 1}' | jq -c -f map.jq", ["jq", "-c", "-f", str(ROOT / "map.jq")],
         STARTUP_INPUT, ("jq",)),
        ("python -c pass", [sys.executable, "-c", "pass"], b"", ()),
        ("python -c 'import orjson'", [sys.executable, "-c", "import orjson"], b"", ()),
    ]
    samples = {name: [] for name, *_ in commands}
    outputs = {}
    for turn in range(runs + 1):  # the first turn warms the caches and is not counted
        for name, argv, data, needs in commands:
            if missing(needs):
                continue
            start = time.perf_counter()
            done = subprocess.run(argv, input=data, capture_output=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"exit status {done.returncode}: {name}\n{done.stderr.decode()}")
            outputs[name] = done.stdout
            if turn:
                samples[name].append(seconds)
    rows = ["| command | runs | min ms | median ms | output |", "|---|---:|---:|---:|---|"]
    figures = {}
    reference = [orjson.loads(line) for line in outputs[commands[0][0]].splitlines()]
    for name, _argv, data, needs in commands:
        if not samples[name]:
            rows.append(f"| {cell(name)} | | | | skipped: {missing(needs)} |")
            continue
        figures[name] = statistics.median(samples[name])
        if not data:
            check = "none, as expected" if not outputs[name] else "DIFFERENT (unexpected output)"
        elif name == commands[0][0]:
            check = f"reference: {len(reference)} record"
        else:
            check = "same records" if [orjson.loads(line) for line in outputs[name].splitlines()] == reference \
                else "DIFFERENT"
        rows.append(f"| {cell(name)} | {len(samples[name])} | {min(samples[name]) * 1000:.1f} | "
                    f"{figures[name] * 1000:.1f} | {check} |")
    return "\n".join(rows), figures, [row for row in rows if "DIFFERENT" in row]


STREAM = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
from json_mapper import datagen
block = "".join(datagen.file_lines(7, 0, 20_000)).encode()
left = int(sys.argv[1])
while left > 0:
    piece = block[:left]
    view = memoryview(piece)
    while view:
        view = view[os.write(1, view):]
    left -= len(piece)
"""


def big_stream(jf, megabytes, work):
    """Peak memory on a stream generated on the fly (never stored), one process and -j 0."""
    rows = ["| command | stream MB | seconds | peak RSS MB (largest process) | output |",
            "|---|---:|---:|---:|---|"]
    generator = f"{sys.executable} -c {shlex.quote(STREAM)} {megabytes * 10**6} {shlex.quote(str(ROOT))}"
    peaks = {}
    counts = []
    for name, command in (("generator | jsonfilter", f"{generator} | {jf} -t 1.5 | wc -l"),
                          ("generator | jsonfilter -j 0", f"{generator} | {jf} -j 0 -t 1.5 | wc -l")):
        seconds, rss = measured(command, work / "out.json")
        peaks[name] = rss
        counts.append(int((work / "out.json").read_text()))
        check = (f"reference: {counts[0]:,} records" if len(counts) == 1 else
                 "same count" if counts[-1] == counts[0] else f"DIFFERENT ({counts[-1]:,} records)")
        rows.append(f"| {cell(name)} | {megabytes:,} | {seconds:.1f} | {rss / 1024:.0f} | {check} |")
    return "\n".join(rows), peaks


class Targets:
    """The issues' targets, each checked on this run's figures (median times): a Markdown table."""

    def __init__(self):
        self.rows = ["| issue | target | measured | ratio | result |", "|---|---|---|---:|---|"]

    def ratio(self, issue, target, a, b, limit, at_least=False, what=""):
        """Target a / b <= limit (or >= limit); a and b are (label, seconds or None)."""
        (a_name, a_value), (b_name, b_value) = a, b
        if a_value is None or b_value is None:
            missing_name = a_name if a_value is None else b_name
            self.rows.append(f"| {issue} | {escaped(target)} | {escaped(missing_name)}: not measured in this run "
                             f"| | — |")
            return
        value = a_value / b_value
        met = value >= limit if at_least else value <= limit
        self.rows.append(f"| {issue} | {escaped(target)} | {what or f'{a_value:.2f} s / {b_value:.2f} s'} | "
                         f"{value:.2f}x | {'met' if met else 'not met'} |")

    def markdown(self):
        return "\n".join(self.rows)


def three(a, b):
    """'a s / b s' with three decimals, for targets against a floor; '' if either is missing."""
    return f"{a:.3f} s / {b:.3f} s" if a and b else ""


def compute_targets(runs, start, rss_rows, scale_lines, gain_floor=None):
    """`runs`: {(section, threshold): results}; `start`: start-up medians; `rss_rows`: [(name, peak KB)];
    `gain_floor`: two_process_gain()'s ratio, or None when the scaling section did not run."""
    t = Targets()

    def median(section, threshold, name):
        for r in runs.get((section, threshold), ()):
            if r.variant.name == name and r.seconds:
                return r.median
        return None

    for section, thresholds, label in (("series", THRESHOLDS, "blog data"),
                                       ("wide", (WIDE_THRESHOLD,), "wide records")):
        for th in thresholds:
            at = f"{label}, threshold {th:g}"
            files = (f"`jsonfilter FILES` at {th:g}", median(section, th, "jsonfilter FILES"))
            duck = (f"DuckDB at {th:g}", median(section, th, "DuckDB read_ndjson"))
            t.ratio("#10", f"{at}: `jsonfilter FILES` no slower than DuckDB", files, duck, 1.0)
            t.ratio("#10", f"{at}: `jsonfilter -j 0 FILES` <= 0.6x DuckDB",
                    (f"`-j 0 FILES` at {th:g}", median(section, th, "jsonfilter -j 0 FILES")), duck, 0.6)
            if section == "series":
                t.ratio("#10", f"{at}: `cat FILES | jsonfilter` <= 1.2x `jsonfilter FILES`",
                        (f"`cat | jsonfilter` at {th:g}", median(section, th, "cat FILES | jsonfilter")),
                        files, 1.2)

    def best_peer(section, threshold):
        """(label, seconds) of the fastest peer at `threshold`."""
        timed = [(median(section, threshold, name), name) for name in PEERS]
        timed = [(seconds, name) for seconds, name in timed if seconds is not None]
        if not timed:
            return ("the peers", None)
        seconds, name = min(timed)
        return (name, seconds)

    floor = (READ_FLOOR, median("series", 1.99, READ_FLOOR))
    t.ratio("#20", "blog data, threshold 1.99: `jsonfilter FILES` <= 3x the read floor (`cat FILES > /dev/null`)",
            ("`jsonfilter FILES` at 1.99", median("series", 1.99, "jsonfilter FILES")), floor, 3.0,
            what=three(median("series", 1.99, "jsonfilter FILES"), floor[1]))
    parse = median("series", 1.99, PARSE_FLOOR)
    t.ratio("#20", "blog data, threshold 1.99: the parse floor (simdjson, writing nothing) <= 3x the read floor",
            ("the parse floor at 1.99", parse), floor, 3.0, what=three(parse, floor[1]))
    floor = (WRITE_FLOOR, median("series", 0.0, WRITE_FLOOR))
    t.ratio("#20", "blog data, threshold 0: `jsonfilter FILES` into a new file <= 3x the write floor (`cat` of a "
            "file of the output's size into a new file)",
            ("`jsonfilter FILES` at 0", median("series", 0.0, "jsonfilter FILES")), floor, 3.0,
            what=three(median("series", 0.0, "jsonfilter FILES"), floor[1]))
    for section, thresholds, label in (("series", (1.99, 1.0, 0.0), "blog data"),
                                       ("wide", (WIDE_THRESHOLD,), "wide records")):
        for th in thresholds:
            peer = best_peer(section, th)
            at = f"{label}, threshold {th:g}"
            for name, limit in (("jsonfilter FILES", 0.5), ("jsonfilter -j 0 FILES", 0.3)):
                ours = median(section, th, name)
                t.ratio("#20", f"{at}: `{name}` <= {limit}x the best peer", (f"`{name}` at {th:g}", ours), peer,
                        limit, what=f"{ours:.2f} s / {peer[1]:.2f} s ({peer[0]})" if ours and peer[1] else "")
    t.ratio("#10", "the machine itself: two CPU-bound processes at once >= 1.8x the work of one",
            ("the two-process gain", gain_floor), ("", 1.0), 1.8, at_least=True,
            what=f"{gain_floor:.2f}x" if gain_floor is not None else "")
    for th in (1.99, 0.0):
        t.ratio("#10", f"{scale_lines / 1e6:g}M lines, threshold {th:g}: `-j 2` >= 1.8x faster than `-j 1`",
                (f"`-j 1` at {th:g}", median("scaling", th, "jsonfilter -j 1 FILES")),
                (f"`-j 2` at {th:g}", median("scaling", th, "jsonfilter -j 2 FILES")), 1.8, at_least=True)
    if rss_rows:
        name, worst = max(rss_rows, key=lambda row: row[1])
        t.ratio("#10", f"peak RSS <= {RSS_LIMIT_MB} MB per process, every jsonfilter row",
                ("", worst / 1024), ("", RSS_LIMIT_MB), 1.0,
                what=f"largest: {worst / 1024:.0f} MB ({escaped(name)})")
    else:
        t.ratio("#10", f"peak RSS <= {RSS_LIMIT_MB} MB per process", ("jsonfilter rows", None), ("", 1), 1.0)
    ours = ("start-up of jsonfilter", start.get("echo '{\"index\": 1, \"total\": 1}' | jsonfilter"))
    ms = "{:.1f} ms / {:.1f} ms".format
    for issue, target, other, key, limit in (
            ("#10", "start-up <= 1.5x `python -c 'import orjson'`", "import orjson",
             "python -c 'import orjson'", 1.5),
            ("#14", "start-up no slower than jq's on the same input", "jq",
             "echo '{\"index\": 1, \"total\": 1}' | jq -c -f map.jq", 1.0),
            ("#14", "start-up <= 2.2x `python -c pass`", "python -c pass", "python -c pass", 2.2)):
        theirs = (other, start.get(key))
        t.ratio(issue, target, ours, theirs, limit,
                what=ms(ours[1] * 1000, theirs[1] * 1000) if ours[1] and theirs[1] else "")
    small = runs.get(("small", 1.99), [])
    t.ratio("#14", "many small files: `parallel 'jsonfilter < {}'` no slower than with jq",
            ("parallel + jsonfilter", median("small", 1.99, small[0].variant.name) if small else None),
            ("parallel + jq", median("small", 1.99, small[1].variant.name) if small else None), 1.0)
    blog = median("series", 1.99, "blog mapper (Python json, one line at a time)")
    single = median("series", 1.99, "cat FILES | jsonfilter")
    jq = median("series", 1.99, "jq -c -f map.jq")
    t.ratio("README", "`cat | jsonfilter` >= 6x faster than the blog mapper (threshold 1.99)",
            ("blog mapper", blog), ("`cat | jsonfilter`", single), 6, at_least=True)
    t.ratio("README", "`cat | jsonfilter` >= 12x faster than jq (threshold 1.99)",
            ("jq", jq), ("`cat | jsonfilter`", single), 12, at_least=True)
    return t.markdown()


def chart(panels, path):
    """One panel per entry: ("bars", title, results) or ("lines", title, {variant: [(share, seconds)]})."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heights = [1.4 + 0.3 * len([r for r in data if r.seconds]) if kind == "bars" else 3.2
               for kind, _, data in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, sum(heights) + 0.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (kind, title, data) in zip(axes[:, 0], panels):
        ax.set_title(title, fontsize=10)
        if kind == "lines":
            ax.set_prop_cycle(color=plt.cm.tab20.colors)  # a color for each of up to 20 lines
            for name, points in data.items():
                if points:
                    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name,
                            linestyle="-" if "jsonfilter" in name else ":" if "floor" in name else "--")
            ax.set_xlabel("share of the records selected (%)")
            # A log scale: jq, 20 to 60 times slower, would flatten every other line.
            ax.set_yscale("log")
            ax.set_ylabel("seconds (median, log scale)")
            ax.legend(fontsize=7, ncol=2)
            continue
        timed = [r for r in data if r.seconds][::-1]
        medians = [r.median for r in timed]
        colors = ["tab:green" if r.variant.floor else "tab:blue" if "jsonfilter" in r.variant.name else "tab:gray"
                  for r in timed]
        ax.barh([r.variant.name for r in timed], medians, color=colors)
        for y, value in enumerate(medians):
            ax.text(value, y, f" {value:.{3 if value < 0.1 else 2}f} s", va="center", fontsize=8)
        ax.set_xlabel("seconds (median of runs; lower is better)")
        ax.set_xlim(0, max(medians or [1]) * 1.2)
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine():
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4, help="files of blog data (default 4)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per file (default 1000000)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each variant (default 5)")
    parser.add_argument("--baseline-runs", type=int, default=1,
                        help="runs of the slow baselines, the blog mapper and jq over whole files (default 1)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"sections to run, comma-separated (default all: {','.join(SECTIONS)})")
    parser.add_argument("--thresholds", default=",".join(f"{th:g}" for th in THRESHOLDS),
                        help="thresholds of the selectivity series (default 1.99,1.5,1,0)")
    parser.add_argument("--scale-lines", type=int,
                        help="total lines (in --files files) for the -j 2 against -j 1 scaling "
                             "(default 4 times the blog data: 16000000)")
    parser.add_argument("--small-lines", type=int, default=10_000,
                        help="lines per file of the many-small-files section (default 10000)")
    parser.add_argument("--small-files", type=int,
                        help="files of the many-small-files section (default: the blog data's lines "
                             "in files of --small-lines: 400)")
    parser.add_argument("--startup-runs", type=int,
                        help="runs of each start-up command (default 20 times --runs)")
    parser.add_argument("--sizes", default="250000,1000000,4000000,16000000",
                        help="total lines of the size series, comma-separated ('' to leave out)")
    parser.add_argument("--stream-mb", type=int, default=4000,
                        help="size of the generated stream for the memory check (0 to leave out)")
    parser.add_argument("--jsonfilter", help="the jsonfilter command to time (default: the one beside this Python)")
    parser.add_argument("--report", type=Path, default=HERE / "bench.md", help="Markdown report to write")
    parser.add_argument("--chart", type=Path, default=HERE / "bench.png", help="PNG chart to write")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    wrong = set(args.sections) - set(SECTIONS)
    if wrong:
        parser.error(f"unknown sections: {', '.join(sorted(wrong))} (known: {', '.join(SECTIONS)})")
    args.thresholds = [float(th) for th in args.thresholds.split(",") if th.strip()]
    if args.scale_lines is None:
        args.scale_lines = 4 * args.files * args.lines
    if args.small_files is None:
        args.small_files = max(1, args.files * args.lines // args.small_lines)
    if args.startup_runs is None:
        args.startup_runs = 20 * args.runs
    return args


def main(argv=None):
    args = parse_args(argv)
    began = time.perf_counter()
    # The script installed beside this Python: a version manager's shim first
    # on PATH (pyenv's is a shell script) would add its own start-up to every run.
    beside = Path(sys.executable).with_name("jsonfilter")
    jf = args.jsonfilter or (str(beside) if beside.exists() else shutil.which("jsonfilter")
                             or f"{sys.executable} -m json_mapper")
    # Compiled as an installed package is: with PYTHONDONTWRITEBYTECODE set,
    # a module edited since its last compile would be compiled at every run.
    compileall.compile_dir(Path(datagen.__file__).parent, quiet=1)
    version = subprocess.run(shlex.split(jf) + ["--version"], capture_output=True, text=True).stdout.strip()
    python = sys.executable
    out = [f"Machine: {machine()}. {time.strftime('%Y-%m-%d', time.gmtime())}, {version or jf}, "
           f"{args.runs} runs of each variant ({args.baseline_runs} of the slow baselines: the blog mapper and jq "
           f"over whole files); ratios and MB/s from the median run. "
           f"Every output is checked against its table's first row: the same bytes, or the same records "
           f"with the same values in any order (the peers': the same index, total and sum_val). "
           f"Each table ends with its two floors, `cat FILES > /dev/null` and `cat` of a file of the output's "
           f"size into a new file; ns/line is the median run's time a line of input."]
    runs = {}  # (section, threshold): results
    gain_floor = None  # two_process_gain()'s ratio, once the scaling section has run
    panels = []
    rss_rows = []  # (row, peak KB) of every jsonfilter run, for the memory target
    start = {}
    failed = []
    with tempfile.TemporaryDirectory(prefix="jsonfilter-bench-") as tmp:
        work = Path(tmp)
        made = {}
        parse_floor = built_parse_floor(work)

        def blog_data(files, lines):
            """The blog's data set of `files` x `lines`, made once per run."""
            if (files, lines) not in made:
                folder = work / f"blog_{files}x{lines}"
                datagen.main(["--files", str(files), "--lines", str(lines), "--out", str(folder)])
                made[files, lines] = folder
            return made[files, lines]

        def record(section, threshold, results):
            runs[section, threshold] = results
            failed.extend(f"{section} at {threshold:g}: {r.variant.name}" for r in results if "DIFFERENT" in r.check)
            rss_rows.extend((f"{section}: {r.variant.name}", r.rss_kb) for r in results
                            if r.seconds and "jsonfilter" in r.variant.name)

        if "series" in args.sections:
            blog = blog_data(args.files, args.lines)
            size = size_of(blog)
            total = args.files * args.lines
            out += ["", f"## The blog's data at four selectivities: {args.files} files x {args.lines:,} lines "
                        f"({size / 1e6:.0f} MB)"]
            summary = {}
            lines = line_count(blog)
            for th in args.thresholds:
                print(f"blog data, threshold {th:g}", file=sys.stderr)
                expected = generator_count(args.files, args.lines, th)
                chosen = [v for v in series_variants(jf, python, parse_floor) if not v.at or th in v.at]
                results = race(chosen, blog, work, args.runs, th, jq_program(work, th), expected, args.baseline_runs)
                record("series", th, results)
                share = 100 * expected / total if total else 0
                summary[th] = (share, {r.variant.name: r for r in results})
                out += ["", f"### Threshold {th:g} ({expected:,} records selected, {share:.3g}%)", "",
                        table(results, size, lines)]
            out += ["", "### Selectivity summary (median s)", "", selectivity_summary(summary)]
            print("the native scanner alone", file=sys.stderr)
            out += ["", "### The native scanner alone", "",
                    "This tree's scanner (`BatchFilter`, as the command calls it) over the data's chunks, read into "
                    "memory first: no reads, no writes, no start-up. Median of the runs.", "",
                    scanner_rows(blog, args.thresholds, args.runs, lines)]
            if ("series", 1.99) in runs:
                panels.append(("bars", "The blog's data, threshold 1.99 (the blog's race)", runs["series", 1.99]))
            panels.append(("lines", "The blog's data at four selectivities", {
                name: [(share, by_name[name].median) for share, by_name in summary.values()
                       if name in by_name and by_name[name].seconds] for name in SERIES_CORE}))

        if "scaling" in args.sections:
            per_file = max(1, args.scale_lines // args.files)
            data = blog_data(args.files, per_file)
            out += ["", f"## `-j 2` against `-j 1`: {args.files} files x {per_file:,} lines "
                        f"({size_of(data) / 1e6:.0f} MB)"]
            for th in (1.99, 0.0):
                print(f"scaling, threshold {th:g}", file=sys.stderr)
                results = race(scaling_variants(jf), data, work, args.runs, th, None,
                               generator_count(args.files, per_file, th))
                record("scaling", th, results)
                one, two = (r.median if r.seconds else None for r in results[:2])
                gain = f": `-j 1` / `-j 2` = {one / two:.2f}x" if one and two else ""
                out += ["", f"### Threshold {th:g}{gain}", "", table(results, size_of(data), line_count(data)), "",
                        "CPU seconds of each run, user + system (all processes):", ""]
                out += [f"- {r.variant.name}: " + ", ".join(f"{user:.2f} + {system:.2f}" for user, system in r.cpu)
                        for r in results if r.cpu]
            one, two, gain_floor = two_process_gain(python, args.runs)
            print(f"  two CPU-bound loops at once: {gain_floor:.2f}x one", file=sys.stderr)
            out += ["", "### The machine's own gain from two processes", "",
                    f"A CPU-bound Python loop alone took {one:.2f} s; two of them run at once, {two:.2f} s "
                    f"(median of {args.runs}): two processes do {gain_floor:.2f}x the work of one in the same "
                    "time on this machine, the most `-j 2` can gain here."]

        if "wide" in args.sections or "nested" in args.sections:
            wide = work / "wide"
            wide_per_file = max(1, args.lines // 8)
            write_wide(wide, args.files, wide_per_file)
            wide_size = size_of(wide)
            about = (f"{args.files} files x {wide_per_file:,} lines ({wide_size / 1e6:.0f} MB, about "
                     f"{wide_size / (args.files * wide_per_file):.0f} bytes a line)")
        if "wide" in args.sections:
            print("wide data", file=sys.stderr)
            chosen = [v for v in series_variants(jf, python, parse_floor) if v.name in WIDE_VARIANTS]
            results = race(chosen, wide, work, args.runs, WIDE_THRESHOLD, jq_program(work, WIDE_THRESHOLD),
                           baseline_runs=args.baseline_runs)
            record("wide", WIDE_THRESHOLD, results)
            out += ["", f"## Wide log-like records: {about}, threshold {WIDE_THRESHOLD:g} (selects about half)",
                    "", table(results, wide_size, line_count(wide))]
            panels.append(("bars", "Wide log-like records, threshold 1.0", results))
        if "nested" in args.sections:
            print("nested fields", file=sys.stderr)
            results = race(nested_variants(jf, python), wide, work, args.runs, NESTED_THRESHOLD, None)
            record("nested", NESTED_THRESHOLD, results)
            out += ["", f"## Nested fields: the wide records, `-f {NESTED_FIELDS}` against the same values at "
                        f"the top level (`-f {TOP_FIELDS}`), threshold {NESTED_THRESHOLD:g}", "",
                    table(results, wide_size, line_count(wide))]

        if "small" in args.sections:
            small = work / "small"
            print(f"many small files: {args.small_files} x {args.small_lines:,} lines", file=sys.stderr)
            datagen.main(["--files", str(args.small_files), "--lines", str(args.small_lines), "--out", str(small)])
            results = race(small_variants(jf), small, work, args.runs, 1.99, ROOT / "map.jq",
                           generator_count(args.small_files, args.small_lines, 1.99))
            record("small", 1.99, results)
            out += ["", f"## Many small files: {args.small_files} files x {args.small_lines:,} lines "
                        f"({size_of(small) / 1e6:.0f} MB), threshold 1.99", "",
                    table(results, size_of(small), line_count(small))]
            panels.append(("bars", f"{args.small_files} small files", results))
            shutil.rmtree(small)

        if "startup" in args.sections:
            print("start-up", file=sys.stderr)
            start_rows, start, wrong = startup(jf, args.startup_runs)
            failed.extend(f"start-up: {row}" for row in wrong)
            out += ["", "## Start-up", "",
                    "Each command run directly (no shell), its input written to a pipe; the commands take turns.",
                    "", start_rows]

        if "sizes" in args.sections:
            sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
            rows = ["| lines | MB | `jsonfilter FILES` s | s per M lines | `jsonfilter -j 0 FILES` s | "
                    "s per M lines | `cat FILES > /dev/null` s | peak RSS MB | output |",
                    "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
            for total in sizes:
                folder = blog_data(4, total // 4)
                files = " ".join(str(p) for p in sorted(folder.glob("*.json")))
                _, one, rss1 = best_of(f"{jf} {files}", args.runs, work)
                first = fingerprint(work / "out.json")
                _, many, rss2 = best_of(f"{jf} -j 0 {files}", args.runs, work)
                check = "same bytes" if fingerprint(work / "out.json") == first else "DIFFERENT"
                if check == "DIFFERENT":
                    failed.append(f"sizes: {total:,} lines, -j 0")
                _, floor, _ = best_of(f"cat {files} > /dev/null", args.runs, work)
                rss_rows.extend([(f"sizes: {total:,} lines, jsonfilter FILES", rss1),
                                 (f"sizes: {total:,} lines, jsonfilter -j 0 FILES", rss2)])
                rows.append(f"| {total:,} | {size_of(folder) / 1e6:.0f} | {one:.2f} | {one / total * 1e6:.2f} "
                            f"| {many:.2f} | {many / total * 1e6:.2f} | {floor:.3f} | {max(rss1, rss2) / 1024:.0f} "
                            f"| {check} |")
                print(f"  size {total:,}: {one:.2f} s, -j 0 {many:.2f} s, cat {floor:.3f} s", file=sys.stderr)
            if sizes:
                out += ["", "## Size series (4 files, threshold 1.99, median s)", "", "\n".join(rows)]

        if "stream" in args.sections and args.stream_mb:
            stream_rows, peaks = big_stream(jf, args.stream_mb, work)
            if "DIFFERENT" in stream_rows:
                failed.append("stream: -j 0")
            rss_rows.extend((f"stream: {name}", kb) for name, kb in peaks.items())
            out += ["", "## Memory on a stream generated on the fly (threshold 1.5)", "", stream_rows]

        out += ["", "## Targets", "", "Computed from the figures above (median times); a target whose "
                "section did not run is marked as not measured.", "",
                compute_targets(runs, start, rss_rows, args.scale_lines, gain_floor)]

    minutes = (time.perf_counter() - began) / 60
    out += ["", f"Sections run: {', '.join(args.sections)}; the whole run took {minutes:.1f} minutes."]
    args.report.write_text("\n".join(out) + "\n")
    if panels:
        try:
            chart(panels, args.chart)
        except ImportError:
            print("matplotlib not installed: no chart", file=sys.stderr)
    print("\n".join(out))
    if failed:
        print(f"outputs differ: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The blog's race, side by side: every way of running the filter, timed on the same data.

    python examples/bench.py

generates the blog's data set with the built-in generator (4 files x 1M
lines) and a wide, log-like one, runs every variant several times, checks
that all of them select the same records with the same values, and writes a
Markdown report (examples/bench.md) and a bar chart (examples/bench.png).
Variants whose program or Python package is missing are reported as skipped.
Needs the `bench` extra (pip install -e '.[bench]') for DuckDB and the chart,
and GNU Parallel and jq for their rows. Smaller runs: --lines, --runs, --sizes.
"""
import argparse
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

# Runs one command in a fresh process, so that its peak memory (the largest
# process it started) is not mixed up with any other run's.
MEASURE = r"""
import resource, subprocess, sys, time
command, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    start = time.perf_counter()
    status = subprocess.run(["bash", "-c", command], stdout=f, stdin=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - start
print(status, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

DUCKDB = r"""
import sys, duckdb
files, threshold = sys.argv[1], float(sys.argv[2])
duckdb.sql('''COPY (SELECT *, "index" + total AS sum_val FROM read_ndjson('%s')
                     WHERE "index" + total > %r) TO '/dev/stdout' (FORMAT JSON)''' % (files, threshold))
"""


@dataclass
class Variant:
    name: str
    command: str
    needs: tuple = ()  # programs on PATH or "py:module"
    lossless_records: bool = True  # whole records comparable (DuckDB adds nulls for absent keys)


@dataclass
class Result:
    variant: Variant
    seconds: list = field(default_factory=list)
    rss_kb: int = 0
    skipped: str = ""
    check: str = ""


def variants(jf, python):
    """The race, as the blog ran it plus this project's ways; {files}, {data}, {th}, {jq} filled in later."""
    return [
        Variant("blog mapper (Python json, one line at a time)",
                f"cat {{files}} | {python} {HERE / 'blog_json_mapper.py'} {{th}}"),
        Variant("cat FILES | jsonfilter", f"cat {{files}} | {jf} -t {{th}}"),
        Variant("jsonfilter FILES", f"{jf} -t {{th}} {{files}}"),
        Variant("jsonfilter -j 2 FILES", f"{jf} -j 2 -t {{th}} {{files}}"),
        Variant("jsonfilter -j 0 FILES", f"{jf} -j 0 -t {{th}} {{files}}"),
        Variant("cat FILES | jsonfilter -j 0", f"cat {{files}} | {jf} -j 0 -t {{th}}"),
        Variant("GNU Parallel, one jsonfilter per file",
                f"find {{data}} -type f | sort | parallel '{jf} -t {{th}} < {{{{}}}}'", ("parallel",)),
        Variant("parallel --pipepart + jsonfilter",
                f"for f in {{files}}; do parallel --pipepart --block -1 -a $f '{jf} -t {{th}}'; done",
                ("parallel",)),
        Variant("jq -c -f map.jq", "cat {files} | jq -c -f {jq}", ("jq",)),
        Variant("parallel --pipe + jq", "cat {files} | parallel --pipe 'jq -c -f {jq}'", ("parallel", "jq")),
        Variant("DuckDB read_ndjson", f"{python} -c {shlex.quote(DUCKDB)} '{{data}}/*.json' {{th}}",
                ("py:duckdb",), lossless_records=False),
    ]


WIDE_VARIANTS = ("blog mapper (Python json, one line at a time)", "cat FILES | jsonfilter",
                 "jsonfilter -j 0 FILES", "cat FILES | jsonfilter -j 0", "jq -c -f map.jq",
                 "DuckDB read_ndjson")


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
    """Run `command` (bash) with stdout to `out`: (seconds, peak RSS in KB of its largest process)."""
    done = subprocess.run([sys.executable, "-c", MEASURE, command, str(out)], capture_output=True, text=True)
    status, seconds, rss = done.stdout.split()
    if status != "0":
        raise RuntimeError(f"exit status {status}: {command}\n{done.stderr}")
    return float(seconds), int(rss)


def records(path, whole):
    """The selected records of an output, in a form that ignores order and formatting.

    Decoded values compare equal when the numbers are (jq writes 12.0 as 12).
    """
    found = []
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                obj = orjson.loads(line)
                found.append(obj if whole else (obj["index"], obj["total"], obj["sum_val"]))
    found.sort(key=lambda obj: (obj["index"], obj["total"]) if whole else obj)
    return found


def race(names, dataset, work, args, jf, threshold, jq_program):
    """Run each variant `args.runs` times on `dataset`; check outputs against the first one."""
    files = " ".join(shlex.quote(str(p)) for p in sorted(dataset.glob("*.json")))
    results = []
    reference = None
    for variant in variants(jf, sys.executable):
        if variant.name not in names:
            continue
        result = Result(variant)
        results.append(result)
        result.skipped = missing(variant.needs)
        if result.skipped:
            continue
        command = variant.command.format(files=files, data=dataset, th=threshold, jq=jq_program)
        out = work / "out.json"
        for _ in range(args.runs):
            seconds, rss = measure(command, out)
            result.seconds.append(seconds)
            result.rss_kb = max(result.rss_kb, rss)
        if reference is None:
            reference = (records(out, True), records(out, False))
            result.check = f"reference ({len(reference[1]):,} records)"
        else:
            same = (records(out, True) == reference[0] if variant.lossless_records
                    else records(out, False) == reference[1])
            result.check = "same" if same else "DIFFERENT"
        print(f"  {variant.name}: min {min(result.seconds):.2f} s, {result.check}", file=sys.stderr)
    return results


def table(results, size_bytes):
    timed = [r for r in results if r.seconds]
    fastest = min(min(r.seconds) for r in timed) if timed else 1
    rows = ["| variant | min s | median s | x fastest | MB/s | peak RSS MB | output |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if r.skipped:
            rows.append(f"| {escaped(r.variant.name)} | | | | | | skipped: {r.skipped} |")
            continue
        best = min(r.seconds)
        rows.append(f"| {escaped(r.variant.name)} | {best:.2f} | {statistics.median(r.seconds):.2f} | "
                    f"{best / fastest:.1f} | {size_bytes / 1e6 / best:.0f} | {r.rss_kb / 1024:.0f} | "
                    f"{r.check} |")
    return "\n".join(rows)


def wide_lines(seed, count):
    """Log-like records of about 0.5 KB: escapes, non-ASCII text, nested objects, many keys."""
    rand = random.Random(f"wide:{seed}")
    words = ["naïve", "café", "Grüße", "日本語", "😀", "tab\there", 'say "hi"', "back\\slash", "new\nline",
             "ok", "error", "timeout", "user", "request", "served", "cache", "miss"]
    for n in range(count):
        record = {
            "ts": f"2024-05-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}.{n % 1000:03d}Z",
            "level": rand.choice(["DEBUG", "INFO", "WARN", "ERROR"]),
            "index": rand.random(),
            "host": f"web-{rand.randrange(40):02d}.example.org",
            "msg": " ".join(rand.choice(words) for _ in range(12)),
            "http": {"method": rand.choice(["GET", "POST"]), "path": f"/api/v1/items/{rand.randrange(10**6)}",
                     "status": rand.choice([200, 200, 200, 404, 500]), "bytes": rand.randrange(10**7)},
            "user": {"id": rand.randrange(10**9), "name": rand.choice(words), "roles": ["reader", "writer"][
                :1 + n % 2], "geo": {"lat": rand.uniform(-90, 90), "lon": rand.uniform(-180, 180)}},
            "total": rand.random(),
            "tags": [rand.choice(words) for _ in range(3)],
            "latency_ms": round(rand.expovariate(0.05), 3),
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


def best_of(command, runs, work):
    samples = [measure(command, work / "out.json") for _ in range(runs)]
    return min(s for s, _ in samples), statistics.median(s for s, _ in samples), max(r for _, r in samples)


def escaped(text):
    """Text for a Markdown table cell: its pipes escaped."""
    return text.replace("|", "\\|")


def cell(command):
    """A command as a Markdown table cell: in code."""
    return "`" + escaped(command) + "`"


def startup(jf, runs):
    rows = ["| command | min ms | median ms |", "|---|---:|---:|"]
    figures = {}
    for name, command in (("echo '{}' | jsonfilter", f"echo '{{}}' | {jf}"),
                          ("python -c 'import orjson'", f"{sys.executable} -c 'import orjson'")):
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            # '{}' is a bad record (exit status 1): start-up and one message, as the issue times it.
            subprocess.run(["bash", "-c", command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples.append(time.perf_counter() - start)
        figures[name] = min(samples)
        rows.append(f"| {cell(name)} | {min(samples) * 1000:.0f} | {statistics.median(samples) * 1000:.0f} |")
    return "\n".join(rows), figures


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
    rows = ["| command | stream | seconds | peak RSS MB (largest process) |", "|---|---:|---:|---:|"]
    generator = f"{sys.executable} -c {shlex.quote(STREAM)} {megabytes * 10**6} {shlex.quote(str(ROOT))}"
    peaks = {}
    for name, command in (("generator | jsonfilter", f"{generator} | {jf} -t 1.5 | wc -l"),
                          ("generator | jsonfilter -j 0", f"{generator} | {jf} -j 0 -t 1.5 | wc -l")):
        seconds, rss = measure(command, work / "out.json")
        peaks[name] = rss
        rows.append(f"| {cell(name)} | {megabytes / 1000:.1f} GB | {seconds:.1f} | {rss / 1024:.0f} |")
    return "\n".join(rows), peaks


def targets(results, start, series=()):
    """The issue's targets, checked on this run's figures (min times).

    `series` is the size series, (lines, -j 1 seconds, -j 0 seconds): on the
    largest size, the -j scaling is also shown where start-up weighs least.
    """
    t = {r.variant.name: min(r.seconds) for r in results if r.seconds}
    lines = []

    def check(label, ok, detail):
        lines.append(f"- {label}: {detail} — {'met' if ok else 'NOT met'}")

    blog, jq, duck = (t.get("blog mapper (Python json, one line at a time)"), t.get("jq -c -f map.jq"),
                      t.get("DuckDB read_ndjson"))
    single = t.get("cat FILES | jsonfilter")
    if single and blog:
        check("`cat | jsonfilter` <= 1/6 of the blog mapper", single * 6 <= blog, f"{blog / single:.1f}x faster")
    if single and jq:
        check("`cat | jsonfilter` <= 1/12 of jq", single * 12 <= jq, f"{jq / single:.1f}x faster")
    if duck and t.get("jsonfilter -j 0 FILES"):
        files = t["jsonfilter -j 0 FILES"]
        check("`jsonfilter -j 0 FILES` no slower than DuckDB", files <= duck, f"{files / duck:.2f}x DuckDB's time")
    if duck and t.get("cat FILES | jsonfilter -j 0"):
        piped = t["cat FILES | jsonfilter -j 0"]
        check("`cat | jsonfilter -j 0` <= 1.25x DuckDB", piped <= 1.25 * duck, f"{piped / duck:.2f}x DuckDB's time")
    if t.get("jsonfilter FILES") and t.get("jsonfilter -j 2 FILES"):
        speedup = t["jsonfilter FILES"] / t["jsonfilter -j 2 FILES"]
        check("`-j 2` >= 1.8x faster than `-j 1`", speedup >= 1.8, f"{speedup:.2f}x")
    if series and os.cpu_count() == 2:
        lines_, one, many = series[-1]
        check(f"the same on the size series' {lines_:,} lines (`-j 0`, 2 CPUs)", one / many >= 1.8,
              f"{one / many:.2f}x")
    if start:
        ratio = start["echo '{}' | jsonfilter"] / start["python -c 'import orjson'"]
        check("start-up <= 1.5x `python -c 'import orjson'`", ratio <= 1.5, f"{ratio:.2f}x")
    return "\n".join(lines)


def chart(sections, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sections), 1, figsize=(9, 1.2 + 0.42 * sum(
        len([r for r in rs if r.seconds]) for _, rs in sections) + 0.8 * len(sections)), squeeze=False)
    for ax, (title, results) in zip(axes[:, 0], sections):
        timed = [r for r in results if r.seconds][::-1]
        bests = [min(r.seconds) for r in timed]
        colors = ["tab:blue" if "jsonfilter" in r.variant.name else "tab:gray" for r in timed]
        ax.barh([r.variant.name for r in timed], bests, color=colors)
        for y, best in enumerate(bests):
            ax.text(best, y, f" {best:.2f} s", va="center", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("seconds (min of runs; lower is better)")
        ax.set_xlim(0, max(bests) * 1.18)
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4, help="files of blog data (default 4)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per file (default 1000000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant (default 3)")
    parser.add_argument("--sizes", default="250000,1000000,4000000,16000000",
                        help="total lines of the size series, comma-separated ('' to leave out)")
    parser.add_argument("--stream-mb", type=int, default=4000,
                        help="size of the generated stream for the memory check (0 to leave out)")
    parser.add_argument("--report", type=Path, default=HERE / "bench.md", help="Markdown report to write")
    parser.add_argument("--chart", type=Path, default=HERE / "bench.png", help="PNG chart to write")
    args = parser.parse_args(argv)

    # The script installed beside this Python: a version manager's shim first
    # on PATH (pyenv's is a shell script) would add its own start-up to every run.
    beside = Path(sys.executable).with_name("jsonfilter")
    jf = str(beside) if beside.exists() else shutil.which("jsonfilter") or f"{sys.executable} -m json_mapper"
    out = [f"Machine: {machine()}. {time.strftime('%Y-%m-%d', time.gmtime())}, "
           f"{args.runs} runs of each variant; ratio and MB/s from the fastest run."]
    with tempfile.TemporaryDirectory(prefix="jsonfilter-bench-") as tmp:
        work = Path(tmp)
        blog = work / "blog"
        datagen.main(["--files", str(args.files), "--lines", str(args.lines), "--out", str(blog)])
        jq_blog = ROOT / "map.jq"
        print(f"blog data: {args.files} x {args.lines:,} lines", file=sys.stderr)
        main_names = [v.name for v in variants(jf, sys.executable)]
        blog_results = race(main_names, blog, work, args, jf, 1.99, jq_blog)
        blog_size = size_of(blog)
        out += ["", f"### The blog's data: {args.files} files x {args.lines:,} lines "
                    f"({blog_size / 1e6:.0f} MB), threshold 1.99", "", table(blog_results, blog_size)]

        wide = work / "wide"
        wide_per_file = max(1, args.lines // 8)
        write_wide(wide, args.files, wide_per_file)
        jq_wide = work / "map_wide.jq"
        jq_wide.write_text(jq_blog.read_text().replace("1.99", "1.0"))
        print("wide data", file=sys.stderr)
        wide_results = race(WIDE_VARIANTS, wide, work, args, jf, 1.0, jq_wide)
        wide_size = size_of(wide)
        out += ["", f"### Wide log-like records: {args.files} files x {wide_per_file:,} lines "
                    f"({wide_size / 1e6:.0f} MB, about {wide_size / (args.files * wide_per_file):.0f} bytes "
                    f"a line), threshold 1.0 (selects about half)", "", table(wide_results, wide_size)]

        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        series = []  # (lines, seconds with -j 1, seconds with -j 0)
        if sizes:
            rows = ["| lines | MB | `jsonfilter FILES` s | s per M lines | `jsonfilter -j 0 FILES` s | "
                    "s per M lines | peak RSS MB |", "|---:|---:|---:|---:|---:|---:|---:|"]
            for total in sizes:
                folder = work / f"size_{total}"
                datagen.main(["--files", "4", "--lines", str(total // 4), "--out", str(folder)])
                files = " ".join(str(p) for p in sorted(folder.glob("*.json")))
                one, _, rss1 = best_of(f"{jf} {files}", args.runs, work)
                many, _, rss2 = best_of(f"{jf} -j 0 {files}", args.runs, work)
                rows.append(f"| {total:,} | {size_of(folder) / 1e6:.0f} | {one:.2f} | {one / total * 1e6:.2f} "
                            f"| {many:.2f} | {many / total * 1e6:.2f} | {max(rss1, rss2) / 1024:.0f} |")
                series.append((total, one, many))
                shutil.rmtree(folder)
                print(f"  size {total:,}: {one:.2f} s, -j 0 {many:.2f} s", file=sys.stderr)
            out += ["", "### Size series (4 files, min of runs)", "", "\n".join(rows)]

        start_rows, start = startup(jf, max(5, args.runs * 3))
        out += ["", "### Start-up", "", start_rows]
        if args.stream_mb:
            stream_rows, _ = big_stream(jf, args.stream_mb, work)
            out += ["", "### Memory on a stream generated on the fly (threshold 1.5)", "", stream_rows]
        out += ["", "### Targets", "", targets(blog_results, start, series)]

    args.report.write_text("\n".join(out) + "\n")
    try:
        chart([("The blog's data", blog_results), ("Wide log-like records", wide_results)], args.chart)
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)
    print("\n".join(out))
    bad = [r.variant.name for r in blog_results + wide_results if r.check == "DIFFERENT"]
    if bad:
        print(f"outputs differ: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The options grep users bring (issue 21): -v, -c, -m, -r/-R, --files-from, --files0-from, completion.

Each through the real command, on inputs of several MiB (the fast paths
start after 64 KiB, and -j needs several pieces), from files, stdin and gzip,
and with -j 2 and -j 0 against -j 1. The expected records come from an
oracle that knows each line's sum from the template it was made from, not
from jsonfilter.
"""
import gzip
import os
import random
import re
import select
import subprocess
import sys

import pytest

from conftest import ROOT, require, require_module
from json_mapper.batch import BatchFilter
from json_mapper.chunk import filter_chunk
from json_mapper.cli import build_parser
from json_mapper.record import Spec

BAD = "bad"
BLANK = "blank"
# (a line, with %d for its number; its sum, or BAD or BLANK). At -t 2 the
# first and the last are equal to the threshold, and the third is -0.0: -v
# selects them.
TEMPLATES = [
    (b'{"index": 1, "total": 1, "n": %d}', 2.0),
    (b'{"index": 1.5, "total": 1, "n": %d}', 2.5),
    (b'{"index": -0.0, "total": -0.0, "n": %d}', -0.0),
    (b'{"index": 0.1, "total": 0.2, "n": %d}', 0.30000000000000004),
    (b'{"index": 3, "total": -0.5, "pad": "%d"}', 2.5),
    (b'{"sum_val": "old", "index": 1.0, "total": 0.99, "n": %d}', 1.99),
    (b'{"index": 2, "total": 1e-17, "n": %d}', 2.0),
]
BAD_TEMPLATES = [
    (b'{"index": 1, "n": %d}', BAD),
    (b'{"index": 1e308, "total": 1e308, "n": %d}', BAD),
    (b"not json %d", BAD),
    (b"  ", BLANK),
]
THRESHOLD = 1.99  # the default, which the sum_val template's 1.0 + 0.99 equals
SIZE = 5 << 20


def make_lines(count, seed, templates):
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        text, total = rng.choice(templates)
        lines.append((text % n if b"%d" in text else text, total))
    return lines


def data_of(lines):
    return b"".join(line + b"\n" for line, _ in lines)


def output_of(line, total):
    number = repr(total).encode()
    if b'"sum_val": "old"' in line:
        return line.replace(b'"sum_val": "old"', b'"sum_val": ' + number) + b"\n"
    return line[:-1] + b',"sum_val":' + number + b"}\n"


def expected(lines, threshold=THRESHOLD, invert=False):
    """The output records, each with the line number (from 1) it came from."""
    found = []
    for number, (line, total) in enumerate(lines, 1):
        if total in (BAD, BLANK):
            continue
        if (total > threshold) != invert:
            found.append((number, output_of(line, total)))
    return found


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A clean part (every chunk of it fast-path material), then a messy one: 5 MiB or so."""
    folder = tmp_path_factory.mktemp("grep")
    clean = make_lines(60_000, 1, TEMPLATES)
    messy = make_lines(60_000, 2, TEMPLATES + BAD_TEMPLATES)
    lines = clean + messy
    data = data_of(lines)
    assert len(data) > 4 << 20
    (folder / "big.json").write_bytes(data)
    (folder / "big.json.gz").write_bytes(gzip.compress(data, compresslevel=1))
    return folder, lines, data


def ways(run_jsonfilter, folder, data, *options):
    """The same run from a file, stdin, gzip, and with -j 2 and -j 0: (name, CompletedProcess)."""
    return [
        ("file", run_jsonfilter(*options, "big.json", cwd=folder, timeout=300)),
        ("stdin", run_jsonfilter(*options, stdin=data, cwd=folder, timeout=300)),
        ("gzip", run_jsonfilter(*options, "big.json.gz", cwd=folder, timeout=300)),
        ("-j 2", run_jsonfilter("-j", "2", *options, "big.json", cwd=folder, timeout=300)),
        ("-j 0 gzip stdin", run_jsonfilter("-j", "0", *options, stdin=gzip.compress(data, 1), cwd=folder,
                                           timeout=300)),
    ]


def messages(result):
    """stderr with the name of the input left out (big.json, <stdin>...) and --stats' timing."""
    lines = []
    for line in result.stderr.decode().splitlines():
        line = re.sub(r"^jsonfilter: [^:]+:(\d+):", r"jsonfilter: INPUT:\1:", line)
        lines.append(line.rsplit(", ", 2)[0] if "lines read" in line else line)
    return lines


def bad_messages(lines, before=None):
    """What the command says of the bad lines (up to line `before`), in warn mode."""
    said = []
    count = 0
    for number, (_, total) in enumerate(lines, 1):
        if before is not None and number > before:
            break
        if total is BAD:
            count += 1
            if count <= 10:
                said.append(number)
    return said, count


# --- -v ----------------------------------------------------------------------

@pytest.mark.parametrize("threshold", ["2", "0", "-0.0"])
def test_invert_selects_exactly_the_good_records_a_run_leaves_out(run_jsonfilter, big, threshold):
    folder, lines, data = big
    value = float(threshold)
    wanted = b"".join(out for _, out in expected(lines, value, invert=True))
    others = b"".join(out for _, out in expected(lines, value))
    assert b'"sum_val":-0.0}' in wanted  # the -0.0 sums are -v's at every one of these thresholds
    # A sum equal to the threshold is -v's, never the plain run's.
    equal = b'{"index": 1, "total": 1, "n": '
    assert (equal in wanted) == (value == 2) != (equal in others)
    said, _ = bad_messages(lines)
    results = ways(run_jsonfilter, folder, data, "-v", "-t", threshold)
    for way, result in results:
        assert result.stdout == wanted, way
        assert result.returncode == 1, way
        assert [int(m.split(":")[2]) for m in messages(result)[:-1]] == said, way
    plain = run_jsonfilter("-t", threshold, "big.json", cwd=folder, timeout=300)
    assert plain.stdout == others
    # Bad records are bad either way: the same messages.
    assert messages(plain) == messages(results[0][1])


def test_invert_keeps_the_stats_identity(run_jsonfilter, big):
    folder, lines, data = big
    counts = {}
    for options in ([], ["-v"]):
        for jobs in ("1", "2"):
            result = run_jsonfilter(*options, "-j", jobs, "--stats", "big.json", cwd=folder, timeout=300)
            line = messages(result)[-1]
            numbers = dict((name, int(n)) for n, name in re.findall(
                r"(\d+) (lines read|records written|bad records|blank|not selected)", line))
            counts[(bool(options), jobs)] = numbers
    assert counts[(False, "1")] == counts[(False, "2")]
    assert counts[(True, "1")] == counts[(True, "2")]
    plain, inverted = counts[(False, "1")], counts[(True, "1")]
    assert inverted["lines read"] == plain["lines read"] == len(lines)
    assert inverted["records written"] == plain["not selected"] == len(expected(lines, invert=True))
    assert inverted["not selected"] == plain["records written"] == len(expected(lines))
    assert inverted["bad records"] == plain["bad records"] > 0
    assert inverted["blank"] == plain["blank"] > 0


def test_invert_is_the_same_on_every_path_of_a_chunk(big):
    # The native scanner, msgspec and the per-record loop, on clean and messy chunks.
    _, lines, data = big
    clean = data_of(lines[:5000])
    with_nulls = clean + b'{"index": null, "total": 1}\n{"total": 1}\n'
    cases = [(clean, "bad"), (with_nulls, "skip"), (with_nulls, "zero"), (data_of(lines[-5000:]), "bad")]
    for chunk in cases:
        chunk, missing = chunk
        for threshold in (2.0, 0.0, -0.0, 1.99):
            spec = Spec(threshold=threshold, invert=True, missing=missing)
            reference = filter_chunk(chunk, spec)
            for native in (True, False):
                got = BatchFilter(spec, native=native)(chunk)
                assert got._replace(bad=[]) == reference._replace(bad=[]), (threshold, missing, native)
            msgspec_only = BatchFilter(spec, native=False)._decoded(chunk)
            if chunk is clean or missing != "bad":
                assert msgspec_only is not None  # this chunk was msgspec's to decide
                assert msgspec_only[:3] == reference[:3] and msgspec_only.skipped == reference.skipped


def test_invert_without_the_native_scanner(cli_env, big):
    folder, lines, data = big
    without = ("import runpy, sys; sys.modules['json_mapper._scan'] = None; "
               "runpy.run_module('json_mapper', run_name='__main__', alter_sys=True)")
    done = subprocess.run([sys.executable, "-c", without, "-v", "-t", "2", "big.json"], cwd=folder,
                          env=cli_env, capture_output=True, timeout=300)
    assert done.stdout == b"".join(out for _, out in expected(lines, 2.0, invert=True))
    assert done.returncode == 1


# --- -c ----------------------------------------------------------------------

@pytest.mark.parametrize("options", [[], ["-v"], ["-t", "0", "--on-error", "skip"]], ids=str)
def test_count_writes_only_the_number_selected(run_jsonfilter, big, options):
    folder, lines, data = big
    threshold = 0.0 if "-t" in options else THRESHOLD
    number = len(expected(lines, threshold, invert="-v" in options))
    full = run_jsonfilter(*options, "big.json", cwd=folder, timeout=300)
    for way, result in ways(run_jsonfilter, folder, data, "-c", *options):
        assert result.stdout == b"%d\n" % number, way
        assert (messages(result), result.returncode) == (messages(full), full.returncode), way


def test_count_is_the_total_over_all_inputs(run_jsonfilter, big):
    folder, lines, data = big
    number = len(expected(lines))
    for jobs in ("1", "2", "0"):
        result = run_jsonfilter("-c", "-j", jobs, "big.json", "-", "big.json.gz", stdin=data, cwd=folder,
                                timeout=300)
        assert result.stdout == b"%d\n" % (3 * number), jobs
        assert result.returncode == 1


def test_count_keeps_the_rejects_and_counts_up_to_a_stop(run_jsonfilter, big, tmp_path):
    folder, lines, data = big
    for option in ([], ["-c"]):
        run_jsonfilter(*option, "--rejects", tmp_path / f"rejects{len(option)}", "big.json", cwd=folder,
                       timeout=300)
    assert (tmp_path / "rejects0").read_bytes() == (tmp_path / "rejects1").read_bytes() != b""
    # --on-error fail: the number written before the stop.
    first_bad = next(n for n, (_, total) in enumerate(lines, 1) if total is BAD)
    before = len([n for n, _ in expected(lines) if n < first_bad])
    for jobs in ("1", "2"):
        result = run_jsonfilter("-c", "--on-error", "fail", "-j", jobs, "big.json", cwd=folder, timeout=300)
        assert (result.stdout, result.returncode) == (b"%d\n" % before, 2)
        assert result.stderr.startswith(b"jsonfilter: big.json:%d: " % first_bad)


# --- -m ----------------------------------------------------------------------

@pytest.mark.parametrize("options", [[], ["-v"]], ids=str)
def test_max_count_gives_the_first_records_and_reads_no_further(run_jsonfilter, big, options, tmp_path):
    folder, lines, data = big
    threshold = 0.0 if "-t" in options else THRESHOLD
    found = expected(lines, threshold, invert="-v" in options)
    # The first, one in the messy part, the last, and more than there are.
    for count in (1, len(found) * 3 // 4, len(found), len(found) + 5):
        wanted = found[:count]
        last = wanted[-1][0] if count <= len(found) else len(lines)
        said, bad = bad_messages(lines, last)
        rejects = b"".join(line + b"\n" for line, total in lines[:last] if total is BAD)
        outcomes = []
        for way, result in ways(run_jsonfilter, folder, data, "-m", count, "--stats", *options,
                                "--rejects", tmp_path / "rejects"):
            assert result.stdout == b"".join(out for _, out in wanted), (count, way)
            shown = messages(result)
            assert [int(m.split(":")[2]) for m in shown[:len(said)]] == said, (count, way)
            assert f"{last} lines read, {len(wanted)} records written, {bad} bad records" in shown[-1], (
                count, way)
            assert result.returncode == (1 if bad else 0), (count, way)
            outcomes.append((shown, (tmp_path / "rejects").read_bytes()))
        assert outcomes[0][1] == rejects
        assert all(outcome == outcomes[0] for outcome in outcomes), count


def test_max_count_opens_no_input_after_the_last_record(run_jsonfilter, big):
    folder, lines, data = big
    first = expected(lines)[0][1]
    for jobs in ("1", "2", "0"):
        result = run_jsonfilter("-m", "1", "-j", jobs, "big.json", "missing.json", cwd=folder, timeout=300)
        assert (result.stdout, result.stderr, result.returncode) == (first, b"", 0)
    zero = run_jsonfilter("-m", "0", "-c", "missing.json", cwd=folder)
    assert (zero.stdout, zero.stderr, zero.returncode) == (b"0\n", b"", 0)


ENDLESS = ("import sys\n"
           "line = b'{\"index\": 1, \"total\": 1, \"pad\": \"' + b'x' * 200 + b'\"}\\n'\n"
           "low = b'{\"index\": 0, \"total\": 1}\\n' * 1000\n"
           "try:\n"
           "    while True:\n"
           "        sys.stdout.buffer.write(low + line)\n"
           "except BrokenPipeError:\n"
           "    pass\n")


@pytest.mark.parametrize("jobs", ["1", "2", "0"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_bug_max_count_on_an_endless_pipe_ends(cli_env, jobs, compressed):
    # A producer that would write for ever: the run ends after its first
    # record, and the producer then meets a closed pipe (the timeout only
    # guards against a hang; it measures nothing).
    producer = subprocess.Popen([sys.executable, "-c", ENDLESS], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    source = producer
    if compressed:
        source = subprocess.Popen(["gzip", "-1"], stdin=producer.stdout, stdout=subprocess.PIPE)
        producer.stdout.close()
    try:
        done = subprocess.run(["jsonfilter", "-j", jobs, "-m", "1"], stdin=source.stdout, capture_output=True,
                              env=cli_env, timeout=120)
    finally:
        source.stdout.close()
        for process in {producer, source}:
            process.wait(timeout=60)
    assert done.stdout == b'{"index": 1, "total": 1, "pad": "' + b"x" * 200 + b'","sum_val":2.0}\n'
    assert (done.stderr, done.returncode) == (b"", 0)


# --- -r and -R ---------------------------------------------------------------

@pytest.fixture(scope="module")
def tree(big, tmp_path_factory):
    """logs/ with dated subfolders, gzip, a big file, links and a FIFO; elsewhere/ outside it."""
    folder = tmp_path_factory.mktemp("tree")
    _, lines, data = big
    files = {
        "logs/2026-11-24/app.json": data_of(make_lines(3000, 3, TEMPLATES)),
        "logs/2026-11-24/app.json.1.gz": gzip.compress(data_of(make_lines(3000, 4, TEMPLATES))),
        "logs/2026-11-25/big.json": data,
        "logs/2026-11-25/z.json": b'{"index": 5, "total": 5, "n": "z"}\n',
        "logs/a.json": b'{"index": 9, "total": 9, "n": "a.json"}\n',
        "logs/a/z.json": b'{"index": 8, "total": 8, "n": "a/z"}\n',
        "logs/\xe9t\xe9.json": b'{"index": 7, "total": 7, "n": "e"}\n',
        "logs/B.json": b'{"index": 6, "total": 6, "n": "B"}\n',
        "elsewhere/linked.json": b'{"index": 4, "total": 4, "n": "linked"}\n',
    }
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (folder / "logs" / "2026-11-25" / "link-to-file.json").symlink_to(folder / "elsewhere" / "linked.json")
    (folder / "logs" / "link-to-folder").symlink_to(folder / "elsewhere")
    os.mkfifo(folder / "logs" / "2026-11-25" / "fifo.json")  # read, it would wait for ever
    return folder


def walked(base, root, follow=False):
    """The regular files under base/root, named from base, in the stated order: the paths compared
    component by component, as bytes."""
    found = []
    for top, _, names in os.walk(base / root, followlinks=follow):
        for name in names:
            path = os.path.join(top, name)
            if os.path.isfile(path) and (follow or not os.path.islink(path)):
                found.append(os.path.relpath(path, base))
    return sorted(found, key=lambda path: [os.fsencode(part) for part in path.split(os.sep)])


def test_recursive_reads_every_regular_file_in_the_stated_order(run_jsonfilter, tree):
    order = walked(tree, "logs")
    assert order == ["logs/2026-11-24/app.json", "logs/2026-11-24/app.json.1.gz", "logs/2026-11-25/big.json",
                     "logs/2026-11-25/z.json", "logs/B.json", "logs/a/z.json", "logs/a.json",
                     "logs/\u00e9t\u00e9.json"]
    named = run_jsonfilter("--stats", *order, cwd=tree, timeout=300)
    assert named.stdout.count(b"\n") > 10_000
    for jobs in ("1", "2", "0"):
        for option in ("-r", "--recursive"):
            result = run_jsonfilter(option, "--stats", "-j", jobs, "logs", cwd=tree, timeout=300)
            assert result.stdout == named.stdout, (jobs, option)
            assert messages(result) == messages(named)
            assert result.returncode == named.returncode == 1
    # No FILE: the working folder, its files named without "./".
    inside = run_jsonfilter("-r", cwd=tree / "logs", timeout=300)
    assert inside.stdout == named.stdout
    assert messages(inside) == messages(named)[:-1]  # all but the --stats line
    assert inside.stderr.startswith(b"jsonfilter: 2026-11-25/big.json:")


def test_dereference_recursive_follows_links(run_jsonfilter, tree):
    order = walked(tree, "logs", follow=True)
    assert "logs/link-to-folder/linked.json" in order and "logs/2026-11-25/link-to-file.json" in order
    named = run_jsonfilter(*order, cwd=tree, timeout=300)
    for jobs in ("1", "2"):
        result = run_jsonfilter("-R", "-j", jobs, "logs", cwd=tree, timeout=300)
        assert (result.stdout, result.stderr) == (named.stdout, named.stderr)
    assert b'"n": "linked"' in named.stdout


def test_recursive_reports_a_loop_and_goes_on(run_jsonfilter, tmp_path):
    (tmp_path / "top" / "sub").mkdir(parents=True)
    (tmp_path / "top" / "sub" / "a.json").write_bytes(b'{"index": 2, "total": 1}\n')
    (tmp_path / "top" / "sub" / "back").symlink_to(tmp_path / "top")
    plain = run_jsonfilter("-r", "top")
    assert (plain.stdout, plain.stderr, plain.returncode) == (b'{"index": 2, "total": 1,"sum_val":3.0}\n', b"", 0)
    followed = run_jsonfilter("-R", "top")
    assert followed.stdout == plain.stdout
    assert (followed.stderr, followed.returncode) == (b"jsonfilter: top/sub/back: recursive directory loop\n", 2)


def test_a_folder_without_recursive_is_a_usage_error(run_jsonfilter, tree):
    for args in (["logs"], ["logs/a.json", "logs"], ["-j", "2", "logs/a.json", "logs/a"]):
        result = run_jsonfilter(*args, cwd=tree)
        folder = args[-1]
        assert (result.stdout, result.returncode) == (b"", 2)  # nothing read, not even the file before it
        assert result.stderr == (f"jsonfilter: {folder}: Is a directory; -r reads the files under it "
                                 "(see 'jsonfilter --help')\n").encode()


def test_recursive_refuses_rejects_inside_a_folder_it_reads(run_jsonfilter, tree, tmp_path):
    result = run_jsonfilter("-r", "logs", "--rejects", "logs/new-rejects.json", cwd=tree)
    assert (result.stdout, result.returncode) == (b"", 2)
    assert result.stderr == (b"jsonfilter: --rejects logs/new-rejects.json: it is also an input "
                             b"(it is in a folder read with -r)\n")
    assert not (tree / "logs" / "new-rejects.json").exists()
    beside = run_jsonfilter("-r", tree / "logs", "--rejects", tmp_path / "rejects.json", cwd=tmp_path,
                            timeout=300)
    assert beside.returncode == 1 and (tmp_path / "rejects.json").read_bytes()


# --- --files-from and --files0-from ------------------------------------------

def test_file_lists_read_the_files_they_name(run_jsonfilter, tree, tmp_path):
    names = ["logs/2026-11-25/big.json", "logs/a.json", "logs/2026-11-24/app.json.1.gz", "logs/a.json"]
    named = run_jsonfilter(*names, cwd=tree, timeout=300)
    assert named.stdout.count(b"\n") > 10_000
    (tmp_path / "list").write_text("".join(name + "\n" for name in names))
    (tmp_path / "list0").write_text("".join(name + "\0" for name in names))
    for jobs in ("1", "2", "0"):
        runs = [run_jsonfilter("--files-from", tmp_path / "list", "-j", jobs, cwd=tree, timeout=300),
                run_jsonfilter("--files0-from", tmp_path / "list0", "-j", jobs, cwd=tree, timeout=300),
                run_jsonfilter("--files-from", "-", "-j", jobs, stdin=(tmp_path / "list").read_bytes(),
                               cwd=tree, timeout=300),
                run_jsonfilter("--files0-from=-", "-j", jobs, stdin=(tmp_path / "list0").read_bytes()[:-1],
                               cwd=tree, timeout=300)]
        for result in runs:
            assert (result.stdout, result.stderr, result.returncode) == (
                named.stdout, named.stderr, named.returncode), jobs
    # After the FILE operands; with -r, a listed folder is walked.
    both = run_jsonfilter("logs/a.json", "-r", "--files-from", "-", stdin=b"logs/a\n", cwd=tree)
    assert both.stdout == (b'{"index": 9, "total": 9, "n": "a.json","sum_val":18.0}\n'
                           b'{"index": 8, "total": 8, "n": "a/z","sum_val":16.0}\n')


def test_files0_from_takes_any_name(run_jsonfilter, tmp_path):
    odd = ["new\nline.json", "-", "sp ace.json", "\xe9.json"]
    for n, name in enumerate(odd):
        (tmp_path / name).write_bytes(b'{"index": 2, "total": %d}\n' % n)
    listed = b"".join(os.fsencode(name) + b"\0" for name in odd)
    result = run_jsonfilter("--files0-from", "-", stdin=listed)
    assert result.stdout == b"".join(b'{"index": 2, "total": %d,"sum_val":%d.0}\n' % (n, n + 2)
                                     for n in range(len(odd)))
    assert (result.stderr, result.returncode) == (b"", 0)


def test_file_lists_report_empty_and_missing_names_and_go_on(run_jsonfilter, tmp_path):
    (tmp_path / "a.json").write_bytes(b'{"index": 2, "total": 1}\n')
    (tmp_path / "folder").mkdir()
    result = run_jsonfilter("--files-from", "-", stdin=b"a.json\n\nnowhere.json\nfolder\na.json")
    assert result.stdout == b'{"index": 2, "total": 1,"sum_val":3.0}\n' * 2
    assert result.stderr == (b"jsonfilter: <stdin>:2: invalid zero-length file name\n"
                             b"jsonfilter: nowhere.json: No such file or directory\n"
                             b"jsonfilter: folder: Is a directory; -r reads the files under it\n")
    assert result.returncode == 2
    empty = run_jsonfilter("--files0-from", "-", "--stats", stdin=b"")
    assert (empty.stdout, empty.returncode) == (b"", 0)
    assert empty.stderr.startswith(b"jsonfilter: 0 lines read, ")


def test_a_file_list_is_read_as_the_run_goes(cli_env, tmp_path):
    # The first file's records come out while the list is still being written:
    # the list is not read whole before the run starts.
    # (With -j, a file's results may wait for the next name or the end of the list.)
    (tmp_path / "a.json").write_bytes(b'{"index": 2, "total": 1}\n')
    proc = subprocess.Popen(["jsonfilter", "--files-from", "-"], cwd=tmp_path, env=cli_env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"a.json\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no output while the list was still open"
        assert proc.stdout.readline() == b'{"index": 2, "total": 1,"sum_val":3.0}\n'
        proc.stdin.write(b"a.json\n")
    finally:
        proc.stdin.close()
    assert proc.stdout.read() == b'{"index": 2, "total": 1,"sum_val":3.0}\n'
    assert (proc.wait(timeout=60), proc.stderr.read()) == (0, b"")


def test_a_long_file_list(run_jsonfilter, tmp_path):
    # 10,000 names, every one of them read, in order.
    for n in range(5):
        (tmp_path / f"{n}.json").write_bytes(b'{"index": 2, "total": %d}\n' % n)
    names = b"".join(b"%d.json\n" % (n % 5) for n in range(10_000))
    for jobs in ("1", "2"):
        result = run_jsonfilter("-c", "-j", jobs, "--files-from", "-", stdin=names, timeout=300)
        assert (result.stdout, result.stderr, result.returncode) == (b"10000\n", b"", 0)
    head = run_jsonfilter("-m", "7", "-j", "2", "--files-from", "-", stdin=names, timeout=300)
    assert head.stdout == b"".join(b'{"index": 2, "total": %d,"sum_val":%d.0}\n' % (n % 5, n % 5 + 2)
                                   for n in range(7))


# --- what refuses to combine -------------------------------------------------

REFUSALS = {
    "two file lists": (
        ["--files-from", "a", "--files0-from", "b"], b"",
        b"jsonfilter: one file list at most: --files-from or --files0-from, once (see 'jsonfilter --help')\n"),
    "one list twice": (
        ["--files-from", "a", "--files-from", "b"], b"",
        b"jsonfilter: one file list at most: --files-from or --files0-from, once (see 'jsonfilter --help')\n"),
    "stdin as the list and an input": (
        ["--files-from", "-", "-"], b"",
        b"jsonfilter: stdin cannot be both the file list and an input (see 'jsonfilter --help')\n"),
    "rejects with a file list": (
        ["--files0-from", "-", "--rejects", "r.json"], b"",
        b"jsonfilter: --rejects cannot be used with a file list, whose files cannot be checked before it is "
        b"truncated (see 'jsonfilter --help')\n"),
    "a list that cannot be opened": (
        ["--files-from", "nowhere"], b"", b"jsonfilter: --files-from nowhere: No such file or directory\n"),
    "a max count that is not a count": (
        ["-m", "-1"], b"", b"jsonfilter: argument -m/--max-count: not a count: '-1' (see 'jsonfilter --help')\n"),
    "a max count with a sign": (
        ["--max-count=+3"], b"",
        b"jsonfilter: argument -m/--max-count: not a count: '+3' (see 'jsonfilter --help')\n"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_refusals_are_one_line_and_exit_2(run_jsonfilter, tmp_path, name):
    args, stdin, stderr = REFUSALS[name]
    result = run_jsonfilter(*args, stdin=stdin)
    assert (result.stdout, result.stderr, result.returncode) == (b"", stderr, 2)
    assert not (tmp_path / "r.json").exists()  # nothing created, nothing read


# Literal cases, as in test_golden.py: (options, stdin, stdout, stderr, status).
GOLDEN = {
    "-v keeps a sum equal to the threshold": (
        ["-v", "-t", "2"], b'{"index":1,"total":1}\n{"index":2,"total":1}\n',
        b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "-v keeps -0.0 against 0": (
        ["-v", "-t", "0"], b'{"index":-0.0,"total":0}\n{"index":0,"total":1e-320}\n',
        b'{"index":-0.0,"total":0,"sum_val":0.0}\n', b"", 0),
    "-v with -0.0 + -0.0": (
        ["-v", "-t", "0"], b'{"index":-0.0,"total":-0.0}\n', b'{"index":-0.0,"total":-0.0,"sum_val":-0.0}\n', b"", 0),
    "-v leaves bad records bad": (
        ["-v"], b'{"index":1}\n{"index":0,"total":0}\n', b'{"index":0,"total":0,"sum_val":0.0}\n',
        b'jsonfilter: <stdin>:1: missing field "total"\n', 1),
    "-v leaves skipped records skipped": (
        ["-v", "--missing", "skip"], b'{"index":1}\n{"index":0,"total":0}\n',
        b'{"index":0,"total":0,"sum_val":0.0}\n', b"", 0),
    "-c": (["-c"], b'{"index":1,"total":1}\nx\n{"index":3,"total":1}\n', b"2\n",
           b"jsonfilter: <stdin>:2: invalid JSON: unexpected character, expected a JSON value (column 1)\n", 1),
    "-c of nothing": (["-c"], b"", b"0\n", b"", 0),
    "-m stops before a later bad record": (
        ["-m", "1"], b'{"index":1,"total":1}\nx\n', b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "-m counts only selected records": (
        ["-m", "2"], b'{"index":1,"total":1}\n{"index":0,"total":0}\n{"index":2,"total":1}\n{"index":3,"total":1}\n',
        b'{"index":1,"total":1,"sum_val":2.0}\n{"index":2,"total":1,"sum_val":3.0}\n', b"", 0),
    "-m with -c": (["-m", "1", "-c"], b'{"index":1,"total":1}\n' * 3, b"1\n", b"", 0),
    "-m 0 reads nothing": (["-m", "0"], b"x\n", b"", b"", 0),
    "-r on stdin reads stdin": (["-r", "-"], b'{"index":1,"total":1}\n', b'{"index":1,"total":1,"sum_val":2.0}\n',
                                b"", 0),
}


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(run_jsonfilter, name):
    args, stdin, stdout, stderr, status = GOLDEN[name]
    result = run_jsonfilter(*args, stdin=stdin)
    assert (result.stdout, result.stderr, result.returncode) == (stdout, stderr, status)


# --- the docs and the completion scripts -------------------------------------

NEW_OPTIONS = ["-v", "--invert-match", "-c", "--count", "-m", "--max-count", "-r", "--recursive", "-R",
               "--dereference-recursive", "--files-from", "--files0-from"]


def test_the_contract_describes_each_new_option():
    contract = (ROOT / "docs" / "contract.md").read_text()
    section = contract.split("## grep's habits")[1].split("\n## ")[0]
    for option in NEW_OPTIONS:
        assert f"`{option}" in section, option


def test_committed_completion_scripts_are_what_shtab_writes(tmp_path):
    require_module("shtab")
    from json_mapper.completion import SCRIPTS, main

    main([str(tmp_path)])
    for path in SCRIPTS.values():
        assert (ROOT / "completions" / path).read_text() == (tmp_path / path).read_text(), (
            "run: python -m json_mapper.completion")
    for shell in ("zsh", "fish"):
        script = (ROOT / "completions" / SCRIPTS[shell]).read_text()
        for action in build_parser()._actions:
            for option in action.option_strings:
                if option.startswith("--"):
                    assert option[2:] in script, (shell, option)


def complete_in_bash(words):
    """What the committed bash script offers for the last of `words` (after `jsonfilter`)."""
    bash = require("bash")
    line = "jsonfilter " + " ".join(words)
    program = (f"source {ROOT / 'completions' / 'bash' / 'jsonfilter'}\n"
               f"COMP_WORDS=(jsonfilter {' '.join(repr(w) for w in words)})\n"
               f"COMP_CWORD={len(words)}\nCOMP_LINE={line!r}\nCOMP_POINT={len(line)}\n"
               "_shtab_jsonfilter\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run([bash, "--norc", "-c", program], capture_output=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().split()


def test_the_bash_script_completes_options_and_their_choices():
    assert complete_in_bash(["--inv"]) == ["--invert-match"]
    assert sorted(complete_in_bash(["--files"])) == ["--files-from", "--files0-from"]
    assert sorted(complete_in_bash(["--missing", ""])) == ["bad", "skip", "zero"]
    assert "README.md" in complete_in_bash(["--rejects", "READ"])


def test_bug_an_empty_file_list_read_stdin(run_jsonfilter, tmp_path):
    # An empty list is no input at all: stdin, which holds records here, is not read.
    (tmp_path / "empty.list").write_bytes(b"")
    for option in ("--files-from", "--files0-from"):
        for jobs in ("1", "2"):
            result = run_jsonfilter(option, "empty.list", "-j", jobs, "-r", stdin=b'{"index": 2, "total": 1}\n')
            assert (result.stdout, result.stderr, result.returncode) == (b"", b"", 0)


def test_a_folder_that_cannot_be_listed_is_an_input_error_in_its_place(tmp_path, monkeypatch):
    # (Run as root, a folder's mode keeps no one out: os.scandir is made to refuse one.)
    from json_mapper import listing

    for name in ("a/1.json", "b/2.json", "c/3.json"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_bytes(b"{}\n")
    scandir = os.scandir

    def refusing(path):
        if str(path).endswith("/b"):
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(listing.os, "scandir", refusing)
    found = list(listing.inputs([str(tmp_path)], recursive=True))
    assert [str(item) if isinstance(item, str) else (item.name, item.message) for item in found] == [
        str(tmp_path / "a/1.json"), (str(tmp_path / "b"), "Permission denied"), str(tmp_path / "c/3.json")]


def test_the_output_in_a_folder_read_with_recursive_is_not_read(cli_env, tmp_path):
    (tmp_path / "a.json").write_bytes(b'{"index": 2, "total": 1}\n')
    with open(tmp_path / "out.json", "wb") as out:
        done = subprocess.run(["jsonfilter", "-r"], cwd=tmp_path, env=cli_env, stdout=out, stderr=subprocess.PIPE,
                              timeout=60)
    assert (tmp_path / "out.json").read_bytes() == b'{"index": 2, "total": 1,"sum_val":3.0}\n'
    assert (done.stderr, done.returncode) == (b"jsonfilter: out.json: input file is output file\n", 2)

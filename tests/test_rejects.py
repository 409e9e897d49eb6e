"""--rejects, --max-messages and the counts of --stats, through the real command on messy streams of several MiB.

The streams and the per-line reference are test_fuzz_large's (written from
the contract with Python's `json`); here the reference also gives every
rejected line as read and the count of each kind of line, and the command's
rejects file and `--stats` line must match it, through a file, stdin, gzip,
zstd, `-j 2` and `-j 0`, in each --on-error mode.
"""
import gzip
import re
import subprocess

import pytest
import zstandard

from test_fuzz_large import BOM, JSON_WS, line_verdicts, stream

SEEDS = [0, 1, 2, 5]
MODES = ["file", "stdin", "gzip", "zstd", "jobs_2", "jobs_0"]
STATS = re.compile(r"jsonfilter: (\d+) lines read, (\d+) records written, (\d+) bad records, "
                   r"(\d+) blank, (\d+) not selected, \d+\.\d\d s, \d+\.\d MB/s")


def reference(data, replaced, threshold, on_error):
    """(stdout, rejects file, {kind: count}, number of bad records) of a run on `data`, from the contract."""
    out, rejects = [], []
    counts = dict(read=0, written=0, bad=0, blank=0, not_selected=0)
    for line, output, reason in line_verdicts(data, threshold, replaced):
        counts["read"] += 1
        if reason is not None:
            counts["bad"] += 1
            # As read, its line ending (\n or \r\n) written as \n.
            rejects.append((line[:-1] if line.endswith(b"\r") else line) + b"\n")
            if on_error == "fail":
                break
        elif output is not None:
            counts["written"] += 1
            out.append(output + b"\n")
        elif not line.strip(JSON_WS):
            counts["blank"] += 1
        else:
            counts["not_selected"] += 1
    return b"".join(out), b"".join(rejects), counts


@pytest.fixture(scope="module")
def streams():
    return {seed: stream(seed) for seed in SEEDS}


def run_mode(run_jsonfilter, tmp_path, data, mode, *options):
    if mode == "stdin":
        return run_jsonfilter(*options, stdin=data, timeout=300)
    compress = {"gzip": lambda d: gzip.compress(d, 1),
                "zstd": lambda d: zstandard.ZstdCompressor(level=1).compress(d)}.get(mode, lambda d: d)
    (tmp_path / "in").write_bytes(compress(data))
    jobs = {"jobs_2": ["-j", "2"], "jobs_0": ["-j", "0"]}.get(mode, [])
    return run_jsonfilter(*jobs, *options, "in", timeout=300)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed, on_error", [(seed, "warn") for seed in SEEDS] + [(0, "skip"), (1, "fail")])
def test_rejects_file_and_stats_add_up_to_the_lines_read(run_jsonfilter, tmp_path, streams, seed, mode, on_error):
    data, replaced = streams[seed]
    threshold = [1.99, 1.0, 0.5, 1.5][seed % 4]
    result = run_mode(run_jsonfilter, tmp_path, data, mode, "--rejects", "rejected.txt", "--stats",
                      "--on-error", on_error, "-t", threshold)
    stdout, rejects, counts = reference(data, replaced, threshold, on_error)
    whole = reference(data, replaced, threshold, "warn")[2]
    assert whole["bad"] > 50 and whole["blank"] > 0  # messy enough to tell
    assert b"Traceback" not in result.stderr
    assert result.stdout == stdout
    assert (tmp_path / "rejected.txt").read_bytes() == rejects
    stats = STATS.fullmatch(result.stderr.decode().splitlines()[-1])
    assert stats, result.stderr[-500:]
    read, written, bad, blank, not_selected = map(int, stats.groups())
    assert (read, written, bad, blank, not_selected) == (
        counts["read"], counts["written"], counts["bad"], counts["blank"], counts["not_selected"])
    assert read == written + bad + blank + not_selected
    assert result.returncode == {"warn": 1, "skip": 0, "fail": 2}[on_error]


@pytest.mark.parametrize("mode", ["file", "jobs_2"])
@pytest.mark.parametrize("shown", [0, 3, 25])
def test_bug_max_messages_beyond_ten_per_chunk_were_lost(run_jsonfilter, tmp_path, streams, mode, shown):
    # The first chunk holds dozens of bad records: every chunk kept only 10.
    data, replaced = streams[SEEDS[0]]
    result = run_mode(run_jsonfilter, tmp_path, data, mode, "--max-messages", shown)
    _, rejects, counts = reference(data, replaced, 1.99, "warn")
    errors = result.stderr.decode().splitlines()
    assert errors.pop() == f"jsonfilter: {counts['bad']} bad records in all ({counts['bad'] - shown} not shown)"
    assert len(errors) == shown
    # The first `shown` bad records, in order, at their lines.
    lines = data[len(BOM):].split(b"\n") if data.startswith(BOM) else data.split(b"\n")
    told = [int(re.match(r"jsonfilter: in:(\d+): ", error).group(1)) for error in errors]
    assert [(line[:-1] if line.endswith(b"\r") else line) + b"\n" for line in (lines[n - 1] for n in told)] \
        == rejects.splitlines(keepends=True)[:shown]
    assert result.returncode == 1


def test_max_messages_takes_a_count(run_jsonfilter):
    result = run_jsonfilter("--max-messages", "-1")
    assert result.returncode == 2
    assert result.stderr.startswith(b"jsonfilter: argument --max-messages: not a count: '-1'")


def test_unwritable_rejects_file_stops_before_any_input_is_read(run_jsonfilter, tmp_path):
    result = run_jsonfilter("--rejects", tmp_path / "no" / "such" / "dir", "-", stdin=b'{"index":1,"total":1}\n')
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == f"jsonfilter: --rejects {tmp_path}/no/such/dir: No such file or directory\n".encode()


def test_rejects_file_is_truncated_and_gets_the_failing_line_under_fail(run_jsonfilter, tmp_path):
    (tmp_path / "rejected.txt").write_bytes(b"old content\n" * 100)
    data = b'{"index":1,"total":1}\r\n \r\n[1]\r\n{"index":2,"total":2}\nnot json\n'
    result = run_jsonfilter("--rejects", "rejected.txt", "--on-error", "fail", stdin=data)
    assert result.returncode == 2
    assert result.stdout == b'{"index":1,"total":1,"sum_val":2.0}\n'
    assert (tmp_path / "rejected.txt").read_bytes() == b"[1]\n"


def test_rejects_keep_bytes_that_are_not_utf8_and_a_last_line_without_newline(run_jsonfilter, tmp_path):
    data = b'{"index":1,"total":\xff}\n\t\n{"index":1}\r\n{"index":1,"total":1}\n{"a'
    result = run_jsonfilter("--rejects", "r", "--stats", stdin=data)
    assert (tmp_path / "r").read_bytes() == b'{"index":1,"total":\xff}\n{"index":1}\n{"a\n'
    assert b"5 lines read, 1 records written, 3 bad records, 1 blank, 0 not selected, " in result.stderr


@pytest.mark.parametrize("mode", ["file", "stdin", "jobs_2"])
def test_blank_lines_among_good_records_are_counted_by_the_fast_path(run_jsonfilter, tmp_path, mode):
    # Chunks of good records and blank lines alone are decided by the fast
    # path, not per record: its count of blank lines must be exact too.
    records = [b'{"index":0.%d,"total":1.5}' % (i % 1000) for i in range(200_000)]
    blanks = [b"", b" ", b"\t\r", b"\r"]
    lines = [blanks[i % 4] if i % 997 == 0 else record for i, record in enumerate(records)]
    data = b"\n".join(lines) + b"\n"
    result = run_mode(run_jsonfilter, tmp_path, data, mode, "--stats")
    blank = sum(1 for line in lines if not line.strip(JSON_WS))
    written = sum(1 for line in lines if line.strip(JSON_WS) and float(line[10:line.index(b",")]) + 1.5 > 1.99)
    assert blank > 100
    stats = STATS.fullmatch(result.stderr.decode().splitlines()[-1])
    assert tuple(map(int, stats.groups())) == (len(lines), written, 0, blank, len(lines) - written - blank)


@pytest.mark.parametrize("mode", ["file", "stdin", "jobs_2"])
def test_skipped_records_are_the_fifth_kind_of_line_with_missing_skip(run_jsonfilter, tmp_path, mode):
    # Several MiB of nested records: some selected, some below, some missing
    # the field (skipped), some bad, some blank.
    kinds = [b'{"http":{"ms":%d}}', b'{"http":{}}', b'{"http":{"ms":null}}', b'{"http":{"ms":"x"}}', b"  ",
             b'{"http":{"ms":%d}', b'{"other":1}']
    chosen = [kinds[i % 7] if i % 5 else kinds[0] for i in range(150_000)]
    lines = [kind % (i % 200) if b"%d" in kind else kind for i, kind in enumerate(chosen)]
    data = b"\r\n".join(lines) + b"\r\n"
    result = run_mode(run_jsonfilter, tmp_path, data, mode, "-f", "http.ms", "-t", "99", "--missing", "skip",
                      "--rejects", "rejected.txt", "--stats")
    selected = [line for line in lines if line.startswith(b'{"http":{"ms":') and line.endswith(b"}}")
                and line[14:-2].isdigit() and int(line[14:-2]) > 99]
    below = [line for line in lines if line.startswith(b'{"http":{"ms":') and line.endswith(b"}}")
             and line[14:-2].isdigit() and int(line[14:-2]) <= 99]
    skipped = [line for line in lines if line in (b'{"http":{}}', b'{"http":{"ms":null}}', b'{"other":1}')]
    blank = [line for line in lines if not line.strip()]
    bad = [line for line in lines if line == b'{"http":{"ms":"x"}}' or not line.endswith(b"}}") and line.strip()
           and line != b'{"other":1}']
    assert len(selected) + len(below) + len(skipped) + len(blank) + len(bad) == len(lines)
    assert (tmp_path / "rejected.txt").read_bytes() == b"".join(line + b"\n" for line in bad)
    stats = re.fullmatch(r"jsonfilter: (\d+) lines read, (\d+) records written, (\d+) skipped, (\d+) bad records, "
                         r"(\d+) blank, (\d+) not selected, .*", result.stderr.decode().splitlines()[-1])
    assert tuple(map(int, stats.groups())) == (len(lines), len(selected), len(skipped), len(bad), len(blank),
                                               len(below))
    assert result.stdout.count(b"\n") == len(selected)


@pytest.mark.parametrize("how", ["named", "named_otherwise", "hard_link", "stdin", "stdin_with_jobs"])
def test_bug_rejects_file_that_is_an_input_was_truncated_before_it_was_read(run_jsonfilter, cli_env, tmp_path, how):
    data = b'{"index":1,"total":1}\nnot json\n' * 1000
    (tmp_path / "in.json").write_bytes(data)
    rejects = {"named_otherwise": "./in.json", "hard_link": "link.json"}.get(how, "in.json")
    if how == "hard_link":
        (tmp_path / "link.json").hardlink_to(tmp_path / "in.json")
    if how.startswith("stdin"):
        jobs = ["-j", "2"] if how == "stdin_with_jobs" else []
        with open(tmp_path / "in.json", "rb") as stdin:
            result = subprocess.run(["jsonfilter", *jobs, "--rejects", rejects], stdin=stdin, capture_output=True,
                                    cwd=tmp_path, env=cli_env)
    else:
        result = run_jsonfilter("--rejects", rejects, "in.json")
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == f"jsonfilter: --rejects {rejects}: it is also an input\n".encode()
    assert (tmp_path / "in.json").read_bytes() == data


def test_bug_rejects_file_that_is_the_output_was_written_over_it(cli_env, tmp_path):
    (tmp_path / "in.json").write_bytes(b'{"index":1,"total":1}\nnot json\n')
    (tmp_path / "out.json").write_bytes(b"kept\n")
    with open(tmp_path / "out.json", "ab") as out:
        result = subprocess.run(["jsonfilter", "--rejects", "out.json", "in.json"], stdout=out,
                                stderr=subprocess.PIPE, cwd=tmp_path, env=cli_env)
    assert (result.returncode, result.stderr) == (2, b"jsonfilter: --rejects out.json: it is also the output\n")
    assert (tmp_path / "out.json").read_bytes() == b"kept\n"


def test_rejects_file_beside_the_inputs_is_written(run_jsonfilter, tmp_path):
    (tmp_path / "in.json").write_bytes(b'{"index":1,"total":1}\nnot json\n')
    (tmp_path / "r.json").write_bytes(b"old\n")
    result = run_jsonfilter("--rejects", "r.json", "in.json", "-", stdin=b"[2]\n")
    assert (result.returncode, result.stdout) == (1, b'{"index":1,"total":1,"sum_val":2.0}\n')
    assert (tmp_path / "r.json").read_bytes() == b"not json\n[2]\n"

"""Regressions of issue 9, each through the real command at the scale the fast paths run.

Every input is several MiB of the blog's records with the tricky line in the
first chunk, mid-stream, across the 1 MiB boundary of a chunk, or last
without a newline; each goes through a file, stdin, gzip, `-j 2` and `-j 0`.
"""
import gzip
import subprocess
import sys

import pytest

MIB = 1 << 20
# The blog's records (only the summed fields), none selected, so the fast path decides them.
LOW = b'{"index": 0.1, "total": 0.2}\n'
HIGH = b'{"index": 1, "total": 1}\n'
HIGH_OUT = b'{"index": 1, "total": 1,"sum_val":2.0}\n'
BAD_KEY = b'{"index": 0, "total": 0, "\xff": 1}'  # invalid UTF-8 at byte 27

PLACES = ["first_chunk", "mid_stream", "across_1_mib", "last_without_newline"]
MODES = ["file", "stdin", "gzip", "jobs_2", "jobs_0"]


def stream_with(tricky, place, size=4 * MIB):
    """(data, line number of `tricky`): LOW lines, then HIGH lines, `tricky` at `place`."""
    count = size // len(LOW)
    lines = [LOW] * (count // 2) + [HIGH] * (count - count // 2)
    index = {"first_chunk": 2000, "mid_stream": count // 2 + 7, "last_without_newline": count}[place] \
        if place != "across_1_mib" else MIB // len(LOW)  # starts just before 1 MiB, ends after it
    lines.insert(index, tricky + b"\n")
    data = b"".join(lines)
    if place == "last_without_newline":
        data = data[:-1]
    return data, index + 1


def run(run_jsonfilter, tmp_path, mode, data, *args):
    name = "in.json"
    if mode == "stdin":
        return run_jsonfilter(*args, stdin=data), "<stdin>"
    if mode == "gzip":
        (tmp_path / "in.json.gz").write_bytes(gzip.compress(data, 1))
        return run_jsonfilter(*args, "in.json.gz"), "in.json.gz"
    (tmp_path / name).write_bytes(data)
    jobs = {"jobs_2": ["-j", "2"], "jobs_0": ["-j", "0"]}.get(mode, [])
    return run_jsonfilter(*jobs, *args, name), name


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("mode", MODES)
def test_invalid_utf8_in_key_after_summed_only_lines_was_internal_error(run_jsonfilter, tmp_path, place, mode):
    # msgspec raised UnicodeDecodeError for the key, which the fast path did
    # not catch: no output, "internal error", exit 2.
    data, lineno = stream_with(BAD_KEY, place)
    result, name = run(run_jsonfilter, tmp_path, mode, data)
    expected_out = HIGH_OUT * data.count(HIGH.rstrip(b"\n"))
    assert result.stdout == expected_out
    assert result.stderr == f"jsonfilter: {name}:{lineno}: invalid UTF-8 at byte 27\n".encode()
    assert result.returncode == 1


def test_invalid_utf8_in_key_the_issue_reproducer(run_jsonfilter, tmp_path):
    data = LOW * 2000 + BAD_KEY + b"\n" + HIGH * 2000
    (tmp_path / "k.json").write_bytes(data)
    for args in (["k.json"], ["--on-error", "skip", "k.json"]):
        result = run_jsonfilter(*args)
        assert result.stdout == HIGH_OUT * 2000
        assert result.returncode == (1 if len(args) == 1 else 0)
    assert run_jsonfilter("k.json").stderr == b"jsonfilter: k.json:2001: invalid UTF-8 at byte 27\n"


@pytest.mark.parametrize("on_error", ["warn", "fail"])
@pytest.mark.parametrize("mode", MODES)
def test_invalid_utf8_in_key_keeps_what_came_before_under_every_mode(run_jsonfilter, tmp_path, mode, on_error):
    data, lineno = stream_with(BAD_KEY, "mid_stream")
    result, name = run(run_jsonfilter, tmp_path, mode, data, "--on-error", on_error)
    before = data[:data.index(BAD_KEY)]
    after = data[data.index(BAD_KEY):]
    kept = before.count(HIGH) + (after.count(HIGH.rstrip(b"\n")) if on_error == "warn" else 0)
    assert result.stdout == HIGH_OUT * kept
    assert result.stderr == f"jsonfilter: {name}:{lineno}: invalid UTF-8 at byte 27\n".encode()
    assert result.returncode == (1 if on_error == "warn" else 2)


def _peak_rss_mb(cli_env, args, stdin_path=None):
    """Peak resident memory (MB) of the largest process of one run of the real command."""
    probe = ("import resource, subprocess, sys\n"
             "stdin = open(sys.argv[1], 'rb') if sys.argv[1] else None\n"
             "status = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL).returncode\n"
             "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", probe, stdin_path or "", "jsonfilter", *args],
                         capture_output=True, env=cli_env, timeout=300, check=True).stdout.split()
    return int(out[0]), int(out[1]) / 1024


@pytest.mark.parametrize("jobs", ["1", "2", "0"])
@pytest.mark.parametrize("junk", [b"x\n", b"xy\n"], ids=["x", "xy"])
def test_many_short_bad_lines_cost_flat_memory(cli_env, tmp_path, jobs, junk):
    # A tuple was kept for every bad line of a chunk or piece: 258 MB for
    # 4 MB of "x" lines, 2.16 GB for 20 MB under -j 2. A bad line is now
    # counted, and only the first ten kept.
    path = tmp_path / "junk"
    path.write_bytes(junk * (20_000_000 // len(junk)))
    for args, stdin in ((["--on-error", "skip", "-j", jobs, str(path)], None),
                        (["-j", jobs], str(path))):
        status, peak = _peak_rss_mb(cli_env, args, stdin)
        assert status == (0 if stdin is None else 1)
        assert peak < 96, f"peak RSS {peak:.0f} MB"  # about 25-55 MB measured; the bug took 260 MB+

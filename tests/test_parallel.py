"""`-j N`: the same stdout, stderr and exit status as one process, and loud failure.

Subprocess tests have timeouts, so a hang fails instead of stalling the suite.
"""
import bz2
import contextlib
import gzip
import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from json_mapper import datagen, parallel
from json_mapper.chunk import ChunkResult
from json_mapper.record import Spec, filter_record
from json_mapper.stream import filter_stream

BOM = b"\xef\xbb\xbf"


def messy_lines(count, seed):
    """Records of the blog's shape with bad, blank and odd lines mixed in."""
    text = "".join(datagen.file_lines(seed, 0, count)).encode()
    lines = text.split(b"\n")[:-1]
    extras = [b"", b"   ", b"not json", b'{"index":1,"total":"x"}', b'{"index":1e308,"total":1e308}',
              b'{"index":2,"total":1,"msg":"caf\xc3\xa9"}', b'{"index":2,"total":1,"x":"\xff"}',
              b'{"index":1.5,"total":1.5}\r', b"[1]"]
    for i, extra in enumerate(extras * 3):
        lines.insert((i * 7919 + seed) % len(lines), extra)
    return b"\n".join(lines) + b"\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    # Large enough to be cut into several ranges of a chunk (1 MiB) each.
    big = messy_lines(60_000, 1)
    (folder / "a.json").write_bytes(BOM + big)
    (folder / "b.json").write_bytes(messy_lines(5_000, 2).rstrip(b"\n"))  # no final newline
    (folder / "c.json.gz").write_bytes(gzip.compress(messy_lines(20_000, 3)))
    (folder / "d.json.bz2").write_bytes(bz2.compress(b"{}\n" + messy_lines(300, 4)))
    (folder / "empty.json").write_bytes(b"")
    (folder / "clean.json").write_bytes("".join(datagen.file_lines(5, 0, 40_000)).encode())
    return folder


CASES = [
    ["a.json"],
    ["a.json", "b.json", "missing.json", "c.json.gz", "empty.json", "d.json.bz2", "a.json"],
    ["--on-error", "fail", "a.json"],
    ["--on-error", "skip", "b.json", "a.json"],
    ["-t", "1.5", "-f", "total,index", "-s", "s", "--stats", "clean.json", "b.json"],
    ["clean.json"],
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("jobs", ["2", "3", "0"])
def test_jobs_write_the_same_as_one_process(run_jsonfilter, inputs, args, jobs):
    one = run_jsonfilter(*args, cwd=inputs)
    many = run_jsonfilter("-j", jobs, *args, cwd=inputs)
    assert one.stdout  # something was selected, so the comparison means something
    assert many.stdout == one.stdout
    assert _without_timing(many.stderr) == _without_timing(one.stderr)
    assert many.returncode == one.returncode


def _without_timing(stderr):
    # --stats ends with the run's seconds and MB/s, which differ from run to run.
    return [line.rsplit(b", ", 2)[0] if b"lines read" in line else line
            for line in stderr.splitlines()]


@pytest.mark.parametrize("jobs", ["2", "0"])
def test_jobs_from_stdin_write_the_same_as_one_process(run_jsonfilter, inputs, jobs):
    for name in ("a.json", "c.json.gz"):
        data = (inputs / name).read_bytes()
        one = run_jsonfilter(stdin=data)
        many = run_jsonfilter("-j", jobs, "-", stdin=data)
        assert one.stdout
        assert (many.stdout, many.stderr, many.returncode) == (one.stdout, one.stderr, one.returncode)


def test_bad_jobs_value_is_a_usage_error(run_jsonfilter):
    result = run_jsonfilter("-j", "-1", stdin=b"{}\n")
    assert result.returncode == 2
    assert result.stderr.startswith(b"jsonfilter: argument -j/--jobs: ")


# Ranges cut anywhere, even inside a line: the library call against filter_stream.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from([b'{"index":1,"total":1}', b'{"index":0.5,"total":0.25}', b"",
                                       b"bad", b'{"index":1,"total":1,"note":"a\\nb \xc3\xa9"}',
                                       b'{"index":1.5,"total":0.5,"x":[' + b"1," * 40 + b"1]}"]),
                      max_size=60),
       piece=st.integers(1, 200), bom=st.booleans(), on_error=st.sampled_from(["warn", "fail"]))
def test_any_cut_into_ranges_gives_the_same_output(lines, piece, bom, on_error, tmp_path, monkeypatch):
    path = tmp_path / "in.json"
    path.write_bytes((BOM if bom else b"") + b"\n".join(lines))
    monkeypatch.setattr(parallel, "CHUNK_SIZE", piece)
    monkeypatch.setattr(parallel, "MAX_PIECE", piece * 3)
    assert _agree([str(path)], on_error)


def _agree(sources, on_error):
    """Whether filter_parallel and filter_stream give the same output, reports and counts."""
    runs = []
    for run in (filter_stream, lambda *a, **k: parallel.filter_parallel(*a, jobs=2, **k)):
        out = io.BytesIO()
        reports = []
        try:
            counts = run(sources, out, spec=Spec(), on_error=on_error, report=reports.append)
            outcome = (counts.lines_read, counts.records_written, counts.bad_records, counts.bytes_read)
        except ValueError as err:
            outcome = (err.reason, err.lineno)
        runs.append((out.getvalue(), [(r.name, getattr(r, "lineno", None), str(r)) for r in reports], outcome))
    assert runs[0] == runs[1]
    return True


# What one reader reads (stdin, a pipe, compressed data) goes through the ring
# of shared slots: slots of any size, lines longer than a slot, a BOM.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from([b'{"index":1,"total":1}', b'{"index":0.5,"total":0.25}', b"",
                                       b"bad", b'{"index":1,"total":1,"note":"a\\nb \xc3\xa9"}',
                                       b'{"index":1.5,"total":0.5,"x":[' + b"1," * 40 + b"1]}"]),
                      max_size=60),
       slot=st.integers(1, 200), bom=st.booleans(), on_error=st.sampled_from(["warn", "fail"]),
       final_newline=st.booleans())
def test_any_slot_size_gives_the_same_output(lines, slot, bom, on_error, final_newline, tmp_path, monkeypatch):
    path = tmp_path / "in.json.gz"
    path.write_bytes(gzip.compress((BOM if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline else b"")))
    empty = tmp_path / "empty.json.gz"
    empty.write_bytes(gzip.compress(b""))
    monkeypatch.setattr(parallel, "SLOT_SIZE", slot)
    monkeypatch.setattr(parallel, "CHUNK_SIZE", 1)  # the smallest slot and piece
    assert _agree([str(path), str(empty), str(empty), str(empty), str(empty), str(path)], on_error)


def test_without_fork_the_run_is_one_process(inputs, monkeypatch):
    # Where fork is missing (Windows), -j runs as -j 1 does, in this process.
    monkeypatch.setattr(parallel.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(parallel, "_Pool", None)  # any worker would fail
    damaged = inputs.parent / "damaged.json.gz"
    damaged.write_bytes(gzip.compress(messy_lines(60_000, 6))[:-5000])
    assert _agree([str(inputs / "c.json.gz"), str(damaged), str(inputs / "b.json")], "warn")


def test_without_proc_plain_files_are_read_into_the_ring(inputs, monkeypatch):
    # Where there is no /proc/PID/fd (macOS), workers cannot open this
    # process's files: they are read here, as pipes are.
    monkeypatch.setattr(parallel.os.path, "isdir", lambda path: False)
    monkeypatch.setattr(parallel, "_filter_range", None)  # any use of it would fail
    assert _agree([str(inputs / "a.json"), str(inputs / "b.json"), str(inputs / "empty.json")], "warn")


@pytest.fixture(scope="module")
def selected_all(tmp_path_factory):
    """Several MiB with every record selected at -t 0: pieces of many chunks, most output in the slots."""
    path = tmp_path_factory.mktemp("selected_all") / "all.json"
    path.write_bytes(messy_lines(120_000, 7))
    return path


def test_jobs_write_every_record_as_one_process_does(run_jsonfilter, selected_all):
    # A worker writes each chunk's output straight into its slot, after the
    # chunks before it: misplaced or overlapping outputs would show here.
    assert selected_all.stat().st_size > 6 * parallel.FILE_CHUNK_SIZE * 4
    for args in (["-t", "0"], ["-t", "0", "--on-error", "skip"], ["-t", "1.99"]):
        one = run_jsonfilter(*args, selected_all)
        many = run_jsonfilter("-j", "2", *args, selected_all)
        assert len(one.stdout) > (selected_all.stat().st_size if args[1] == "0" else 0)
        assert (many.stdout, many.stderr, many.returncode) == (one.stdout, one.stderr, one.returncode)


@pytest.mark.parametrize("slot", [1 << 16, 300 << 10, 1 << 20, 3 << 20])
def test_outputs_that_outgrow_a_slot_part_way_come_back_whole(selected_all, slot, monkeypatch):
    # Output slots too small for a chunk's output, for a few, and for all of
    # a piece's: the output left in the slot before the chunk that does not
    # fit comes back joined with the rest, or through the pipe.
    monkeypatch.setattr(parallel, "OUTPUT_SLOT", slot)
    runs = []
    for run in (filter_stream, lambda *a, **k: parallel.filter_parallel(*a, jobs=2, **k)):
        out = io.BytesIO()
        reports = []
        counts = run([str(selected_all)], out, spec=Spec(threshold=0), report=reports.append)
        runs.append((out.getvalue(), [str(r) for r in reports], counts.records_written, counts.bad_records))
    assert runs[0][2] > 100_000
    assert runs[0] == runs[1]


def test_the_ring_stays_small_however_many_workers():
    assert parallel._Ring(5).slot_size == parallel.SLOT_SIZE
    many = parallel._Ring(64 * parallel.PIECES_PER_WORKER + 1)
    assert many.slot_size == parallel.CHUNK_SIZE
    assert parallel._Ring(9).slots * parallel._Ring(9).slot_size <= parallel.RING_SIZE


def test_pieces_shrink_as_more_is_selected():
    sizes = parallel._PieceSizes()
    assert sizes.next == parallel.CHUNK_SIZE  # nothing known yet
    sizes.written(8 << 20, ChunkResult(100_000, b"x" * 61 * 10, 10, []))
    assert sizes.next == parallel.MAX_PIECE
    sizes.written(8 << 20, ChunkResult(100_000, b"x" * 91 * 100_000, 100_000, []))  # more out than in
    assert sizes.next == parallel.CHUNK_SIZE
    sizes.written(4 << 20, ChunkResult(70_000, b"x" * 61 * 40_000, 40_000, []))
    assert parallel.CHUNK_SIZE < sizes.next < parallel.MAX_PIECE


def _ring_pieces(ring, data, name="t"):
    """What ring.pieces hands out for `data`: ("slot", (slot number, bytes)) or ("bytes", bytes)."""
    pieces = []
    for job in ring.pieces(io.BufferedReader(io.BytesIO(data)), name, None):
        if job.func is parallel._filter_slot:
            offset, length = job.args
            pieces.append(("slot", (offset // ring.slot_size, bytes(ring.view[offset:offset + length]))))
        else:
            assert job.func is parallel._filter_bytes
            pieces.append(("bytes", job.args[0]))
    return pieces


def test_the_ring_hands_out_whole_lines_in_turn():
    ring = parallel._Ring(3, slot_size=8)
    data = BOM + b"ab\ncd\n" + b"x" * 20 + b"\nefg\nh"
    # The turn moves on only when a slot is handed out: the long line's slot is used again.
    assert _ring_pieces(ring, data) == [("slot", (0, b"ab\n")), ("slot", (1, b"cd\n")),
                                        ("bytes", b"x" * 20 + b"\n"), ("slot", (2, b"efg\nh"))]
    assert _ring_pieces(ring, b"") == []
    assert ring.turn == 3
    assert [kind for kind, _ in _ring_pieces(ring, b"i\n")] == ["slot"]
    assert ring.turn == 4


def test_the_ring_hands_out_the_whole_lines_of_a_paused_pipe():
    ring = parallel._Ring(3, slot_size=64)
    read_end, write_end = os.pipe()
    handed = []
    idle = []
    with open(read_end, "rb") as reader:
        pieces = ring.pieces(reader, "t", None, idle=idle.append)

        def take_one():
            handed.append(bytes(ring.view[slice(*_span(next(pieces)))]))

        os.write(write_end, b'{"a":1}\n{"b"')
        taker = threading.Thread(target=take_one, daemon=True)
        taker.start()
        taker.join(timeout=30)  # only so that a failure does not hang
        assert handed == [b'{"a":1}\n'], "the whole line waited for more input"
        assert idle == []  # called once the piece is out, when the reader asks for the next
        os.write(write_end, b':2}\n')
        os.close(write_end)
        handed += [bytes(ring.view[slice(*_span(job))]) for job in pieces]
    assert handed == [b'{"a":1}\n', b'{"b":2}\n']
    assert len(idle) == 1 and callable(idle[0])


def _span(job):
    offset, length = job.args
    return offset, offset + length


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


def _start(cli_env, tmp_path, *args):
    """Start jsonfilter ARGS reading a pipe; stdout and stderr go to files, so it never blocks on them."""
    with open(tmp_path / "stdout", "wb") as out, open(tmp_path / "stderr", "wb") as err:
        return subprocess.Popen(["jsonfilter", *args], stdin=subprocess.PIPE, stdout=out, stderr=err,
                                cwd=tmp_path, env=cli_env)


def _outputs(tmp_path):
    return (tmp_path / "stdout").read_bytes(), (tmp_path / "stderr").read_bytes()


def _feed_until_workers(proc, jobs):
    """Write records into `proc` until its worker processes exist; return their ids."""
    block = "".join(datagen.file_lines(0, 0, 20_000)).encode()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proc.stdin.write(block)
        proc.stdin.flush()
        workers = _children(proc.pid)
        if len(workers) >= jobs:
            return workers
    raise AssertionError("the workers never started")


def test_a_killed_worker_fails_the_run_loudly(cli_env, tmp_path):
    proc = _start(cli_env, tmp_path, "-j", "2")
    workers = _feed_until_workers(proc, 2)
    os.kill(workers[0], signal.SIGKILL)
    try:
        block = "".join(datagen.file_lines(0, 1, 20_000)).encode()
        for _ in range(20):
            proc.stdin.write(block)
    except BrokenPipeError:
        pass  # it may well have stopped reading already
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.close()
    assert proc.wait(timeout=60) == 2
    stdout, stderr = _outputs(tmp_path)
    assert stderr == b"jsonfilter: a worker process died; the output is incomplete\n"


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_stops_its_workers_and_ends_output_at_a_line(cli_env, tmp_path, signum, status):
    proc = _start(cli_env, tmp_path, "-j", "2", "-t", "0.5")
    workers = _feed_until_workers(proc, 2)
    block = "".join(datagen.file_lines(0, 2, 20_000)).encode()
    deadline = time.monotonic() + 30
    while not (tmp_path / "stdout").stat().st_size and time.monotonic() < deadline:
        proc.stdin.write(block)  # until some output is out, so that a cut would show
        proc.stdin.flush()
    proc.send_signal(signum)
    assert proc.wait(timeout=60) == status
    proc.stdin.close()
    stdout, stderr = _outputs(tmp_path)
    assert stderr == b""
    assert stdout.endswith(b"}\n")
    time.sleep(0.5)
    for worker in workers:
        # Gone, or at most a zombie nobody waits for: not running.
        try:
            with open(f"/proc/{worker}/stat") as f:
                assert f.read().split(") ")[1][0] == "Z"
        except FileNotFoundError:
            pass


def test_closed_pipe_is_quiet_with_jobs(cli_env, inputs):
    result = subprocess.run(
        "jsonfilter -j 2 -t 0 --on-error skip a.json a.json a.json | head -n 1; echo ${PIPESTATUS[0]} >&2",
        shell=True, executable="/bin/bash", cwd=inputs, env=cli_env, capture_output=True, timeout=60)
    assert result.stdout.count(b"\n") == 1
    assert result.stderr == b"141\n"


def test_progress_goes_to_stderr_only(run_jsonfilter, inputs):
    plain = run_jsonfilter("a.json", cwd=inputs)
    for jobs in ("1", "2"):
        shown = run_jsonfilter("--progress", "-j", jobs, "a.json", cwd=inputs)
        assert shown.stdout == plain.stdout
        assert shown.returncode == plain.returncode
        last = shown.stderr.split(b"\r")[-1]
        assert b"100%" in last and b"lines" in last
        # The bad-record messages are still there, each on its own line.
        for message in plain.stderr.splitlines():
            assert message in shown.stderr.splitlines()


def test_no_progress_unless_asked_or_a_terminal(run_jsonfilter, inputs):
    quiet = run_jsonfilter("--no-progress", "clean.json", cwd=inputs)
    default = run_jsonfilter("clean.json", cwd=inputs)
    assert quiet.stderr == default.stderr == b""


def test_progress_on_a_named_pipe_loses_nothing(cli_env, tmp_path):
    # Regression: sizing the inputs for the ETA opened every FILE and read its
    # first bytes, which took them out of a pipe before the run read it.
    data = b"".join(b'{"index":1,"total":%d}\n' % n for n in range(1, 1001))
    fifo = tmp_path / "records"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = subprocess.run(["jsonfilter", "--progress", "-t", "0", str(fifo)], capture_output=True,
                            env=cli_env, timeout=30)
    writer.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"\n") == 1000


# A live stream under -j (issue 9, item 5): `tail -f log | jsonfilter -j 2`
# wrote nothing until several MiB had come or the input ended. Here several
# MiB come at once (the workers start, pieces go out), then one selected line,
# and the producer waits: that line must come out before it closes its end.
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_line_from_a_paused_pipe_comes_out_before_more_input(cli_env, jobs):
    bulk = "".join(datagen.file_lines(3, 0, 60_000)).encode()
    last = b'{"index": 1, "total": 1, "note": "the last line before a pause"}\n'
    expected = filter_record(last.rstrip(b"\n"), Spec(threshold=1.5)) + b"\n"
    proc = subprocess.Popen(["jsonfilter", "-j", jobs, "-t", "1.5"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    out = bytearray()
    seen = threading.Event()

    def read_stdout():
        while chunk := os.read(proc.stdout.fileno(), 1 << 16):
            out.extend(chunk)
            if out.endswith(expected):
                seen.set()

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        proc.stdin.write(bulk + last)
        proc.stdin.flush()
        # The timeout only keeps a failure from hanging the suite.
        came_before_the_end = seen.wait(timeout=60)
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        reader.join(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert came_before_the_end, "the line waited for the end of the input"
    one = subprocess.run(["jsonfilter", "-t", "1.5"], input=bulk + last, capture_output=True, env=cli_env,
                         timeout=60)
    assert bytes(out) == one.stdout
    assert one.stdout.count(b"\n") > 1000


# Memory on junk (issue 9 item 4, issue 10 item 2): a result kept a tuple for
# every bad line and a list of selected lines, so 20 MB of `x` lines took
# 2.16 GB under -j 2. Each process must stay within 64 MB. RUSAGE_CHILDREN
# of a wrapper gives the largest peak of the processes it waited for and of
# theirs: jsonfilter and its workers alike.
PEAK_RSS = r"""
import resource, subprocess, sys
status = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
MAX_RSS_KB = 64 * 1024


def _largest_peak_rss_kb(command, env, cwd=None, stdin=None):
    """(exit status, the largest peak RSS in KiB of `command` and the processes it starts)."""
    result = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], stdin=stdin, capture_output=True,
                            env=env, cwd=cwd, timeout=600, check=True)
    status, peak = result.stdout.split()
    return int(status), int(peak)


def test_the_peak_rss_measure_sees_the_processes_a_child_starts(cli_env):
    grandchild = [sys.executable, "-c", "bytearray(200 << 20)"]
    child = [sys.executable, "-c", f"import subprocess; subprocess.run({grandchild!r})"]
    assert _largest_peak_rss_kb(child, cli_env)[1] > 200 * 1024


@pytest.fixture(scope="module")
def junk(tmp_path_factory):
    path = tmp_path_factory.mktemp("junk") / "junk.txt"
    path.write_bytes(b"x\n" * 10_000_000)  # 20 MB
    return path


# Both -j values, and both ways of reading (ranges of a file read by the
# workers, the ring filled from stdin); each run takes a while.
@pytest.mark.parametrize("jobs, via", [("2", "file"), ("0", "stdin")])
def test_junk_lines_keep_every_process_within_64_mb(cli_env, junk, jobs, via):
    if via == "file":
        status, peak = _largest_peak_rss_kb(["jsonfilter", "-j", jobs, str(junk)], cli_env)
    else:
        with open(junk, "rb") as stdin:
            status, peak = _largest_peak_rss_kb(["jsonfilter", "-j", jobs], cli_env, stdin=stdin)
    assert status == 1  # bad records, warned about
    assert peak <= MAX_RSS_KB

"""Faults and agreement under `-j N` (parallel workers)."""
import bz2
import contextlib
import errno
import gzip
import io
import os
import pickle
import signal
import subprocess
import time
import zlib

import pytest

from conftest import run_changed_while_read
from json_mapper import parallel
from json_mapper.datagen import file_lines
from json_mapper.inputs import InputError
from json_mapper.record import Spec, filter_record


def generated(lines, seed=0):
    return "".join(file_lines(seed, 0, lines)).encode()


def _mixed_input(tmp_path):
    # Good records, bad lines and blank lines, over several files.
    paths = []
    for number in range(4):
        data = generated(30_000, seed=number)
        lines = data.splitlines(keepends=True)
        lines[1000 * (number + 1)] = b"not json\n"
        lines[7000] = b"\n"
        path = tmp_path / f"in{number}.json"
        path.write_bytes(b"".join(lines))
        paths.append(path.name)
    return paths


@pytest.mark.parametrize("jobs", ["2", "0"])
@pytest.mark.parametrize("on_error", ["warn", "skip", "fail"])
def test_jobs_agree_with_one_job(run_jsonfilter, tmp_path, jobs, on_error):
    paths = _mixed_input(tmp_path)
    args = ["-t", "1.5", f"--on-error={on_error}", *paths]
    one = run_jsonfilter("-j", "1", *args)
    many = run_jsonfilter("-j", jobs, *args)
    assert (many.returncode, many.stdout, many.stderr) == (one.returncode, one.stdout, one.stderr)
    assert one.stdout


def _worker_pids(parent):
    with open(f"/proc/{parent}/task/{parent}/children") as f:
        return [int(pid) for pid in f.read().split()]


def _kill_group(proc):
    # Its workers too: one left alive would hold stderr open, and reading it would never end.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("when", [0.0, 0.3, 1.0])
def test_worker_killed_fails_loudly(cli_env, when):
    # A producer that never ends: only a failure can stop this run. A worker
    # killed half way through sending its result once left the run waiting
    # for the rest of it, for ever.
    producer = subprocess.Popen(["yes", '{"index": 1, "total": 1}'], stdout=subprocess.PIPE)
    proc = subprocess.Popen(["jsonfilter", "-j", "2", "-t", "0"], stdin=producer.stdout,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env,
                            start_new_session=True)
    producer.stdout.close()
    try:
        workers = []
        for _ in range(100):
            workers = _worker_pids(proc.pid)
            if workers or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert workers, "jsonfilter -j 2 started no worker process"
        time.sleep(when)
        os.kill(workers[0], signal.SIGKILL)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            pytest.fail("jsonfilter hung after a worker was killed")
        # No worker outlives the run.
        assert subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).stdout == b""
    finally:
        producer.kill()
        producer.wait()
        _kill_group(proc)
    assert proc.returncode == 2
    assert err == b"jsonfilter: a worker process died; the output is incomplete\n"


@pytest.mark.parametrize("signum,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_jobs_signal_leaves_whole_lines(cli_env, tmp_path, signum, status):
    data = generated(200_000)
    (tmp_path / "in.json").write_bytes(data)
    full = subprocess.run(["jsonfilter", "-t", "0", "in.json"], capture_output=True,
                          cwd=tmp_path, env=cli_env, timeout=120).stdout
    # Unbuffered: communicate() reads the pipe itself and would miss what a
    # buffered read(1) had pulled in beyond the first byte.
    proc = subprocess.Popen(["jsonfilter", "-j", "2", "-t", "0", "in.json"], cwd=tmp_path, bufsize=0,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    first = proc.stdout.read(1)
    proc.send_signal(signum)
    rest, err = proc.communicate(timeout=60)
    out = first + rest
    assert proc.returncode == status
    assert err == b""
    assert out.endswith(b"\n")
    assert full.startswith(out)


# Records before the damage of a compressed input (issue 9, item 2): -j read
# them into a slot of the ring, and a read error while the slot was being
# filled dropped the slot's whole lines. Every record is selected (-t=-1), so
# the output counts the records read.
def _truncated(data, compress):
    packed = compress(data)
    return packed[:len(packed) * 2 // 3]


DAMAGED = {
    "gzip then garbage": lambda data: gzip.compress(data) + b"garbage!",
    "truncated gzip": lambda data: _truncated(data, gzip.compress),
    "truncated bzip2": lambda data: _truncated(data, bz2.compress),
}


def _readable_prefix(packed):
    """The bytes a decompressor gets out of a damaged stream before the damage."""
    if packed.startswith(b"BZh"):
        return bz2.BZ2Decompressor().decompress(packed)
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(packed)


@pytest.mark.parametrize("via", ["file", "stdin"])
@pytest.mark.parametrize("damage", DAMAGED)
def test_jobs_keep_the_records_before_the_damage_of_a_compressed_input(run_jsonfilter, tmp_path, damage, via):
    data = generated(150_000)  # 9 MB: several pieces
    packed = DAMAGED[damage](data)
    (tmp_path / "d.z").write_bytes(packed)
    (tmp_path / "next.json").write_bytes(generated(1000, seed=1))
    kept = _readable_prefix(packed).count(b"\n")
    assert 40_000 < kept <= 150_000
    runs = {}
    for jobs in ("1", "2", "0"):
        if via == "file":
            result = run_jsonfilter("-j", jobs, "-t=-1", "d.z", "next.json")
        else:
            result = run_jsonfilter("-j", jobs, "-t=-1", stdin=packed)
        runs[jobs] = (result.stdout, result.stderr, result.returncode)
    stdout, stderr, status = runs["1"]
    assert stdout.count(b"\n") == kept + (1000 if via == "file" else 0)
    assert status == 2 and stderr.count(b"\n") == 1 and b"corrupt" in stderr
    assert runs["2"] == runs["1"]
    assert runs["0"] == runs["1"]


# Plain files under -j (issue 9, item 3): the workers reopened them by path,
# so a file deleted or replaced while it was read, or that grew, was not read
# as -j 1 reads it. Each run below is changed once its first output has come:
# it then holds the file open and is blocked on its full stdout pipe, with
# most of the file still to read (the file is larger than the pieces in flight).
def _big_records(seed=0):
    """Records spread over more 1 MiB pieces than -j 0 has in flight here."""
    mib = parallel.PIECES_PER_WORKER * parallel.cpu_count() + 6
    return generated(mib * (1 << 20) // 61, seed)


@pytest.fixture(scope="module")
def big_records():
    return _big_records()


def _each_job_as_one(cli_env, tmp_path, args, prepare, change):
    """The runs of -j 1, 2 and 0 on the same situation: prepare(), then change() while it is read."""
    runs = {}
    for jobs in ("1", "2", "0"):
        prepare()
        runs[jobs] = run_changed_while_read(cli_env, tmp_path, ["-j", jobs, *args], change)
    assert runs["2"] == runs["1"]
    assert runs["0"] == runs["1"]
    return runs["1"]


def test_jobs_read_a_file_deleted_while_it_is_read(cli_env, tmp_path, big_records):
    victim = tmp_path / "victim.json"
    (tmp_path / "next.json").write_bytes(generated(1000, seed=1))
    stdout, stderr, status = _each_job_as_one(
        cli_env, tmp_path, ["-t=-1", "victim.json", "next.json"],
        lambda: victim.write_bytes(big_records), victim.unlink)
    assert (stdout.count(b"\n"), stderr, status) == (big_records.count(b"\n") + 1000, b"", 0)


def test_jobs_read_the_rotated_file_not_its_replacement(cli_env, tmp_path, big_records):
    victim = tmp_path / "victim.json"
    replacement = b'{"index": 7, "total": 7}\n' * 200_000

    def rotate():
        victim.rename(tmp_path / "victim.json.1")
        victim.write_bytes(replacement)

    stdout, stderr, status = _each_job_as_one(
        cli_env, tmp_path, ["-t=-1", "victim.json"], lambda: victim.write_bytes(big_records), rotate)
    assert (stdout.count(b"\n"), stderr, status) == (big_records.count(b"\n"), b"", 0)
    assert b'"index": 7,' not in stdout


def test_jobs_read_a_growing_file_to_its_end(cli_env, tmp_path, big_records):
    victim = tmp_path / "victim.json"
    more = generated(30_000, seed=2)

    def grow():
        with open(victim, "ab") as f:
            f.write(more)

    stdout, stderr, status = _each_job_as_one(
        cli_env, tmp_path, ["-t=-1", "victim.json"], lambda: victim.write_bytes(big_records), grow)
    assert (stdout.count(b"\n"), stderr, status) == (big_records.count(b"\n") + 30_000, b"", 0)


def test_jobs_read_a_file_whose_size_reads_as_zero(run_jsonfilter, tmp_path):
    (tmp_path / "next.json").write_bytes(generated(1000, seed=1))
    assert os.stat("/proc/version").st_size == 0
    runs = [run_jsonfilter("-j", jobs, "-t=-1", "/proc/version", "next.json") for jobs in ("1", "2", "0")]
    one = runs[0]
    assert one.stderr.startswith(b"jsonfilter: /proc/version:1: invalid JSON")  # it was read
    assert one.stdout.count(b"\n") == 1000
    for many in runs[1:]:
        assert (many.stdout, many.stderr, many.returncode) == (one.stdout, one.stderr, one.returncode)


def test_input_error_survives_pickling():
    error = pickle.loads(pickle.dumps(InputError("a.json", "read error: Input/output error")))
    assert (error.name, error.message, str(error)) == ("a.json", "read error: Input/output error",
                                                       "a.json: read error: Input/output error")


def test_worker_read_error_is_reported_and_the_next_input_read(tmp_path, monkeypatch):
    # A worker's read error was an InputError that could not be unpickled:
    # the run ended as if a worker had died, and the next input was never read.
    # Here a read that reaches the byte at 3 MiB fails, as on a bad disk
    # sector; the forked workers inherit the failure.
    data = generated(100_000)
    (tmp_path / "a.json").write_bytes(data)
    (tmp_path / "b.json").write_bytes(generated(1000, seed=1))
    pread, preadv = os.pread, os.preadv

    def failing_pread(fd, size, offset):
        if offset <= 3 << 20 < offset + size:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return pread(fd, size, offset)

    def failing_preadv(fd, buffers, offset):  # the reads into a worker's reused buffer
        if offset <= 3 << 20 < offset + sum(len(buffer) for buffer in buffers):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "pread", failing_pread)
    monkeypatch.setattr(os, "preadv", failing_preadv)
    out = io.BytesIO()
    reports = []
    counts = parallel.filter_parallel([str(tmp_path / "a.json"), str(tmp_path / "b.json")], out,
                                      spec=Spec(threshold=-1), report=reports.append, jobs=2)
    assert [str(r) for r in reports] == [f"{tmp_path / 'a.json'}: read error: Input/output error"]
    assert counts.unreadable_inputs == 1
    lines = out.getvalue().splitlines()
    # Whole lines of a.json, in order, up to a read that failed (no read is
    # over 1 MiB), then all of b.json.
    assert data[:2 << 20].count(b"\n") <= len(lines) - 1000 <= data[:3 << 20].count(b"\n")
    expected = [filter_record(line, Spec(threshold=-1)) for line in data.splitlines()]
    assert lines[:-1000] == expected[:len(lines) - 1000]
    assert lines[-1000:] == [filter_record(line, Spec(threshold=-1))
                             for line in generated(1000, seed=1).splitlines()]


def test_bug_worker_stopped_while_starting_printed_a_traceback(run_jsonfilter, tmp_path):
    # A run that ends at once stops its workers while they may still be
    # starting: one stopped before its own signal handlers were set ran the
    # main process's SIGTERM handler and printed "Exception ignored ...
    # SystemExit: 143" (about one run in 13 here).
    (tmp_path / "in.lz4").write_bytes(b'\x04"M\x18' + b"x" * 100)
    for _ in range(40):
        result = run_jsonfilter("-j", "8", "in.lz4", "/dev/null")
        assert (result.returncode, result.stderr) == (
            2, b"jsonfilter: in.lz4: lz4 compressed input is not supported\n")

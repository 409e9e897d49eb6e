"""Faults, each through the real command: full disks, closed pipes, signals,
unreadable and changing inputs, damaged compression, and hostile sizes.

What every test here holds to: one clear message per problem, the exit status
of the contract, no traceback, and whatever reached stdout is whole lines,
each one a record the intact input would also have produced.
"""
import bz2
import ctypes
import fcntl
import gzip
import io
import lzma
import os
import random
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest
import zstandard

from json_mapper import BadRecord, InputError, Spec, filter_chunk, filter_stream
from json_mapper.datagen import file_lines
from markdown_pages import section

# A threshold that selects about half of the generated records.
HALF = "1.0"


def generated(lines, seed=0):
    return "".join(file_lines(seed, 0, lines)).encode()


def expected_output(data, threshold=1.99):
    return filter_chunk(data, Spec(threshold=float(threshold))).output


def start(cli_env, *args, **kwargs):
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(["jsonfilter", *map(str, args)], env=cli_env, **kwargs)


def wait_readable(stream, timeout=30):
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output from jsonfilter"


def assert_whole_prefix(out, full):
    """`out` is whole lines, and the start of what the intact input gives."""
    assert out.endswith(b"\n") or out == b""
    assert full.startswith(out)


def assert_clean_stderr(err, lines):
    assert b"Traceback" not in err
    assert err.count(b"\n") == lines, err
    for line in err.splitlines():
        assert line.startswith(b"jsonfilter: ")


# ------------------------------------------------------------------ output side

def test_stdout_is_a_full_disk(cli_env, tmp_path):
    data = generated(20_000)
    with open("/dev/full", "wb") as full:
        proc = start(cli_env, "-t", HALF, stdin=subprocess.PIPE, stdout=full)
        _, err = proc.communicate(data, timeout=60)
    assert proc.returncode == 2
    assert_clean_stderr(err, 1)
    assert err == b"jsonfilter: write error: No space left on device\n"


@pytest.mark.parametrize("jobs", [[], ["-j", "2"]], ids=["serial", "jobs_2"])
def test_consumer_closes_the_pipe_early(cli_env, jobs):
    # An endless producer: only the closed pipe can end this run.
    producer = subprocess.Popen(["yes", '{"index": 1, "total": 1}'], stdout=subprocess.PIPE)
    try:
        proc = start(cli_env, *jobs, stdin=producer.stdout)
        producer.stdout.close()
        first = proc.stdout.readline()
        proc.stdout.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("jsonfilter kept running after its reader went away")
        err = proc.stderr.read()
        proc.stderr.close()
    finally:
        producer.kill()
        producer.wait()
    assert first == b'{"index": 1, "total": 1,"sum_val":2.0}\n'
    assert proc.returncode == 141
    assert err == b""


SIGNALS = [(signal.SIGTERM, 143), (signal.SIGINT, 130)]


@pytest.mark.parametrize("signum,status", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_signal_while_a_slow_producer_writes(cli_env, tmp_path, signum, status):
    data = generated(4_000)
    script = tmp_path / "drip.py"
    # Bytes in small pieces, cutting lines anywhere, so the signal finds
    # jsonfilter waiting in the middle of a line.
    script.write_text(
        "import sys, time\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "for i in range(0, len(data), 7):\n"
        "    sys.stdout.buffer.write(data[i:i + 7]); sys.stdout.buffer.flush(); time.sleep(0.0005)\n")
    (tmp_path / "data").write_bytes(data)
    producer = subprocess.Popen([sys.executable, str(script), str(tmp_path / "data")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc = start(cli_env, "-t", HALF, stdin=producer.stdout)
        producer.stdout.close()
        wait_readable(proc.stdout)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        producer.kill()
        producer.wait()
    assert proc.returncode == status
    assert err == b""
    full = expected_output(data, HALF)
    # Some output, but not all of it: the signal arrived mid-run.
    assert 0 < len(out) < len(full)
    assert_whole_prefix(out, full)


@pytest.mark.parametrize("signum,status", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_signal_while_blocked_writing(cli_env, tmp_path, signum, status):
    # stdout is a pipe nobody reads yet, so jsonfilter sits inside a write of
    # a block far larger than the pipe when the signal comes.
    data = generated(100_000)
    path = tmp_path / "in.json"
    path.write_bytes(data)
    proc = start(cli_env, "-t", "0", path)
    wait_readable(proc.stdout)
    time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == status
    assert err == b""
    full = expected_output(data, 0)
    assert 0 < len(out) < len(full)
    assert_whole_prefix(out, full)


def _blocked_on_a_reader_that_never_reads(cli_env, tmp_path, jobs=(), grace=None):
    """jsonfilter, with stdout a pipe that is full and never read; its stdout's read end."""
    path = tmp_path / "in.json"
    path.write_bytes(b'{"index": 1, "total": 1}\n' * 500_000)  # far more output than a pipe holds
    command = ["jsonfilter"]
    if grace is not None:  # the same command with another grace period
        command = [sys.executable, "-c", "import sys; from json_mapper import cli, output; "
                   f"output.GRACE_SECONDS = {grace}; sys.argv[0] = 'jsonfilter'; cli.run()"]
    proc = subprocess.Popen([*command, *jobs, path], env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    capacity = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
    waited = 0
    while _bytes_in_pipe(proc.stdout) < capacity - 4096:  # full: the next write blocks
        assert proc.poll() is None and waited < 60, "jsonfilter never filled its pipe"
        time.sleep(0.05)
        waited += 0.05
    time.sleep(0.2)  # and it is blocked in that write
    return proc


def _bytes_in_pipe(stream):
    return struct.unpack("i", fcntl.ioctl(stream.fileno(), termios.FIONREAD, b"\0" * 4))[0]


@pytest.mark.parametrize("jobs", [[], ["-j", "2"]], ids=["serial", "jobs_2"])
@pytest.mark.parametrize("signum,status", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_bug_stalled_reader_made_the_process_unkillable_one_signal_and_a_bounded_wait(
        cli_env, tmp_path, signum, status, jobs):
    # SIGINT and SIGTERM were held back as long as a write was blocked: with
    # a reader that never reads, only SIGKILL ended the run. Now the line
    # being written has GRACE_SECONDS to get out, then the signal acts.
    proc = _blocked_on_a_reader_that_never_reads(cli_env, tmp_path, jobs)
    proc.send_signal(signum)
    try:
        assert proc.wait(timeout=60) == status
    finally:
        proc.kill()
    assert proc.stderr.read() == b""


@pytest.mark.parametrize("signum,status", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_bug_stalled_reader_made_the_process_unkillable_a_second_signal(cli_env, tmp_path, signum, status):
    # With a grace period longer than the test, only the second signal can end it.
    proc = _blocked_on_a_reader_that_never_reads(cli_env, tmp_path, grace=10_000)
    try:
        for _ in range(100):  # again until it ends: two signals sent close together may count as one
            proc.send_signal(signum)
            try:
                proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
        assert proc.wait(timeout=1) == status
    finally:
        proc.kill()
    assert proc.stderr.read() == b""


def test_a_signal_during_a_write_lets_the_line_finish_when_the_reader_reads(cli_env, tmp_path):
    # The reader is slow, not gone: the first signal ends the run at a line
    # boundary, with the grace period far off.
    proc = _blocked_on_a_reader_that_never_reads(cli_env, tmp_path, grace=10_000)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (143, b"")
    assert 0 < len(out) < 500_000 * len(b'{"index": 1, "total": 1,"sum_val":2.0}\n')
    assert out == b'{"index": 1, "total": 1,"sum_val":2.0}\n' * (len(out) // 39)


# ------------------------------------------------------------------- input side

def _drop_file_capabilities():
    # Root reads any file whatever its mode; without these two capabilities
    # it is held to the mode bits like everyone else.
    libc = ctypes.CDLL(None, use_errno=True)
    PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _no_permission(tmp_path):
    path = tmp_path / "secret.json"
    path.write_bytes(b'{"index": 1, "total": 1}\n')
    path.chmod(0)
    if os.geteuid() != 0:
        return str(path), None, "Permission denied"
    try:
        subprocess.run(["true"], preexec_fn=_drop_file_capabilities, check=True)
    except (subprocess.SubprocessError, OSError) as err:
        pytest.skip(f"running as root without the right to drop capabilities: {err}")
    return str(path), _drop_file_capabilities, "Permission denied"


def _read_fails(tmp_path):
    # Opening works, the first read fails with EIO: nothing is mapped at offset 0.
    if not os.path.exists("/proc/self/mem"):
        pytest.skip("needs Linux /proc/self/mem for a file whose reads fail")
    return "/proc/self/mem", None, "Input/output error"


def _missing(tmp_path):
    return str(tmp_path / "nowhere.json"), None, "No such file or directory"


# A folder is not among these: without -r it is a usage error (tests/test_grep_habits.py).
@pytest.mark.parametrize("unreadable", [_no_permission, _read_fails, _missing],
                         ids=["no_permission", "read_fails", "missing"])
def test_unreadable_input_is_reported_and_the_rest_still_read(cli_env, tmp_path, unreadable):
    bad, preexec, reason = unreadable(tmp_path)
    first, last = generated(3_000, seed=1), generated(3_000, seed=2)
    (tmp_path / "first.json").write_bytes(first)
    (tmp_path / "last.json").write_bytes(last)
    proc = start(cli_env, "first.json", bad, "last.json", cwd=tmp_path, preexec_fn=preexec)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert out == expected_output(first) + expected_output(last)
    assert_clean_stderr(err, 1)
    assert err == f"jsonfilter: {bad}: {reason}\n".encode()


def _change_while_reading(cli_env, tmp_path, change):
    data = generated(200_000)
    path = tmp_path / "in.json"
    path.write_bytes(data)
    proc = start(cli_env, "-t", "0", path)
    # Once output appears, jsonfilter is blocked writing its first block:
    # the rest of the file is unread.
    wait_readable(proc.stdout)
    change(path, data)
    out, err = proc.communicate(timeout=60)
    return data, proc.returncode, out, err


def test_input_deleted_while_being_read(cli_env, tmp_path):
    data, status, out, err = _change_while_reading(cli_env, tmp_path, lambda path, data: path.unlink())
    # An open file outlives its name: every record still comes through.
    assert (status, err) == (0, b"")
    assert out == expected_output(data, 0)


def test_input_truncated_while_being_read(cli_env, tmp_path):
    def truncate(path, data):
        os.truncate(path, len(data) // 2)

    data, status, out, err = _change_while_reading(cli_env, tmp_path, truncate)
    full = expected_output(data, 0)
    assert_whole_prefix(out, full)
    assert len(out) < len(full)
    # The cut may fall inside a line: that last piece is a bad record.
    assert status in (0, 1)
    assert_clean_stderr(err, status)


COMPRESSORS = {
    "gzip": lambda data: gzip.compress(data, compresslevel=1),
    "bzip2": lambda data: bz2.compress(data, compresslevel=1),
    "xz": lambda data: lzma.compress(data, preset=1),
    "zstd": lambda data: zstandard.ZstdCompressor(level=1).compress(data),
}


def _truncate(blob):
    return blob[:len(blob) // 2]


def _corrupt(blob):
    middle = len(blob) // 2
    junk = bytes(random.Random(0).getrandbits(8) for _ in range(64))
    return blob[:middle] + junk + blob[middle + 64:]


@pytest.mark.parametrize("damage", [_truncate, _corrupt], ids=["truncated", "corrupt"])
@pytest.mark.parametrize("fmt", COMPRESSORS)
def test_damaged_compressed_input(cli_env, tmp_path, fmt, damage):
    data = generated(60_000)
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(damage(COMPRESSORS[fmt](data)))
    proc = start(cli_env, "-t", HALF, path)
    out, err = proc.communicate(timeout=60)
    full = expected_output(data, HALF)
    assert proc.returncode == 2
    assert b"Traceback" not in err
    assert err.endswith(b"\n")
    # The damage is reported (after up to ten bad records and their total,
    # when the damaged data decodes to junk lines first).
    damage_reports = [line for line in err.splitlines()
                      if line.startswith(f"jsonfilter: {path}: corrupt {fmt} data: ".encode())]
    assert len(damage_reports) == 1
    assert len(err.splitlines()) <= 12
    assert out.endswith(b"\n")
    # The records before the damage are kept. (gzip checks its CRC only at the
    # end of a member, so lines decoded from damaged data may follow them; the
    # exit status says the input was damaged.)
    kept = os.path.commonprefix([out.splitlines(), full.splitlines()])
    assert len(kept) >= len(full.splitlines()) // 4
    if damage is _truncate:
        assert_whole_prefix(out, full)


@pytest.mark.parametrize("fmt", [None, *COMPRESSORS])
def test_every_truncated_prefix(tmp_path, fmt):
    # As jq's own tests do: cut the input everywhere (here in process, as the
    # command reads it) and check that nothing is invented and damage is told.
    data = generated(60)
    blob = COMPRESSORS[fmt](data) if fmt else data
    full = expected_output(data, HALF)
    path = tmp_path / "cut"
    for cut in range(len(blob) + 1):
        path.write_bytes(blob[:cut])
        out, problems = io.BytesIO(), []
        filter_stream([path], out, spec=Spec(threshold=float(HALF)), report=problems.append)
        assert_whole_prefix(out.getvalue(), full)
        if fmt and 6 <= cut < len(blob):
            assert [type(p) for p in problems][-1:] == [InputError], cut
            assert problems[-1].message.startswith(f"corrupt {fmt} data: ")
        elif not fmt:
            # Only the last, cut line can be bad.
            assert len(problems) <= 1 and all(isinstance(p, BadRecord) for p in problems)


# ------------------------------------------------------------------ hostile sizes

def test_a_100_mb_line(cli_env, tmp_path):
    pad = 100 * 1024 * 1024
    before, after = b'{"index": 1.5, "total": 0.75}\n', b'{"index": 0, "total": 0}\n'
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.write(before)
        f.write(b'{"index": 1, "pad": "')
        f.write(b"x" * pad)
        f.write(b'", "total": 1}\n')
        f.write(after)
    out_path = tmp_path / "out.json"
    with open(out_path, "wb") as out:
        proc = start(cli_env, path, stdout=out)
        _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (0, b"")
    with open(out_path, "rb") as out:
        first = out.readline()
        head = out.read(21)
        out.seek(pad, os.SEEK_CUR)
        tail = out.read()
    assert first == b'{"index": 1.5, "total": 0.75,"sum_val":2.25}\n'
    assert head == b'{"index": 1, "pad": "'
    assert tail == b'", "total": 1,"sum_val":2.0}\n'
    assert os.path.getsize(out_path) == len(first) + len(head) + pad + len(tail)
    with open(out_path, "rb") as out:
        out.seek(len(first) + len(head))
        assert out.read(pad) == b"x" * pad


def test_a_million_blank_lines(cli_env):
    record = b'{"index": 1, "total": 1}'
    blanks = b"\n" * 200_000 + b" \r\n" * 150_000 + b"\t\n" * 150_000
    proc = start(cli_env, "--stats", stdin=subprocess.PIPE)
    out, err = proc.communicate(record + b"\n" + blanks + record + b"\n" + blanks, timeout=60)
    assert proc.returncode == 0
    assert out == b'{"index": 1, "total": 1,"sum_val":2.0}\n' * 2
    assert_clean_stderr(err, 1)
    assert err.startswith(b"jsonfilter: 1000002 lines read, 2 records written, 0 bad records, ")


def test_three_megabytes_of_binary_junk(cli_env):
    junk = random.Random(3).randbytes(3 * 1024 * 1024)
    pieces = [junk[i:i + 100_000] for i in range(0, len(junk), 100_000)]
    good = b'{"index": 1, "total": 1}'
    # A good record on a line of its own between every two pieces of junk.
    data = (b"\n" + good + b"\n").join(pieces) + b"\n"
    bad_lines = sum(1 for line in data.split(b"\n")[:-1] if line.strip(b" \t\r") and line != good)
    proc = start(cli_env, stdin=subprocess.PIPE)
    out, err = proc.communicate(data, timeout=60)
    assert proc.returncode == 1
    assert out == b'{"index": 1, "total": 1,"sum_val":2.0}\n' * (len(pieces) - 1)
    # Stderr stays short: ten messages, then the total.
    assert_clean_stderr(err, 11)
    assert len(err) < 2000
    assert err.splitlines()[-1] == f"jsonfilter: {bad_lines} bad records in all ({bad_lines - 10} not shown)".encode()
    err.decode("utf-8")  # junk never leaks into the messages


def _with_bad_lines(lines, at):
    lines = list(lines)
    for lineno in at:
        lines[lineno - 1] = b'{"index": "x", "total": 1}\n'
    return lines


def test_bad_records_deep_in_a_big_input_are_told_at_their_lines(cli_env, tmp_path):
    # About 12 MB: the bad lines fall in many different chunks, some at their edges.
    at = [1, 17_000, 17_001, 65_536, 99_999, 100_000, 150_000, 180_000, 199_999, 200_000]
    lines = _with_bad_lines(generated(200_000).splitlines(keepends=True), at)
    (tmp_path / "in.json").write_bytes(b"".join(lines))
    proc = start(cli_env, "-t", HALF, "in.json", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out == expected_output(b"".join(lines), HALF)
    assert_clean_stderr(err, len(at))
    for message, lineno in zip(err.splitlines(), at):
        assert message.startswith(f"jsonfilter: in.json:{lineno}: ".encode())


def test_on_error_fail_deep_in_a_big_input_keeps_what_came_before(cli_env, tmp_path):
    lines = _with_bad_lines(generated(200_000).splitlines(keepends=True), [150_000])
    (tmp_path / "in.json").write_bytes(b"".join(lines))
    proc = start(cli_env, "-t", HALF, "--on-error", "fail", "in.json", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert out == expected_output(b"".join(lines[:149_999]), HALF)
    assert_clean_stderr(err, 1)
    assert err.startswith(b"jsonfilter: in.json:150000: ")


# --------------------------------------------------------- closed descriptors

def _sh(cli_env, script):
    return subprocess.run(["sh", "-c", script], capture_output=True, env=cli_env, timeout=60)


def test_bug_closed_stderr_turned_exit_2_into_1(cli_env):
    # With fd 2 closed, complaining raised inside the error handler and the
    # run ended on an uncaught exception: exit 1, as if only records were bad.
    result = _sh(cli_env, """printf '{"index": 1, "total": 1}\\n' | jsonfilter 2>&- >/dev/full""")
    assert result.returncode == 2


@pytest.mark.parametrize("options", ["", "--progress", "--stats"])
def test_bug_closed_stderr_failed_a_good_run(cli_env, options):
    # Deciding whether to show progress asked a closed stderr if it was a
    # terminal: the run died before reading a line, with exit 2.
    result = _sh(cli_env, f"""printf '{{"index": 1, "total": 1}}\\n' | jsonfilter {options} 2>&-""")
    assert (result.stdout, result.returncode) == (b'{"index": 1, "total": 1,"sum_val":2.0}\n', 0)


def test_bug_closed_stdout_was_internal_error(cli_env):
    result = _sh(cli_env, """printf '{"index": 1, "total": 1}\\n' | jsonfilter >&-""")
    assert result.returncode == 2
    assert result.stderr == b"jsonfilter: write error: Bad file descriptor\n"


def test_bug_closed_stdin_was_internal_error(cli_env, tmp_path):
    (tmp_path / "good.json").write_bytes(b'{"index": 1, "total": 1}\n')
    result = _sh(cli_env, f"jsonfilter - {tmp_path / 'good.json'} <&-")
    assert result.returncode == 2
    assert result.stderr == b"jsonfilter: <stdin>: Bad file descriptor\n"
    assert result.stdout == b'{"index": 1, "total": 1,"sum_val":2.0}\n'


@pytest.mark.parametrize("jobs", ["", "-j 2 "], ids=["serial", "jobs_2"])
@pytest.mark.parametrize("how,name", [("self.json", "self.json"), ("- < self.json", "<stdin>")],
                         ids=["file", "stdin"])
def test_bug_output_appended_to_its_own_input_grew_forever(cli_env, tmp_path, how, name, jobs):
    # Each record written was read again and written again, until the disk was full.
    record = b'{"index": 1, "total": 1}\n'
    (tmp_path / "self.json").write_bytes(record)
    (tmp_path / "other.json").write_bytes(b'{"index": 2, "total": 1}\n')
    # The file size limit (10 MB) ends the run quickly should the bug come back.
    result = subprocess.run(["sh", "-c", f"ulimit -f 20000; jsonfilter {jobs}other.json {how} >> self.json"],
                            capture_output=True, cwd=tmp_path, env=cli_env, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"jsonfilter: {name}: input file is output file\n".encode()
    assert (tmp_path / "self.json").read_bytes() == record + b'{"index": 2, "total": 1,"sum_val":3.0}\n'


def _nonblocking(fd):
    """argv prefix that runs the rest with O_NONBLOCK set on `fd`, as a careless parent might leave it."""
    return [sys.executable, "-c",
            f"import os, sys; os.set_blocking({fd}, False); os.execvp(sys.argv[1], sys.argv[1:])"]


def test_bug_nonblocking_stdin_lost_the_input(cli_env):
    script = ("(sleep 0.3; printf '{\"index\": 1, \"total\": 1}\\n') | "
              + " ".join(f"'{arg}'" for arg in _nonblocking(0)) + " jsonfilter")
    result = subprocess.run(["sh", "-c", script], capture_output=True, env=cli_env, timeout=60)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == b'{"index": 1, "total": 1,"sum_val":2.0}\n'


def test_bug_nonblocking_stdout_cut_a_record_in_half(cli_env, tmp_path):
    data = generated(100_000)
    (tmp_path / "in.json").write_bytes(data)
    proc = subprocess.Popen([*_nonblocking(1), "jsonfilter", "-t", "0", "in.json"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    # A reader that is slow to start: the pipe fills and a write would block.
    time.sleep(0.5)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, b"")
    assert out == expected_output(data, 0)


@pytest.mark.parametrize("redirect", [">", ">>"])
def test_bug_disk_full_left_half_a_record_in_the_file(cli_env, tmp_path, redirect):
    # A file size limit stands in for a disk that fills mid-block: the write
    # stops part way through a line.
    data = generated(100_000)
    (tmp_path / "in.json").write_bytes(data)
    before = b'{"kept": "as it was"}\n'
    (tmp_path / "out.json").write_bytes(before)
    limit_kb = 1024
    result = subprocess.run(["sh", "-c", f"ulimit -f {limit_kb * 2}; jsonfilter -t 0 in.json {redirect} out.json"],
                            capture_output=True, cwd=tmp_path, env=cli_env, timeout=60)
    assert result.returncode == 2
    assert result.stderr == b"jsonfilter: write error: File too large\n"
    out = (tmp_path / "out.json").read_bytes()
    if redirect == ">>":
        assert out.startswith(before)
        out = out[len(before):]
    full = expected_output(data, 0)
    assert_whole_prefix(out, full)
    # Every whole line that fitted is kept: less than one line is missing.
    room = limit_kb * 1024 - (len(before) if redirect == ">>" else 0)
    assert room - len(out) < len(full.split(b"\n", 1)[0]) + 100


# ------------------------------------------------------------------ the docs

def reliability_examples():
    """(script, expected output) pairs: each ```sh block of docs/reliability.md
    with the ```text block that follows it."""
    page = section("docs/reliability.md", "Reliability")
    return re.findall(r"```sh\n(.*?)```\n.*?```text\n(.*?)```", page, re.DOTALL)


def test_docs_reliability_examples(cli_env, tmp_path):
    examples = reliability_examples()
    assert examples
    for script, expected in examples:
        result = subprocess.run(["bash", "-c", script], capture_output=True, cwd=tmp_path,
                                env=cli_env, timeout=60)
        assert result.stdout.decode() == expected
        assert result.stderr == b""

"""Plain regular files: read straight into one reused buffer (inputs.file_chunks), under -j too.

The reads must give exactly what any other way of reading gives (a pipe,
stdin redirected from the file, -j 2, -j 0), on several MiB with long
lines, a BOM and bad records placed around the buffer's edges; and a file
truncated, or truncated and written anew (log rotation by copytruncate),
while it is read must end the run cleanly: whole lines, the records before
the cut, no signal.
"""
import io
import os
import random
import subprocess
import time

import pytest

from conftest import run_changed_while_read
from json_mapper import Spec, filter_chunk, parallel
from json_mapper.datagen import file_lines
from json_mapper.inputs import FILE_CHUNK_SIZE, file_chunks, open_input, read_chunks


def generated(lines, seed=0):
    return "".join(file_lines(seed, 0, lines)).encode()


def expected_output(data, threshold):
    return filter_chunk(data, Spec(threshold=float(threshold))).output


def tricky_file(seed=0):
    """About 6 MiB of records, with a BOM, a CRLF line, bad records and lines longer than
    the buffer (and than a 1 MiB read) near the buffer's edges, and no newline at the end."""
    rand = random.Random(seed)
    lines = generated(100_000, seed).splitlines(keepends=True)
    specials = [
        b'{"index": 1.5, "total": 0.75}\r\n',
        b'{"index": 1, "total": \n',  # bad: cut short
        b'{"index": 1, "pad": "' + b"y" * (FILE_CHUNK_SIZE + 17) + b'", "total": 1}\n',
        b'{"index": 2, "pad": "' + b"z" * (3 * (1 << 20)) + b'", "total": 1}\n',
        b'{"index": "1", "total": 1}\n',  # bad: not a number
        b"\n",
        b'{"index": 1, "total": 1, "sum_val": 5}\n',
    ]
    for special in specials:
        lines.insert(rand.randrange(len(lines)), special)
    return b"\xef\xbb\xbf" + b"".join(lines) + b'{"index": 1.25, "total": 1}'


def run(cli_env, args, cwd, **kwargs):
    """(stdout, stderr, exit status) of `jsonfilter ARGS`, with stdin's name in messages as the file's."""
    done = subprocess.run(["jsonfilter", *args], cwd=cwd, env=cli_env, capture_output=True, timeout=120, **kwargs)
    return done.stdout, done.stderr.replace(b"<stdin>:", b"in.json:"), done.returncode


@pytest.mark.parametrize("threshold", ["1.99", "1.0", "0"])
def test_a_plain_file_reads_as_a_pipe_stdin_and_every_job_count_read_it(cli_env, tmp_path, threshold):
    data = tricky_file()
    path = tmp_path / "in.json"
    path.write_bytes(data)
    one = run(cli_env, ["-t", threshold, "in.json"], tmp_path)
    assert one[0] and one[2] == 1 and one[1].count(b"\n") == 2, one[1]  # the two bad records
    with open(path, "rb") as f:
        assert run(cli_env, ["-t", threshold], tmp_path, stdin=f) == one  # stdin redirected from the file
    assert run(cli_env, ["-t", threshold], tmp_path, input=data) == one  # a pipe
    for jobs in ("2", "0"):
        assert run(cli_env, ["-j", jobs, "-t", threshold, "in.json"], tmp_path) == one
        with open(path, "rb") as f:
            assert run(cli_env, ["-j", jobs, "-t", threshold], tmp_path, stdin=f) == one


def test_stdin_redirected_from_a_file_is_read_from_where_it_stands_to_the_end(cli_env, tmp_path):
    data = generated(60_000)
    path = tmp_path / "in.json"
    path.write_bytes(data)
    skip = data.index(b"\n", len(data) // 3) + 1
    with open(path, "rb") as f:
        f.seek(skip)
        out, err, status = run(cli_env, ["-t", "1.0"], tmp_path, stdin=f)
        # Like cat: the file's offset, shared with the caller, is left at the end.
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == len(data)
    assert (out, err, status) == (expected_output(data[skip:], 1.0), b"", 0)


@pytest.mark.parametrize("size", [2, 5, 64, 4096, FILE_CHUNK_SIZE])
def test_file_chunks_are_whole_lines_of_one_reused_buffer(tmp_path, size):
    # Short lines, and every 50th one longer than the buffer.
    rand = random.Random(size)
    lines = [b"x" * (3 * size if n % 50 == 49 else rand.randrange(max(1, size // 4))) + b"\n" for n in range(300)]
    data = b"\xef\xbb\xbf" + b"".join(lines) + b"last"
    path = tmp_path / "in.json"
    path.write_bytes(data)
    with open_input(str(path)) as (reader, fmt):
        assert fmt is None
        chunks, buffers = [], []
        for chunk in file_chunks(reader, "in.json", size):
            assert isinstance(chunk, memoryview)
            chunks.append(bytes(chunk))  # a chunk is good until the next one is asked for
            buffers.append(chunk.obj)
    assert b"".join(chunks) == data[3:]
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1]) and chunks[-1].endswith(b"last")
    # One buffer for chunk after chunk; grown (doubled) only for a line longer than it.
    assert len({id(buffer) for buffer in buffers}) < len(chunks) / 2
    assert all(len(buffer) // size in (1, 2, 4, 8) and len(buffer) % size == 0 for buffer in buffers)
    assert all(len(chunk) <= len(buffer) for chunk, buffer in zip(chunks, buffers))


def test_a_bom_alone_in_a_tiny_buffer_is_still_dropped(tmp_path):
    path = tmp_path / "in.json"
    for data, want in ((b'\xef\xbb\xbf{"a":1}\n', b'{"a":1}\n'), (b"\xef\xbb", b"\xef\xbb"),
                       (b"\xef\xbb\xbf", b""), (b"", b"")):
        path.write_bytes(data)
        with open_input(str(path)) as (reader, _):
            assert b"".join(bytes(chunk) for chunk in file_chunks(reader, "x", 2)) == want, data
        with open_input(str(path)) as (reader, _):
            assert b"".join(bytes(chunk) for chunk in read_chunks(reader, "x")) == want, data


def test_only_a_plain_buffered_reader_of_a_regular_file_is_read_by_file_chunks(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(b'{"a":1}\n' * 10)
    with open_input(str(path)) as (reader, _):
        assert all(isinstance(chunk, memoryview) for chunk in read_chunks(reader, "x"))
    with open(path, "rb") as raw:
        wrapped = io.BufferedReader(io.BytesIO(raw.read()))
    assert all(isinstance(chunk, bytes) for chunk in read_chunks(wrapped, "x"))


def _read_while_changed(cli_env, tmp_path, jobs, data, change):
    """Run `jsonfilter -j JOBS -t 0 in.json`; call change(path) once its first output has come."""
    path = tmp_path / "in.json"
    path.write_bytes(data)
    return run_changed_while_read(cli_env, tmp_path, ["-j", jobs, "-t", "0", "in.json"], lambda: change(path))


@pytest.fixture(scope="module")
def big_data():
    return generated(400_000, seed=3)  # 24 MB: far more than -j 0 has in flight


@pytest.mark.parametrize("jobs", ["1", "2", "0"])
def test_a_file_truncated_at_a_line_while_it_is_read_gives_the_lines_before_the_cut(cli_env, tmp_path, jobs,
                                                                                     big_data):
    cut = big_data.index(b"\n", 2 * len(big_data) // 3) + 1
    out, err, status = _read_while_changed(cli_env, tmp_path, jobs, big_data, lambda path: os.truncate(path, cut))
    assert (status, err) == (0, b"")
    assert out == expected_output(big_data[:cut], 0)


@pytest.mark.parametrize("jobs", ["1", "2", "0"])
def test_a_file_truncated_mid_line_while_it_is_read_ends_with_one_bad_record(cli_env, tmp_path, jobs, big_data):
    cut = big_data.index(b"\n", 2 * len(big_data) // 3) + 10
    out, err, status = _read_while_changed(cli_env, tmp_path, jobs, big_data, lambda path: os.truncate(path, cut))
    assert status == 1 and err.startswith(b"jsonfilter: in.json:") and err.count(b"\n") == 1, err
    assert out == expected_output(big_data[:cut], 0)


def test_bug_a_file_truncated_under_j_kept_a_later_piece_read_before_the_cut(tmp_path, monkeypatch):
    # With -j, a worker could read a later piece of the file whole before the
    # cut while another met the new end in an earlier one: the output then
    # had a hole, where -j 1 writes the lines before the cut and stops. Here
    # the cut is made to fall between them: the first worker reads pieces 0
    # and 2, the second pieces 1 and 3 (pieces go round, 1 MiB each at first),
    # and piece 1 is read only once piece 2 has been, after the cut.
    data = generated(8 * (1 << 20) // 61, seed=4)
    path = tmp_path / "in.json"
    path.write_bytes(data)
    cut = data.index(b"\n", (1 << 20) + (1 << 19)) + 1  # inside piece 1
    piece = parallel.CHUNK_SIZE
    read_later = tmp_path / "piece 2 read"
    real = parallel._chunks_from

    def chunks_from(fd, at, end):
        if piece <= at < 2 * piece:
            waited = 0
            while not read_later.exists():
                assert waited < 600, "piece 2 was never read"
                time.sleep(0.1)
                waited += 1
            os.truncate(path, cut)
        yield from real(fd, at, end)
        if 2 * piece <= at < 3 * piece:
            read_later.touch()

    monkeypatch.setattr(parallel, "_chunks_from", chunks_from)  # the forked workers inherit it
    out = io.BytesIO()
    counts = parallel.filter_parallel([str(path)], out, spec=Spec(threshold=0.0), jobs=2)
    assert read_later.exists()
    assert out.getvalue() == expected_output(data[:cut], 0)
    assert counts.unreadable_inputs == 0


@pytest.mark.parametrize("jobs", ["1", "2", "0"])
def test_a_file_rotated_by_copytruncate_while_it_is_read_ends_cleanly(cli_env, tmp_path, jobs, big_data):
    # logrotate's copytruncate: the file is copied away, emptied, and its writer
    # goes on writing at its start. What was read before the cut is written, and
    # the reads end at the file's new, shorter end: no signal, whole lines.
    def copytruncate(path):
        with open(path, "r+b") as f:
            f.truncate(0)
            f.write(b'{"index": 7, "total": 7}\n' * 1000)

    out, err, status = _read_while_changed(cli_env, tmp_path, jobs, big_data, copytruncate)
    assert status in (0, 1) and status >= 0, (status, err)
    full = expected_output(big_data, 0)
    assert out.endswith(b"\n") and full.startswith(out)
    assert len(out) < len(full)

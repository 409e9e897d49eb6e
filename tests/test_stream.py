"""The stream API: filter_stream over inputs, chunk by chunk, with counts and reports."""
import fcntl
import io
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from json_mapper import BadRecord, Counts, InputError, Spec, filter_chunk, filter_stream, parallel
from json_mapper.inputs import PIPE_SIZE, open_input, read_available, read_chunks

LINES = [b'{"index":%d,"total":1}\n' % (n % 3) for n in range(50)] + [b'{"index":1}\n', b"\n"]


def test_filter_chunk_reports_bad_lines_with_their_place():
    result = filter_chunk(b'{"index":1,"total":1}\nx\n\n{"index":2,"total":1}\n{}\n')
    first, second = b'{"index":1,"total":1,"sum_val":2.0}\n', b'{"index":2,"total":1,"sum_val":3.0}\n'
    assert (result.lines, result.output, result.selected) == (5, first + second, 2)
    assert [(bad.index, bad.offset, bad.selected) for bad in result.bad] == \
        [(1, len(first), 1), (4, len(first + second), 2)]
    assert result.bad[0].reason.startswith("invalid JSON: ")
    assert result.bad[1].reason == 'missing field "index"'
    assert result.bad_count == 2


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 1 << 20])
def test_read_chunks_gives_whole_lines_whatever_the_read_size(chunk_size):
    data = b"\xef\xbb\xbf" + b"".join(LINES) + b'{"last":1}'
    chunks = list(read_chunks(io.BufferedReader(io.BytesIO(data)), "x", chunk_size=chunk_size))
    assert b"".join(chunks) == data[3:]
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])


def test_a_bom_split_across_reads_is_still_dropped():
    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def readinto(self, buffer):
            n = min(1, len(self.data), len(buffer))
            buffer[:n], self.data = self.data[:n], self.data[n:]
            return n

    chunks = read_chunks(io.BufferedReader(Trickle(b'\xef\xbb\xbf{"a":1}\n'), buffer_size=1), "x")
    assert b"".join(chunks) == b'{"a":1}\n'


def test_filter_stream_counts_and_reports(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(b"".join(LINES))
    out = io.BytesIO()
    problems = []
    counts = filter_stream([str(path), str(tmp_path / "nope")], out, report=problems.append)
    expected = [b'{"index":%d,"total":1,"sum_val":%d.0}\n' % (n % 3, n % 3 + 1) for n in range(50) if n % 3]
    assert out.getvalue() == b"".join(expected)
    assert isinstance(counts, Counts)
    assert (counts.lines_read, counts.records_written, counts.bad_records, counts.unreadable_inputs) == \
        (52, len(expected), 1, 1)
    assert counts.bytes_read == path.stat().st_size
    bad, missing = problems
    assert isinstance(bad, BadRecord) and (bad.name, bad.lineno, bad.reason) == \
        (str(path), 51, 'missing field "total"')
    assert isinstance(missing, InputError) and missing.message == "No such file or directory"


def test_fail_mode_writes_what_came_before_then_raises(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(b'{"index":1,"total":1}\n{"index":"1","total":1}\n{"index":2,"total":1}\n')
    out = io.BytesIO()
    with pytest.raises(BadRecord) as caught:
        filter_stream([str(path)], out, on_error="fail")
    assert out.getvalue() == b'{"index":1,"total":1,"sum_val":2.0}\n'
    assert (caught.value.lineno, caught.value.reason) == (2, 'field "index" is not a number')


def test_skip_mode_reports_nothing_but_counts(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(b"x\ny\n")
    problems = []
    counts = filter_stream([str(path)], io.BytesIO(), on_error="skip", report=problems.append)
    assert (problems, counts.bad_records) == ([], 2)


def test_options_reach_the_records(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(b'{"a":1,"b":2}\n{"a":1,"b":0}\n')
    out = io.BytesIO()
    filter_stream([str(path)], out, spec=Spec(threshold=2, fields=("a", "b"), sum_field="s"))
    assert out.getvalue() == b'{"a":1,"b":2,"s":3.0}\n'


def test_an_unknown_error_mode_is_refused():
    with pytest.raises(ValueError, match="on_error"):
        filter_stream([], io.BytesIO(), on_error="ignore")


def test_a_pipe_is_read_in_large_gulps_of_what_is_there(tmp_path):
    # Reads go on while the pipe holds more, up to the chunk size, and stop
    # as soon as it holds nothing: never a wait for input that has not come.
    read_end, write_end = os.pipe()
    try:
        with open(read_end, "rb", closefd=False) as reader:
            for piece in (b"a" * 1000 + b"\n", b"b" * 30_000 + b"\n", b"c\n"):
                os.write(write_end, piece)
            assert read_available(reader, 1 << 20, "x") == b"a" * 1000 + b"\n" + b"b" * 30_000 + b"\nc\n"
            os.write(write_end, b"d" * 100)
            assert read_available(reader, 50, "x") == b"d" * 50  # never more than asked
            assert read_available(reader, 1 << 20, "x") == b"d" * 50
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="Linux only")
def test_an_input_pipe_is_enlarged_to_hold_a_chunk():
    read_end, write_end = os.pipe()
    try:
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) < PIPE_SIZE
        os.write(write_end, b'{"index": 1, "total": 1}\n')
        os.close(write_end)
        write_end = None
        with open_input(f"/dev/fd/{read_end}") as (reader, fmt):
            assert fcntl.fcntl(reader.fileno(), fcntl.F_GETPIPE_SZ) == PIPE_SIZE
            assert list(read_chunks(reader, "x", fmt)) == [b'{"index": 1, "total": 1}\n']
    finally:
        os.close(read_end)
        if write_end is not None:
            os.close(write_end)


# ------------------------------------------------------- sources and outputs of the API (issue 12)

BIG = b"".join(b'{"index":%d.5,"total":0.5,"i":%d}\n' % (i % 3, i) for i in range(150_000))  # about 5 MiB
BIG_OUT = b"".join(b'{"index":%d.5,"total":0.5,"i":%d,"sum_val":%s}\n' % (i % 3, i, repr(i % 3 + 1.0).encode())
                   for i in range(150_000) if i % 3 + 1.0 > 1.99)


@pytest.mark.parametrize("jobs", [1, 2])
def test_bug_one_path_was_read_as_a_list_of_characters(tmp_path, jobs):
    path = tmp_path / "api.json"
    path.write_bytes(BIG)
    for source in (str(path), path, [path]):
        out, problems = io.BytesIO(), []
        counts = parallel.filter_parallel(source, out, report=problems.append, jobs=jobs)
        assert (out.getvalue(), problems, counts.lines_read) == (BIG_OUT, [], 150_000)


@pytest.mark.parametrize("jobs", [1, 2])
def test_bug_a_binary_file_object_could_not_be_a_source(tmp_path, jobs):
    (tmp_path / "named.json").write_bytes(b'{"index":1,"total":1}\nbad\n')
    unnamed = io.BytesIO(BIG + b"[1]\n")
    out, problems = io.BytesIO(), []
    with open(tmp_path / "named.json", "rb") as named:
        counts = parallel.filter_parallel([unnamed, named], out, report=problems.append, jobs=jobs)
        assert not named.closed and not unnamed.closed
    assert out.getvalue() == BIG_OUT + b'{"index":1,"total":1,"sum_val":2.0}\n'
    assert [(p.name, p.lineno) for p in problems] == [("<stream>", 150_001), (str(tmp_path / "named.json"), 2)]
    assert counts.lines_read == 150_003


def test_a_file_object_is_read_from_where_it_stands():
    source = io.BytesIO(b'{"index":5,"total":5}\n{"index":1,"total":1}\n')
    source.readline()
    out = io.BytesIO()
    filter_stream(source, out)
    assert out.getvalue() == b'{"index":1,"total":1,"sum_val":2.0}\n'


def test_bug_sys_stdout_as_out_raised_type_error(tmp_path):
    (tmp_path / "in.json").write_bytes(BIG)
    code = ("import sys; from json_mapper import filter_stream; print('before', flush=False); "
            "filter_stream('in.json', sys.stdout); print('after')")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"before\n" + BIG_OUT + b"after\n"


def test_a_text_stream_out_is_written_through_its_buffer():
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    out.write("first line\n")
    filter_stream(io.BytesIO(b'{"index":1,"total":1}\n'), out)
    out.flush()
    assert out.buffer.getvalue() == b'first line\n{"index":1,"total":1,"sum_val":2.0}\n'


def test_the_options_after_out_are_keyword_only():
    with pytest.raises(TypeError):
        filter_stream([], io.BytesIO(), Spec())
    with pytest.raises(TypeError):
        parallel.filter_parallel([], io.BytesIO(), Spec())

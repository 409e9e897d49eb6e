"""The stream API: filter_stream over inputs, chunk by chunk, with counts and reports."""
import io

import pytest

from json_mapper import BadRecord, Counts, InputError, Spec, filter_chunk, filter_stream
from json_mapper.inputs import read_chunks

LINES = [b'{"index":%d,"total":1}\n' % (n % 3) for n in range(50)] + [b'{"index":1}\n', b"\n"]


def test_filter_chunk_reports_bad_lines_with_their_place():
    result = filter_chunk(b'{"index":1,"total":1}\nx\n\n{"index":2,"total":1}\n{}\n')
    assert result.lines == 5
    assert result.selected == [b'{"index":1,"total":1,"sum_val":2.0}', b'{"index":2,"total":1,"sum_val":3.0}']
    assert [(i, before) for i, _, before, _ in result.bad] == [(1, 1), (4, 2)]


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
    filter_stream([str(path)], out, Spec(threshold=2, fields=("a", "b"), sum_field="s"))
    assert out.getvalue() == b'{"a":1,"b":2,"s":3.0}\n'


def test_an_unknown_error_mode_is_refused():
    with pytest.raises(ValueError, match="on_error"):
        filter_stream([], io.BytesIO(), on_error="ignore")

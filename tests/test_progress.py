"""The progress line's total: known in advance only when every input is a plain regular file."""
import gzip
import os

from json_mapper.inputs import regular_file_status
from json_mapper.progress import plain_size


def test_the_total_is_the_plain_files_sizes_and_a_missing_one_is_left_to_the_run(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_bytes(b'{"index":1,"total":1}\n')
    b.write_bytes(b"{}\n" * 1000)
    assert plain_size([str(a), str(tmp_path / "missing"), str(b)]) == a.stat().st_size + b.stat().st_size


def test_no_total_for_stdin_a_pipe_or_compressed_input(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_bytes(b"{}\n")
    packed = tmp_path / "packed.json.gz"
    packed.write_bytes(gzip.compress(b"{}\n"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert plain_size([]) is None
    assert plain_size([str(plain), "-"]) is None
    assert plain_size([str(plain), str(packed)]) is None
    # Not opened: reading ahead from a pipe would take its bytes from the run.
    assert plain_size([str(plain), str(fifo)]) is None
    assert plain_size([str(tmp_path)]) is None


def test_regular_file_status_of_paths_and_file_objects(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_bytes(b"{}\n")
    assert regular_file_status(str(plain)).st_size == 3
    with open(plain, "rb") as f:
        assert regular_file_status(f).st_ino == plain.stat().st_ino
    read_end, write_end = os.pipe()
    try:
        with open(read_end, "rb", closefd=False) as pipe:
            assert regular_file_status(pipe) is None
    finally:
        os.close(read_end)
        os.close(write_end)
    assert regular_file_status(None) is None  # no descriptor
    assert regular_file_status(str(tmp_path)) is None

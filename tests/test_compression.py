"""Compressed inputs told by their magic number.

zstd is read like gzip, bzip2 and xz; lz4 and Snappy are refused in one message.
"""
import gzip
import subprocess
import sys

import pytest
import zstandard

from conftest import ROOT

RECORDS = b"".join(b'{"index":%d.25,"total":1,"n":"%d"}\n' % (i % 3, i) for i in range(300_000))  # about 10 MiB
SELECTED = b"".join(b'{"index":%d.25,"total":1,"n":"%d","sum_val":%s}\n' % (i % 3, i, repr(i % 3 + 1.25).encode())
                    for i in range(300_000) if i % 3 + 1.25 > 1.99)
UNSUPPORTED = {
    "lz4": [b"\x04\x22\x4d\x18", b"\x02\x21\x4c\x18"],
    "snappy": [b"\xff\x06\x00\x00sNaPpY"],
}


def zstd(data, frames=1):
    """`data` as zstd, in `frames` frames one after another (as `cat a.zst b.zst` makes)."""
    size = -(-len(data) // frames)
    return b"".join(zstandard.ZstdCompressor(level=1).compress(data[i:i + size])
                    for i in range(0, len(data), size))


@pytest.mark.parametrize("jobs", ["1", "2", "0"])
@pytest.mark.parametrize("how", ["file", "stdin"])
@pytest.mark.parametrize("frames", [1, 3])
def test_zstd_input_is_read_by_its_magic_number(run_jsonfilter, tmp_path, how, jobs, frames):
    blob = zstd(RECORDS, frames)
    if how == "file":
        (tmp_path / "logs.json.zst").write_bytes(blob)
        result = run_jsonfilter("-j", jobs, "logs.json.zst")
    else:
        result = run_jsonfilter("-j", jobs, stdin=blob)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == SELECTED


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_truncated_zstd_keeps_the_records_before_and_says_so(run_jsonfilter, tmp_path, jobs):
    blob = zstd(RECORDS)
    (tmp_path / "cut.zst").write_bytes(blob[:len(blob) // 2])
    (tmp_path / "next.json").write_bytes(b'{"index":1,"total":1}\n' * 3)
    result = run_jsonfilter("-j", jobs, "cut.zst", "next.json")
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith(b"jsonfilter: cut.zst: corrupt zstd data: ")
    next_out = b'{"index":1,"total":1,"sum_val":2.0}\n' * 3
    assert result.stdout.endswith(next_out)
    kept = result.stdout[:-len(next_out)]
    assert SELECTED.startswith(kept) and len(SELECTED) // 4 < len(kept) < len(SELECTED)


@pytest.mark.parametrize("fmt, magic", [(fmt, magic) for fmt, magics in UNSUPPORTED.items() for magic in magics])
@pytest.mark.parametrize("how", ["file", "stdin", "jobs_2"])
def test_bug_lz4_and_snappy_input_flooded_bad_records(run_jsonfilter, tmp_path, fmt, magic, how):
    blob = magic + bytes(range(256)) * 4000 + b"\n" * 100
    good = b'{"index":1,"total":1}\n'
    (tmp_path / "good.json").write_bytes(good)
    if how == "stdin":
        result = run_jsonfilter("-", "good.json", stdin=blob)
        name = "<stdin>"
    else:
        name = f"in.{fmt}"
        (tmp_path / name).write_bytes(blob)
        result = run_jsonfilter(*(["-j", "2"] if how == "jobs_2" else []), name, "good.json")
    assert result.stderr == f"jsonfilter: {name}: {fmt} compressed input is not supported\n".encode()
    assert result.returncode == 2
    assert result.stdout == b'{"index":1,"total":1,"sum_val":2.0}\n'  # the next input is still read


def test_decompressors_are_imported_only_when_their_format_is_seen(tmp_path):
    data = RECORDS[:RECORDS.index(b"\n", 100_000) + 1]  # past the size where the fast path loads
    (tmp_path / "plain.json").write_bytes(data)
    (tmp_path / "in.gz").write_bytes(gzip.compress(data))
    (tmp_path / "in.zst").write_bytes(zstd(data))
    modules = ("gzip", "zlib", "bz2", "lzma", "zstandard")
    # Those the interpreter's start-up brought in (site packages may) are not this program's.
    code = ("import sys; before = set(sys.modules); from json_mapper import cli; cli.main(sys.argv[1:]); "
            f"sys.stderr.write(repr([m for m in {modules!r} if m in set(sys.modules) - before]))")

    def imported(*files):
        result = subprocess.run([sys.executable, "-c", code, *files], cwd=tmp_path, capture_output=True,
                                env={"PYTHONPATH": str(ROOT)})
        assert result.stdout.count(b"\n") == data.count(b"\n") * 2 // 3
        return eval(result.stderr.decode())

    assert imported("plain.json") == []
    assert imported("in.gz") == []  # zlib, which the interpreter's start-up brings in, and not gzip
    assert imported("in.zst") == ["zstandard"]

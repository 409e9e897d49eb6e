"""`-j` reads a damaged compressed input exactly as `-j 1` does, wherever the damage falls.

Each format's stream of a dozen MB of messy lines (selected records, records
not selected, bad lines, blank lines) is cut short, or overwritten with
junk, at many places; `-j 2` and `-j 0` must give what `-j 1` gives: stdout,
the --rejects file, the --stats counts, the messages and the exit status.
And what `-j 1` gives for a cut stream is what it gives for the whole lines
the format's decompressor gets out of it, as plain text, plus the damage.
"""
import bz2
import errno
import gzip
import io
import lzma
import os
import random
import re

import pytest
import zstandard

from json_mapper.parallel import filter_parallel

COMPRESS = {
    "gzip": lambda data: gzip.compress(data, compresslevel=1),
    "bzip2": lambda data: bz2.compress(data, compresslevel=1),
    "xz": lambda data: lzma.compress(data, preset=0),
    "zstd": lambda data: zstandard.ZstdCompressor(level=1).compress(data),
}
DECOMPRESSOR = {
    "gzip": lambda: gzip.zlib.decompressobj(31),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
    "zstd": lambda: zstandard.ZstdDecompressor().decompressobj(),
}
# Of the compressed size. Under -j, zstd lost lines at 0.43, 0.76 and 0.79
# (2,057, 4,050 and 10,120 of them).
CUTS = [0.05, 0.30, 0.43, 0.55, 0.76, 0.79, 0.999]
JUNK_AT = [0.37, 0.81]  # where 32 bytes are overwritten


def messy_lines(count=200_000):
    """About 12.8 MB (-j reads pieces of up to 4 MiB): the issue's reproducer, with blank lines too."""
    rand = random.Random(3)
    lines = []
    for n in range(count):
        if n % 300 == 0:
            lines.append(b'{"index": 5, "total": 5, "n": %d}' % n)
        elif n % 777 == 0:
            lines.append(b"junk")
        elif n % 1001 == 0:
            lines.append(b"  ")
        else:
            lines.append(b'{"index": 0.%03d, "total": 0.5, "n": %d, "kind": "heartbeat"}' % (rand.randrange(1000), n))
    return b"\n".join(lines) + b"\n"


def outcome(run_jsonfilter, tmp_path, args, blob, via):
    """(stdout, rejects, stderr without timings, status) of `jsonfilter ARGS` reading `blob`."""
    rejects = tmp_path / "rejects"
    options = ["--stats", "--rejects", rejects, *args]
    if via == "stdin":
        result = run_jsonfilter(*options, stdin=blob)
    else:
        (tmp_path / "in").write_bytes(blob)
        result = run_jsonfilter(*options, "in")
    stderr = re.sub(rb", [0-9.]+ s, [0-9.]+ MB/s\n", b"\n", result.stderr.replace(b"<stdin>", b"in"))
    return result.stdout, rejects.read_bytes(), stderr, result.returncode


@pytest.mark.parametrize("fmt", COMPRESS)
def test_bug_jobs_lost_the_records_just_before_the_damage(run_jsonfilter, tmp_path, fmt):
    # zstd under -j lost a line or more before the damage: its BufferedReader
    # dropped the bytes a readinto1 had copied when the next read raised.
    blob = COMPRESS[fmt](messy_lines())
    damaged = {f"cut at {at}": blob[:int(len(blob) * at)] for at in CUTS}
    junk = bytes(random.Random(7).getrandbits(8) for _ in range(32))
    damaged.update({f"junk at {at}": blob[:int(len(blob) * at)] + junk + blob[int(len(blob) * at) + 32:]
                    for at in JUNK_AT})
    for number, (where, data) in enumerate(damaged.items()):
        # Each way of reading, and each -j, in turn (-j 0 is -j 2 on two cores).
        via, jobs = ("file", "stdin")[number % 2], ("2", "0")[number // 2 % 2]
        serial = outcome(run_jsonfilter, tmp_path, [], data, via)
        assert outcome(run_jsonfilter, tmp_path, ["-j", jobs], data, via) == serial, (where, via, jobs)
        stdout, rejects, stderr, status = serial
        if where.startswith("cut"):
            assert status == 2 and stderr.count(b": corrupt %s data: " % fmt.encode()) == 1, where
            readable = DECOMPRESSOR[fmt]().decompress(data)
            plain = outcome(run_jsonfilter, tmp_path, [], readable[:readable.rfind(b"\n") + 1], via)
            assert (stdout, rejects) == plain[:2], where
            # The same counts, and the damage besides.
            assert stderr.splitlines()[-1] == plain[2].splitlines()[-1], where
        if where == f"cut at {CUTS[-1]}":  # nearly all of it
            assert rejects.count(b"\n") > 40 and stdout.count(b"\n") > 100


class _FailingRaw(io.RawIOBase):
    """`data` in reads of at most 50,000 bytes, then EIO: a file object with no descriptor."""

    def __init__(self, data):
        self.data = memoryview(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self.data:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        size = min(len(buffer), len(self.data), 50_000)
        buffer[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


@pytest.mark.parametrize("count", [113_325, 113_326, 80_000])
def test_bug_jobs_lost_what_a_file_objects_buffer_held_before_a_read_error(count):
    # Only through the API: the -j reader's readinto1 on the caller's
    # BufferedReader lost the 27 lines its buffer held (113,325 records).
    data = b"".join(b'{"index": 1, "total": 1, "n": %d}\n' % n for n in range(count))
    runs = []
    for jobs in (1, 2):
        out, problems = io.BytesIO(), []
        counts = filter_parallel(io.BufferedReader(_FailingRaw(data), 1 << 16), out, jobs=jobs,
                                 report=problems.append)
        runs.append((out.getvalue(), counts.lines_read, [str(problem) for problem in problems]))
    assert runs[0] == (data.replace(b"}\n", b',"sum_val":2.0}\n'), count,
                       ["<stream>: read error: Input/output error"])
    assert runs[1] == runs[0]

"""Memory stays flat whatever the compression ratio: a GB or more out of a few MB, under 64 MB resident.

Each bomb is made here, streamed into the compressor a MiB at a time, and
read by the real command, whose peak resident size (and that of its
workers) must stay at most 64 MB: a decompressor that handed out a whole
stream, or even 128 MiB of it, at once would go far past that. Behind the
`load` marker (`-m "not load"` leaves it out of a quick run); the README's
test command, which CI runs, includes it.
"""
import bz2
import lzma
import re
import subprocess
import sys
import zlib

import pytest
import zstandard

pytestmark = pytest.mark.load

MAX_RSS_KB = 64 * 1024
MIB = 1 << 20
RECORD = b'{"index": 0.5, "total": 0.5, "n": 12345}\n'  # not selected: the command's own work stays small
BLANK = b" " * 1023 + b"\n"

# The peak resident size of the command run, with its workers, as RUSAGE_CHILDREN
# of a fresh interpreter sees it (a child forked from the test process would
# count the test process's own pages), written to the file in argv[1].
PEAK = ("import resource, subprocess, sys\n"
        "status = subprocess.call(sys.argv[2:])\n"
        "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
        "sys.exit(status)\n")

# format: (compressor, the line repeated, MiB in a stream, streams one after another).
# bzip2 sorts repetitive text slowly, except runs of one byte, which its first
# stage squashes: its bomb is blank lines of spaces, in streams of 128 MiB.
BOMBS = {
    "gzip": (lambda: zlib.compressobj(1, zlib.DEFLATED, 31), RECORD, 1024, 1),
    "bzip2": (lambda: bz2.BZ2Compressor(1), BLANK, 128, 8),
    "xz": (lambda: lzma.LZMACompressor(preset=0), RECORD, 1024, 1),
    "zstd": (lambda: zstandard.ZstdCompressor(level=1).compressobj(), RECORD, 1024, 1),
}
# Each read another way: by name, through a pipe, and by -j 2 and -j 0 (whose reader decompresses).
HOW = {"gzip": ("file", []), "xz": ("pipe", []), "zstd": ("file", ["-j", "2"]), "bzip2": ("pipe", ["-j", "0"])}


def write_bomb(path, fmt):
    """Write the bomb of `fmt` to `path`; return the lines it decompresses to."""
    make, line, mib, streams = BOMBS[fmt]
    piece = line * (MIB // len(line))
    per_stream = mib * MIB // len(piece)
    compressor = make()
    stream = b"".join([compressor.compress(piece) for _ in range(per_stream)] + [compressor.flush()])
    path.write_bytes(stream * streams)
    return per_stream * (MIB // len(line)) * streams, len(piece) * per_stream * streams


@pytest.mark.parametrize("fmt", BOMBS)
def test_a_gigabyte_bomb_takes_no_more_memory_than_any_input(cli_env, tmp_path, fmt):
    bomb = tmp_path / f"bomb.{fmt}"
    lines, size = write_bomb(bomb, fmt)
    assert size >= 1e9 and bomb.stat().st_size < 8e6
    how, jobs = HOW[fmt]
    command = ["jsonfilter", "--stats", *jobs]
    if how == "pipe":
        command = ["sh", "-c", 'cat "$0" | "$@"', bomb, *command]
    else:
        command.append(bomb)
    peak = tmp_path / "peak"
    result = subprocess.run([sys.executable, "-c", PEAK, peak, *command], capture_output=True, env=cli_env,
                            timeout=600)
    blank = lines if BOMBS[fmt][1] == BLANK else 0
    stats = re.sub(rb", [0-9.]+ s, [0-9.]+ MB/s\n$", b"", result.stderr)
    assert (result.returncode, result.stdout, stats) == (0, b"", b"jsonfilter: %d lines read, 0 records written, "
                                                         b"0 bad records, %d blank, %d not selected"
                                                         % (lines, blank, lines - blank))
    peak_kb = int(peak.read_text())
    print(f"\n{fmt}: {bomb.stat().st_size / 1e6:.2f} MB to {size / 1e9:.2f} GB, peak RSS {peak_kb / 1024:.1f} MB")
    assert 0 < peak_kb <= MAX_RSS_KB

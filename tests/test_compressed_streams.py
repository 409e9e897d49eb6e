"""Every stream of a compressed input is read, as the format's own tool reads it, and nothing after it is hidden.

gzip members, bzip2 and xz streams and zstd frames one after another, xz
stream padding, zstd's skippable frames (pzstd's output starts with one) and
empty streams are read; whatever follows the last stream that cannot start
another is damage: `FILE: corrupt FMT data: ...`, exit status 2, with every
record before it written. Each case runs on a few MiB of records, through a
file, stdin, `-j 2` and `-j 0`.
"""
import bz2
import functools
import gzip
import lzma

import pytest
import zstandard

COMPRESS = {
    "gzip": lambda data: gzip.compress(data, compresslevel=1),
    "bzip2": lambda data: bz2.compress(data, compresslevel=1),
    "xz": lambda data: lzma.compress(data, preset=0),
    "zstd": lambda data: zstandard.ZstdCompressor(level=1).compress(data),
}
MODES = ["file", "stdin", "jobs_2", "jobs_0"]
LINES = 60_000  # about 2.2 MiB a part: several pieces under -j


def records(first, count=LINES):
    return b"".join(b'{"index": 1, "total": 1, "n": %d}\n' % n for n in range(first, first + count))


def selected(first, count=LINES):
    return b"".join(b'{"index": 1, "total": 1, "n": %d,"sum_val":2.0}\n' % n for n in range(first, first + count))


A, B = records(0), records(LINES)
A_OUT, B_OUT = selected(0), selected(LINES)


@functools.cache
def packed(fmt, data):
    return COMPRESS[fmt](data)


def skippable(payload, magic=0x184D2A50):
    """A zstd skippable frame holding `payload`."""
    return magic.to_bytes(4, "little") + len(payload).to_bytes(4, "little") + payload


def run(run_jsonfilter, tmp_path, mode, blob):
    """(stdout, stderr with the input's name as NAME, exit status) of jsonfilter reading `blob`."""
    if mode in ("stdin", "jobs_0"):
        result = run_jsonfilter(*(["-j", "0"] if mode == "jobs_0" else []), stdin=blob)
        name = b"<stdin>"
    else:
        (tmp_path / "in.z").write_bytes(blob)
        result = run_jsonfilter(*(["-j", "2"] if mode == "jobs_2" else []), "in.z")
        name = b"in.z"
    return result.stdout, result.stderr.replace(name, b"NAME"), result.returncode


def damage(fmt, message):
    return b"jsonfilter: NAME: corrupt %s data: %s\n" % (fmt.encode(), message.encode())


@pytest.mark.parametrize("mode", MODES)
def test_bug_an_xz_stream_after_stream_padding_was_dropped(run_jsonfilter, tmp_path, mode):
    # `xz -dc` reads both streams; LZMAFile took the padding for the end.
    blob = packed("xz", A) + b"\0" * 8 + packed("xz", B)
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT + B_OUT, b"", 0)


@pytest.mark.parametrize("mode", MODES)
def test_bug_xz_stream_padding_at_the_end_was_called_damage(run_jsonfilter, tmp_path, mode):
    blob = packed("xz", A) + b"\0" * 12
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT, b"", 0)


@pytest.mark.parametrize("mode", MODES)
def test_xz_stream_padding_must_be_a_multiple_of_four(run_jsonfilter, tmp_path, mode):
    first = packed("xz", A)
    blob = first + b"\0" * 6 + packed("xz", B)
    message = f"6 bytes of stream padding, not a multiple of 4 (after 1 whole stream, at byte {len(first)})"
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT, damage("xz", message), 2)


@pytest.mark.parametrize("mode", MODES)
def test_bug_a_damaged_second_xz_stream_was_dropped_without_a_word(run_jsonfilter, tmp_path, mode):
    first, second = packed("xz", A), bytearray(packed("xz", B))
    second[8] ^= 0xFF  # in the stream header, which its CRC32 covers
    message = f"Corrupt input data (after 1 whole stream, at byte {len(first)})"
    assert run(run_jsonfilter, tmp_path, mode, first + second) == (A_OUT, damage("xz", message), 2)


@pytest.mark.parametrize("mode", MODES)
def test_bug_a_damaged_second_bzip2_stream_was_dropped_without_a_word(run_jsonfilter, tmp_path, mode):
    first = packed("bzip2", A)
    blob = first + b"BZh0" + packed("bzip2", B)[4:]
    message = f"Invalid data stream (after 1 whole stream, at byte {len(first)})"
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT, damage("bzip2", message), 2)


# What the decompressor says of b"garbage\n" where a stream should start.
# (xz needs 12 bytes for a stream header: 8 end as a truncated one, as `xz -dc` says.)
GARBAGE = {
    "gzip": "Error -3 while decompressing data: incorrect header check",
    "bzip2": "Invalid data stream",
    "xz": "Compressed file ended before the end-of-stream marker was reached",
    "zstd": "not a zstd frame (unknown magic number)",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", COMPRESS)
def test_bug_trailing_garbage_after_bzip2_and_xz_was_ignored(run_jsonfilter, tmp_path, fmt, mode):
    # gzip and zstd reported it already; BZ2File and LZMAFile took it for the end.
    first = packed(fmt, A)
    unit = "member" if fmt == "gzip" else "frame" if fmt == "zstd" else "stream"
    message = f"{GARBAGE[fmt]} (after 1 whole {unit}, at byte {len(first)})"
    assert run(run_jsonfilter, tmp_path, mode, first + b"garbage\n") == (A_OUT, damage(fmt, message), 2)


@pytest.mark.parametrize("mode", MODES)
def test_bug_zeros_after_a_bzip2_stream_were_ignored(run_jsonfilter, tmp_path, mode):
    # bzip2 -d says "trailing garbage after EOF ignored": not data, so damage here.
    first = packed("bzip2", A)
    message = f"Invalid data stream (after 1 whole stream, at byte {len(first)})"
    assert run(run_jsonfilter, tmp_path, mode, first + b"\0" * 8) == (A_OUT, damage("bzip2", message), 2)


@pytest.mark.parametrize("mode", MODES)
def test_zeros_after_a_gzip_member_are_padding(run_jsonfilter, tmp_path, mode):
    # As gzip -d allows: any number of them, with or without a member after.
    blob = packed("gzip", A) + b"\0" * 5 + packed("gzip", B) + b"\0" * 3
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT + B_OUT, b"", 0)


@pytest.mark.parametrize("mode", MODES)
def test_bug_a_pzstd_file_was_read_as_lines_of_binary_junk(run_jsonfilter, tmp_path, mode):
    # pzstd's output: a skippable frame giving the size of the frame after it.
    frame = packed("zstd", A)
    blob = skippable(len(frame).to_bytes(4, "little")) + frame
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT, b"", 0)


@pytest.mark.parametrize("mode", MODES)
def test_skippable_frames_anywhere_are_passed_over(run_jsonfilter, tmp_path, mode):
    blob = (skippable(b"", 0x184D2A5F) + packed("zstd", A) + skippable(b"\n{}\n" * 40_000, 0x184D2A53)
            + packed("zstd", B) + skippable(b"x"))
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT + B_OUT, b"", 0)


@pytest.mark.parametrize("mode", ["file", "stdin"])
def test_a_zstd_file_of_only_a_skippable_frame_is_empty(run_jsonfilter, tmp_path, mode):
    assert run(run_jsonfilter, tmp_path, mode, skippable(b"")) == (b"", b"", 0)


@pytest.mark.parametrize("mode", MODES)
def test_a_truncated_skippable_frame_is_damage(run_jsonfilter, tmp_path, mode):
    first = packed("zstd", A)
    message = ("Compressed file ended before the end-of-stream marker was reached "
               f"(after 1 whole frame, at byte {len(first)})")
    blob = first + skippable(b"x" * 100)[:50]
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT, damage("zstd", message), 2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", COMPRESS)
def test_every_stream_is_read_empty_ones_too(run_jsonfilter, tmp_path, fmt, mode):
    blob = packed(fmt, b"") + packed(fmt, A) + packed(fmt, b"") + packed(fmt, B) + packed(fmt, b"")
    assert run(run_jsonfilter, tmp_path, mode, blob) == (A_OUT + B_OUT, b"", 0)


@pytest.mark.parametrize("fmt", COMPRESS)
def test_an_input_of_only_empty_streams_is_empty(run_jsonfilter, tmp_path, fmt):
    assert run(run_jsonfilter, tmp_path, "file", packed(fmt, b"") * 3) == (b"", b"", 0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", COMPRESS)
def test_a_later_stream_cut_short_keeps_what_came_before(run_jsonfilter, tmp_path, fmt, mode):
    first, second = packed(fmt, A), packed(fmt, B)
    cut = second[:len(second) // 2]
    # What the format's decompressor gets out of the cut stream: its whole lines come out.
    decoder = {"gzip": lambda: gzip.zlib.decompressobj(31), "bzip2": bz2.BZ2Decompressor,
               "xz": lzma.LZMADecompressor, "zstd": lambda: zstandard.ZstdDecompressor().decompressobj()}[fmt]()
    readable = decoder.decompress(cut)
    whole = readable[:readable.rindex(b"\n") + 1].count(b"\n")
    assert LINES // 4 < whole < LINES
    unit = "member" if fmt == "gzip" else "frame" if fmt == "zstd" else "stream"
    message = (f"Compressed file ended before the end-of-stream marker was reached "
               f"(after 1 whole {unit}, at byte {len(first)})")
    assert run(run_jsonfilter, tmp_path, mode, first + cut) == (A_OUT + selected(LINES, whole), damage(fmt, message), 2)


@pytest.mark.parametrize("mode", ["file", "jobs_0"])
def test_the_input_after_a_damaged_one_is_still_read(run_jsonfilter, tmp_path, mode):
    (tmp_path / "bad.xz").write_bytes(packed("xz", A) + b"\0" * 3)
    (tmp_path / "next.zst").write_bytes(skippable(b"") + packed("zstd", B))
    result = run_jsonfilter(*(["-j", "0"] if mode == "jobs_0" else []), "bad.xz", "next.zst")
    message = f"3 bytes of stream padding, not a multiple of 4 (after 1 whole stream, at byte {len(packed('xz', A))})"
    assert (result.stdout, result.stderr, result.returncode) == (
        A_OUT + B_OUT, b"jsonfilter: bad.xz: corrupt xz data: %s\n" % message.encode(), 2)

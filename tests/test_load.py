"""Load: a multi-gigabyte stream, generated on the fly and never stored, through jsonfilter.

Behind the `load` marker (`-m "not load"` leaves it out of a quick run).
JSONFILTER_LOAD_BYTES sets the size (default 2 GB).
"""
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.load

SIZE = int(float(os.environ.get("JSONFILTER_LOAD_BYTES", 2e9)))
THRESHOLD = 1.5
MAX_RSS_KB = 64 * 1024

# Writes a given number of bytes of records built from 16 blocks picked at random, then
# prints on stderr how many lines and selected records it wrote, and the
# clock time at each thirtieth of the bytes (a write blocks until the reader
# has taken what came before, so this measures consumption).
GENERATOR = r"""
import os, random, sys, time
size, threshold = int(sys.argv[1]), float(sys.argv[2])
rand = random.Random(5).random
blocks = []
for _ in range(16):
    pairs = [(rand(), rand()) for _ in range(16_000)]
    text = "".join('{"index": %r, "total": %r}\n' % pair for pair in pairs).encode()
    blocks.append((text, len(pairs), sum(1 for x, y in pairs if x + y > threshold)))
pick = random.Random(6).randrange
written = lines = selected = 0
marks = [time.monotonic()]
out = sys.stdout.fileno()
while written < size:
    text, n, chosen = blocks[pick(16)]
    view = memoryview(text)
    while view:
        view = view[os.write(out, view):]
    written += len(text)
    lines += n
    selected += chosen
    while written >= len(marks) * size / 30:
        marks.append(time.monotonic())
print(written, lines, selected, *marks, file=sys.stderr)
"""


def high_water_kb(pid):
    """Peak resident size so far of the process and, separately, of each of its workers.

    Read from /proc (VmHWM) rather than wait4(): a child's ru_maxrss also
    counts the test process it was forked from.
    """
    peak = 0
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids = [pid, *map(int, f.read().split())]
    except FileNotFoundError:
        return 0  # already gone: its last sample stands
    for one in pids:
        try:
            with open(f"/proc/{one}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except FileNotFoundError:
            pass
    return peak


@pytest.mark.parametrize("jobs, threshold, size", [
    pytest.param([], THRESHOLD, SIZE, id="serial"),
    pytest.param(["-j", "0"], THRESHOLD, SIZE, id="jobs_0"),
    # Every record selected: what waits to be written is the most it can be.
    pytest.param(["-j", "0"], -1.0, SIZE // 4, id="jobs_0_all_selected"),
])
def test_gigabytes_on_the_fly(cli_env, tmp_path, jobs, threshold, size):
    generator = subprocess.Popen([sys.executable, "-c", GENERATOR, str(size), str(threshold)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc = subprocess.Popen(["jsonfilter", "-t", str(threshold), *jobs], stdin=generator.stdout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    generator.stdout.close()
    records = 0
    last = b"\n"
    peak_kb = 0
    while True:
        block = proc.stdout.read1(1 << 20)
        if not block:
            break
        records += block.count(b"\n")
        last = block[-1:]
        peak_kb = max(peak_kb, high_water_kb(proc.pid))
    err = proc.stderr.read()
    proc.wait()
    report = generator.stderr.read().split()
    generator.wait()
    written, lines, selected = map(int, report[:3])
    marks = list(map(float, report[3:]))

    assert (proc.returncode, err) == (0, b"")
    assert generator.returncode == 0
    assert last == b"\n"
    assert records == selected
    # Peak memory does not grow with the input.
    assert 0 < peak_kb <= MAX_RSS_KB
    # Whether throughput holds up is reported, not asserted (no timing in
    # tests): the last third of the bytes against the first.
    first_third = marks[10] - marks[0]
    last_third = marks[30] - marks[20]
    print(f"\nload {' '.join(jobs) or 'serial'}: {written / 1e9:.2f} GB, {lines} lines, "
          f"{selected} selected, peak RSS {peak_kb / 1024:.1f} MB, "
          f"{written / 1e6 / (marks[30] - marks[0]):.0f} MB/s, "
          f"last/first third time {last_third / first_third:.2f}")


def test_bug_fast_pipe_into_j_grew_memory_without_end(cli_env, tmp_path):
    """`cat FILES | jsonfilter -j 2` kept growing: 150 MB after 1 GB.

    Each read of the pipe made a bytes object as large as the room left in
    the ring's slot, which a short read then shrank; the holes those left in
    the heap were never filled again. Only a producer as fast as `cat` (reads
    of every size up to the pipe's) showed it, and only with most records
    selected, which makes pieces small.
    """
    from json_mapper import datagen

    datagen.main(["--files", "1", "--lines", "4000000", "--out", str(tmp_path)])
    data = next(tmp_path.iterdir())
    out = tmp_path / "out.json"
    cat = subprocess.Popen(["cat", *[str(data)] * 3], stdout=subprocess.PIPE)  # 732 MB
    with open(out, "wb") as f:  # written as fast as it comes: a reader of a pipe would slow the run down
        proc = subprocess.Popen(["jsonfilter", "-j", "2", "-t", "0"], stdin=cat.stdout,
                                stdout=f, stderr=subprocess.PIPE, env=cli_env)
    cat.stdout.close()
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, high_water_kb(proc.pid))
        time.sleep(0.02)
    err = proc.stderr.read()
    lines = 0
    with open(out, "rb") as f:
        while block := f.read(1 << 20):
            lines += block.count(b"\n")
    assert (proc.returncode, cat.wait(), err, lines) == (0, 0, b"", 12_000_000)
    print(f"\npeak RSS {peak_kb / 1024:.1f} MB")
    assert 0 < peak_kb <= MAX_RSS_KB

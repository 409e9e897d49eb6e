"""The blog's data set, built in: N files of M lines {"index": x, "total": y}.

    python -m json_mapper.datagen --files 4 --lines 1000000 --out data/

writes data/dat_0.json ... data/dat_3.json, with x and y uniform in [0, 1).
The same arguments always give the same bytes: each file has its own seeded
generator, so file n does not depend on how many files are made.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import functools
import os
import random
import sys

TYPE_CHECKING = False  # True only for a type checker
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# 17 decimal digits, as in the blog's data; integer formatting is much faster than a float's repr.
LINE = '{"index": 0.%017d, "total": 0.%017d}\n'
SCALE = 1e17

# Lines per write: big enough to keep the loop in C, small enough to keep memory flat.
BATCH = 100_000


def file_lines(seed: int, number: int, lines: int) -> Iterator[str]:
    """Yield the text of file `number` in batches of lines."""
    rand = random.Random(f"jsonfilter:{seed}:{number}").random
    done = 0
    while done < lines:
        n = min(BATCH, lines - done)
        yield "".join([LINE % (rand() * SCALE, rand() * SCALE) for _ in range(n)])
        done += n


def file_name(out: str, number: int) -> str:
    return os.path.join(out, f"dat_{number}.json")


def write_file(out: str, seed: int, number: int, lines: int) -> str:
    path = file_name(out, number)
    with open(path, "w", encoding="ascii") as f:
        for text in file_lines(seed, number, lines):
            f.write(text)
    return path


def expected_selected(seed: int, number: int, lines: int, threshold: float) -> int:
    """How many lines of file `number` have index + total > threshold."""
    rand = random.Random(f"jsonfilter:{seed}:{number}").random
    digits = 10 ** 17  # the value each line holds is the one written, not rand() itself
    return sum(1 for _ in range(lines)
               if int(rand() * SCALE) / digits + int(rand() * SCALE) / digits > threshold)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m json_mapper.datagen",
        description="Write the blog's data set: FILES files of LINES JSON lines each.")
    parser.add_argument("--files", type=int, default=4, help="number of files (default 4)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per file (default 1000000)")
    parser.add_argument("--out", default="data", help="output folder (default data)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.files < 0 or args.lines < 0:
        parser.error("--files and --lines must not be negative")
    try:
        os.makedirs(args.out, exist_ok=True)
        write = functools.partial(write_file, args.out, args.seed, lines=args.lines)
        if args.files > 1:
            # Files are independent, so they are written on every core at once.
            with concurrent.futures.ProcessPoolExecutor(min(args.files, os.cpu_count() or 1)) as pool:
                list(pool.map(write, range(args.files)))
        else:
            list(map(write, range(args.files)))
    except OSError as err:
        sys.exit(f"datagen: {err.filename or args.out}: {err.strerror}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

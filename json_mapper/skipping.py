"""`map_line` for engines that must not die on one bad line: skip it and count it.

`map_line` raises BadRecord on a bad line, which fails a Spark task (and,
after its retries, the whole job). When the job should go on, wrap it:

    bad = sc.accumulator(0)
    rdd.flatMap(skip_bad_records(bad)).saveAsTextFile(out)
    print(bad.value, "bad records skipped")

The counter is anything with `.add(n)`: a Spark accumulator, or `Tally` here.
Spark applies accumulator updates made inside a transformation again when it
re-runs a task (a lost executor, speculation), so the count is exact when no
task was retried and otherwise an upper bound.
"""
from __future__ import annotations

from .record import THRESHOLD, BadRecord, map_line

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from typing import Protocol

    class Counter(Protocol):
        """A Spark accumulator, or a Tally."""

        def add(self, n: int, /) -> object: ...


class Tally:
    """A plain counter with the accumulator's `.add`, for use outside Spark."""

    def __init__(self) -> None:
        self.value = 0

    def add(self, n: int) -> None:
        self.value += n


class skip_bad_records:  # lower case: used like a function
    """A picklable mapper: `map_line(line, th)`, or nothing and `counter.add(1)` if bad."""

    def __init__(self, counter: Counter, th: float = THRESHOLD) -> None:
        self.counter = counter
        self.th = th

    def __call__(self, line: str | bytes) -> list[str]:
        try:
            return list(map_line(line, self.th))
        except BadRecord:
            self.counter.add(1)
            return []

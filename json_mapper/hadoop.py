"""Running as a Hadoop Streaming mapper.

Hadoop Streaming passes the job configuration to the mapper as environment
variables, with dots turned into underscores (`mapreduce.task.id` becomes
`mapreduce_task_id`; Hadoop 1 used `mapred_task_id`). When they are there,
`jsonfilter` names its real input in messages instead of `<stdin>`, and
reports its counts as Hadoop counters: lines on stderr of the form
`reporter:counter:GROUP,COUNTER,AMOUNT`, which the streaming task turns
into job counters instead of copying them to the task log.
"""
from __future__ import annotations

import os
import sys

from .inputs import STDIN_NAME

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import TextIO

    from .stream import Counts, Problem, Report

COUNTER_GROUP = "jsonfilter"

# New name first: Hadoop 2 and later set both for old scripts' sake.
TASK_ID_VARS = ("mapreduce_task_id", "mapred_task_id")
INPUT_FILE_VARS = ("mapreduce_map_input_file", "map_input_file")
INPUT_START_VARS = ("mapreduce_map_input_start", "map_input_start")


def _first(environ: Mapping[str, str], names: Iterable[str]) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


class StreamingTask:
    """The Hadoop Streaming task this process runs in."""

    # A plain class: dataclasses takes longer to import than a short run takes.
    __slots__ = ("task_id", "input_name")

    def __init__(self, task_id: str, input_name: str | None = None) -> None:
        self.task_id = task_id
        self.input_name = input_name

    def __repr__(self) -> str:
        return f"StreamingTask(task_id={self.task_id!r}, input_name={self.input_name!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not StreamingTask:
            return NotImplemented
        return (self.task_id, self.input_name) == (other.task_id, other.input_name)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def name_input(self, report: Report) -> Report:
        """Wrap `report` so that problems on stdin are named after the task's input."""
        input_name = self.input_name
        if not input_name:
            return report

        def named(problem: Problem) -> None:
            if getattr(problem, "name", None) == STDIN_NAME:
                problem.name = input_name
            report(problem)

        return named

    def counter_lines(self, counts: Counts) -> list[str]:
        """The streaming protocol's counter lines for a run's Counts."""
        return [
            f"reporter:counter:{COUNTER_GROUP},records_in,{counts.lines_read}",
            f"reporter:counter:{COUNTER_GROUP},records_out,{counts.records_written}",
            f"reporter:counter:{COUNTER_GROUP},bad_records,{counts.bad_records}",
        ]

    def report_counters(self, counts: Counts, stderr: TextIO | None = None) -> None:
        stderr = stderr or sys.stderr
        try:
            stderr.write("".join(line + "\n" for line in self.counter_lines(counts)))
            stderr.flush()
        except OSError:
            pass  # the task is going away; its output already holds the records


def streaming_task(environ: Mapping[str, str] | None = None) -> StreamingTask | None:
    """The StreamingTask if this process is a Hadoop Streaming task, else None."""
    environ = os.environ if environ is None else environ
    task_id = _first(environ, TASK_ID_VARS)
    if task_id is None:
        return None
    name = _first(environ, INPUT_FILE_VARS)
    start = _first(environ, INPUT_START_VARS)
    if name and start and start != "0":
        # A split that starts inside the file: line numbers count from the
        # split's first whole line, so say where that is.
        name = f"{name} (split from byte {start})"
    return StreamingTask(task_id, name)

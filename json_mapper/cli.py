"""The `jsonfilter` command: options in, exit status out.

All filtering happens in `stream.filter_stream`; this module only parses the
command line, turns problems into one-line messages and picks the exit status.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import re
import signal
import sys

from . import __version__, hadoop
from .inputs import STDIN, STDIN_NAME, InputError, would_overwrite
from .listing import NOT_RECURSIVE, inputs, inside, listed_paths
from .output import LineBlockWriter
from .record import FIELDS, MISSING_MODES, SUM_FIELD, THRESHOLD, BadRecord, Spec
from .stream import ON_ERROR_MODES, Counts, WorkerDied, filter_stream

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from types import FrameType
    from typing import Any, BinaryIO, NoReturn

    from .inputs import Listed
    from .stream import OnError, Problem, Report

PROG = "jsonfilter"

# Exit statuses: the contract documented in README.md.
EXIT_OK = 0
EXIT_BAD_RECORDS = 1
EXIT_TROUBLE = 2
EXIT_PIPE_CLOSED = 128 + signal.SIGPIPE
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM

# Output goes to the file descriptor itself, past Python's buffered sys.stdout.
STDOUT_FD = 1

# In warn mode, this many bad records are described unless --max-messages
# says otherwise; the rest are only counted.
MAX_MESSAGES = 10
# A record nests at most this deep (RFC 8259 sets no limit; orjson's, and the
# documented one), so a longer path of keys could never reach a number.
MAX_PATH_KEYS = 1024

# The examples and exit statuses end --help and make the man page's sections
# of those names (json_mapper/manpage.py), so the two never disagree.
EXAMPLES = [
    "cat data/* | jsonfilter > selected.json",
    "jsonfilter -t 1.5 -f index,total --stats data/*.json.gz",
    "jsonfilter -f index -f total data/*.json",
    "find data -type f | parallel 'jsonfilter < {}'",
    "jsonfilter -j 0 --progress data/*.json > selected.json",
    "jsonfilter -c -r logs/",
    "find logs -name '*.json.gz' -print0 | jsonfilter --files0-from - -j 0 -m 10",
]
EXIT_STATUSES = [
    (EXIT_OK, "all went well (bad records under --on-error skip included)"),
    (EXIT_BAD_RECORDS, "bad records were reported (--on-error warn)"),
    (EXIT_TROUBLE, "trouble: a usage error, an unreadable input, a stop under --on-error fail, "
                   "an output that cannot be written, or a -j worker process that died"),
    (EXIT_INTERRUPTED, "interrupted by Ctrl-C (SIGINT)"),
    (EXIT_PIPE_CLOSED, "the output pipe was closed early (SIGPIPE)"),
    (EXIT_TERMINATED, "ended by SIGTERM"),
]


def _epilog() -> str:
    import textwrap  # function-level: saves start-up, only --help needs it

    examples = "".join(f"  {example}\n" for example in EXAMPLES)
    statuses = "".join(textwrap.fill(meaning, 79, initial_indent=f"  {status:<5}",
                                     subsequent_indent=" " * 7) + "\n"
                       for status, meaning in EXIT_STATUSES)
    return f"examples:\n{examples}\nexit statuses:\n{statuses}"


# A number as JSON or C's strtod (in the C locale) writes it, ASCII digits
# only: float() alone would also take "1_000", " 1.5 ", non-ASCII digits,
# "nan" and "inf". Patterns, not compiled here: `re` compiles (and caches)
# them on first use, so a run that needs none of them does not pay for it.
NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
NOT_FINITE = r"[-+]?(?:nan|inf|infinity)"
NEGATIVE_NUMBER = r"-(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # Any: argparse.ArgumentParser's own
        super().__init__(*args, **kwargs)
        # argparse takes "-1e5" for an option, as its own pattern for negative
        # numbers has no exponent; with this one, `-t -1e5` reads as `-t=-1e5`.
        self._negative_number_matcher = re.compile(NEGATIVE_NUMBER)

    # The terminal's width, asked for only when help or usage is shown.
    _width = 80

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter to check each add_argument, and its own
        # asks shutil for the terminal's width, so shutil (which imports bz2
        # and lzma) would load at every start; only help text needs the width.
        return self.formatter_class(prog=self.prog, width=self._width)  # type: ignore[call-arg]  # every HelpFormatter takes it

    def _terminal_width(self) -> None:
        import shutil  # function-level: saves start-up, only help and usage need it

        # As argparse's own formatter takes it.
        self._width = shutil.get_terminal_size().columns - 2

    def format_usage(self) -> str:
        self._terminal_width()
        return super().format_usage()

    def format_help(self) -> str:
        self._terminal_width()
        # The epilog is made only when help is shown: it needs textwrap.
        if self.epilog is None:
            self.epilog = _epilog()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        # One line, like every other message of this program.
        self.exit(EXIT_TROUBLE, f"{PROG}: {message} (see '{PROG} --help')\n")


def _finite_number(text: str) -> float:
    if not re.fullmatch(NUMBER, text):
        if re.fullmatch(NOT_FINITE, text, re.IGNORECASE):
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _field_list(text: str) -> tuple[str, ...]:
    fields = tuple(text.split(","))
    if not all(fields):
        raise argparse.ArgumentTypeError(f"empty field name in {text!r}")
    return fields


def _name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("the sum field needs a name")
    return text


def _jobs(text: str) -> int:
    # Plain digits: int() would also take "+2", " 2", "2_0" and non-ASCII digits.
    if not re.fullmatch(r"[0-9]+", text):
        raise argparse.ArgumentTypeError(f"not a number of processes: {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise argparse.ArgumentTypeError(f"not a count: {text!r}")
    return int(text)


def build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Keep the JSON Lines records whose numeric fields add up to more "
        "than a threshold, and append the sum to each.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="input files, read in order (default, or '-': stdin; with -r, the "
                        "working folder); gzip, bzip2, xz and zstd are read transparently")
    parser.add_argument("-t", "--threshold", type=_finite_number, default=THRESHOLD, metavar="NUM",
                        help=f"keep records whose sum is greater than NUM (default {THRESHOLD})")
    # Repeated -f options add up; the default is applied in main, only when none is given.
    parser.add_argument("-f", "--fields", type=_field_list, action="append", metavar="A,B,...",
                        help="fields to add up: each a path of keys, http.latency_ms, or a JSON "
                        f"Pointer, /a.b/c; repeat to add more (default {','.join(FIELDS)})")
    parser.add_argument("-v", "--invert-match", action="store_true",
                        help="select the other good records: those whose sum is not greater than "
                        "the threshold, with the sum appended; bad records stay bad")
    parser.add_argument("-s", "--sum-field", type=_name, default=SUM_FIELD, metavar="NAME",
                        help=f"name of the field that receives the sum (default {SUM_FIELD})")
    parser.add_argument("--missing", choices=MISSING_MODES, default="bad",
                        help="a record whose summed field is absent or null: bad (a bad record), "
                        "skip (not selected, counted in --stats) or zero (the field counts as 0); "
                        "default bad")
    parser.add_argument("--on-error", choices=ON_ERROR_MODES, default="warn",
                        help="bad records: warn (report, go on, exit 1), skip (silently, "
                        "exit 0) or fail (stop, exit 2); default warn")
    parser.add_argument("--rejects", metavar="FILE",
                        help="write every bad record's line, as read, to FILE (created or truncated; "
                        "never an input or the output)")
    parser.add_argument("--max-messages", type=_count, default=MAX_MESSAGES, metavar="N",
                        help=f"describe at most N bad records on stderr (0: none; default {MAX_MESSAGES})")
    parser.add_argument("-c", "--count", action="store_true",
                        help="write only the number of selected records: with several inputs, "
                        "the total, as they are one stream (messages, --rejects and the exit "
                        "status as without -c)")
    parser.add_argument("-m", "--max-count", type=_count, metavar="NUM",
                        help="stop after NUM selected records, over all inputs, and read no further "
                        "(the exit status as for what was read)")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="read a folder among the inputs as every regular file under it, each "
                        "folder's entries in byte order of their names; symbolic links inside are "
                        "not followed")
    parser.add_argument("-R", "--dereference-recursive", action="store_true",
                        help="as -r, following every symbolic link")
    parser.add_argument("--files-from", action="append", metavar="FILE",
                        help="read the names of the inputs from FILE, one a line ('-': stdin), as "
                        "the run goes; they come after any FILE operands")
    parser.add_argument("--files0-from", action="append", metavar="FILE",
                        help="as --files-from, each name ended by a NUL byte (find -print0)")
    parser.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N",
                        help="filter in N processes, output still in input order "
                        "(0: one per CPU; default 1)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress line on stderr (default: only on a terminal, "
                        "once a run has lasted a second)")
    parser.add_argument("--stats", action="store_true",
                        help="print a summary on stderr at the end")
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    return parser


class Reporter:
    """Turns the library's problems into messages on stderr; the run's Counts count the problems."""

    def __init__(self, on_error: OnError, max_messages: int = MAX_MESSAGES) -> None:
        self.on_error = on_error
        self.max_messages = max_messages
        self.messages = 0  # bad records described

    def __call__(self, problem: Problem) -> None:
        if isinstance(problem, InputError):
            say(f"{problem.name}: {problem.message}")
            return
        if self.messages < self.max_messages or self.on_error == "fail":
            self.messages += 1
            say(f"{problem.name}:{problem.lineno}: {problem.reason}")

    def finish(self, bad_records: int) -> None:
        """The last line: how many bad records there were, when some were not described."""
        hidden = bad_records - self.messages
        if hidden > 0 and self.on_error != "skip":
            say(f"{bad_records} bad records in all ({hidden} not shown)")


def say(message: str) -> None:
    if sys.stderr is None:  # fd 2 was closed before we started
        return
    try:
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.stderr.flush()
    except OSError:
        pass  # nowhere left to complain to


def _raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(EXIT_TERMINATED)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        fields = sum(args.fields, ()) if args.fields else FIELDS
        spec = Spec(threshold=args.threshold, fields=fields, sum_field=args.sum_field,
                    missing=args.missing, invert=args.invert_match)
        for name, path in zip(spec.fields, spec.paths):
            if len(path) > MAX_PATH_KEYS:
                raise ValueError(f"field {name[:40]}...: a path of {len(path)} keys, but records "
                                 f"nest at most {MAX_PATH_KEYS} levels deep")
    except ValueError as err:
        parser.error(str(err))
    refusal = _refused(args)
    if refusal:
        parser.error(refusal)
    try:
        file_list = _open_file_list(args)
    except OSError as err:
        option = "--files-from" if args.files_from else "--files0-from"
        say(f"{option} {(args.files_from or args.files0_from)[0]}: {err.strerror or err}")
        return EXIT_TROUBLE
    reporter = Reporter(args.on_error, args.max_messages)
    task = hadoop.streaming_task()  # None unless run as a Hadoop Streaming mapper
    report = task.name_input(reporter) if task else reporter
    counts = Counts()
    status = EXIT_OK
    if sys.stdout is None:  # fd 1 was closed before we started
        say(f"write error: {os.strerror(errno.EBADF)}")
        return EXIT_TROUBLE
    rejects: BinaryIO | None = None
    if args.rejects is not None:
        # Before any input is read: a run that cannot keep its rejects does not start,
        # nor one that would truncate an input, or its own output, to keep them.
        clash = would_overwrite(args.rejects, args.files, sys.stdout)
        if not clash and (args.recursive or args.dereference_recursive) and inside(args.rejects, args.files or ["."]):
            clash = "an input (it is in a folder read with -r)"
        if clash:
            say(f"--rejects {args.rejects}: it is also {clash}")
            return EXIT_TROUBLE
        try:
            rejects = open(args.rejects, "wb")  # noqa: SIM115 (closed by the `with` below)
        except OSError as err:
            say(f"--rejects {args.rejects}: {err.strerror or err}")
            return EXIT_TROUBLE
    try:
        try:
            # Closed (its last lines written) however the run ends; a failure to
            # write them is a write error like any other.
            with rejects or contextlib.nullcontext():
                _filter(args, spec, report, counts, rejects, file_list)
        except BadRecord as err:  # on_error == "fail"
            report(err)
            status = EXIT_TROUBLE
        if args.count:
            # What was selected, up to a stop under --on-error fail too: it is this run's output.
            LineBlockWriter(STDOUT_FD).write(f"{counts.records_written}\n".encode())
    except WorkerDied as err:
        say(str(err))
        return EXIT_TROUBLE
    except BrokenPipeError:
        # The reader has gone (`| head`): stop at once and quietly, as cat does.
        return EXIT_PIPE_CLOSED
    except OSError as err:
        say(f"write error: {err.strerror or err}")
        return EXIT_TROUBLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    reporter.finish(counts.bad_records)
    if task:
        task.report_counters(counts)
    if args.stats:
        # Every line read is counted once: written, bad, blank, not selected
        # (or skipped: shown only where records can be skipped).
        skipped = f"{counts.skipped} skipped, " if args.missing == "skip" else ""
        say(f"{counts.lines_read} lines read, {counts.records_written} records written, {skipped}"
            f"{counts.bad_records} bad records, {counts.blank} blank, {counts.not_selected} not selected, "
            f"{counts.seconds:.2f} s, {counts.mb_per_s:.1f} MB/s")
    if counts.unreadable_inputs:
        status = EXIT_TROUBLE
    elif counts.bad_records and args.on_error == "warn":
        status = EXIT_BAD_RECORDS
    return status


def _refused(args: argparse.Namespace) -> str:
    """Why these options cannot run together ("" when they can): each a usage error."""
    lists = (args.files_from or []) + (args.files0_from or [])
    if len(lists) > 1:
        return "one file list at most: --files-from or --files0-from, once"
    if lists and lists[0] == STDIN and STDIN in args.files:
        return "stdin cannot be both the file list and an input"
    if lists and args.rejects is not None:
        # The listed files come as the run goes, after FILE has been truncated.
        return "--rejects cannot be used with a file list, whose files cannot be checked before it is truncated"
    if not (args.recursive or args.dereference_recursive):
        for name in args.files:
            if name != STDIN and os.path.isdir(name):
                return f"{name}: {NOT_RECURSIVE}"
    return ""


def _open_file_list(args: argparse.Namespace) -> Iterator[bytes | InputError] | None:
    """The paths of --files-from or --files0-from, read as the run goes; None without either.

    Raises OSError if the list cannot be opened: before any input is read.
    """
    if args.files_from or args.files0_from:
        name, separator = (args.files_from[0], b"\n") if args.files_from else (args.files0_from[0], b"\0")
        if name == STDIN:
            if sys.stdin is None:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            # Nothing of stdin is read yet: its descriptor, read a block at a time as it comes.
            return listed_paths(open(sys.stdin.fileno(), "rb", closefd=False), STDIN_NAME, separator)
        # Left open for the run, which ends with os._exit.
        return listed_paths(open(name, "rb"), name, separator)
    return None


class _Discard:
    """The output of a -c run: the records are counted, not written; stdout is still the output."""

    def write(self, data: bytes | memoryview) -> int:
        return len(data)

    def fileno(self) -> int:
        return STDOUT_FD  # so that an input that is the output is still refused


def _filter(args: argparse.Namespace, spec: Spec, report: Report, counts: Counts,
            rejects: BinaryIO | None = None, file_list: Iterable[bytes | InputError] | None = None) -> Counts:
    """Run the filter as the options say: in one or more processes, with or without progress."""
    run_filter = filter_stream
    options = {"spec": spec, "on_error": args.on_error, "counts": counts, "rejects": rejects,
               "max_messages": args.max_messages, "max_count": args.max_count}
    _keep_freed_memory()
    if args.jobs != 1:
        from .parallel import filter_parallel as run_filter  # saves start-up: only -j needs its pools

        options["jobs"] = args.jobs
    out = _Discard() if args.count else LineBlockWriter(STDOUT_FD)
    recursive = args.recursive or args.dereference_recursive
    sources: list[str] | Iterator[Listed] = args.files
    if recursive or file_list is not None:
        # With -r and no FILE, the working folder ("": its files named without "./"), as grep -r.
        operands = args.files or ([""] if recursive and file_list is None else [])
        sources = inputs(operands, recursive, args.dereference_recursive, file_list or ())
    # With stderr closed (sys.stderr is None) there is nowhere to draw the line.
    shown = sys.stderr is not None and (args.progress or (args.progress is None and sys.stderr.isatty()))
    if not shown:
        return run_filter(sources, out, report=report, **options)
    from .progress import progress_line  # saves start-up: only a shown line needs tqdm

    # The size of inputs that come as the run goes is not known: no ETA for them.
    with progress_line(sources if isinstance(sources, list) else None, report, asked=args.progress) as (
            progress, shown_report):
        return run_filter(sources, out, report=shown_report, progress=progress, **options)


# Freed memory a run keeps for reuse: a few chunks and their outputs, which
# otherwise go back to the kernel and are faulted in again for every chunk.
KEPT_MEMORY = 16 << 20


def _keep_freed_memory() -> None:
    try:
        from . import _scan  # function-level: an optional extension (0.1 ms; no start-up cost to speak of)
    except ImportError:  # not built: the run is slower, not different
        return
    _scan.keep_freed_memory(KEPT_MEMORY)


def run() -> NoReturn:
    """Console-script entry point: `main` with signals set up and no traceback, ever."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        status = main()
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except MemoryError:
        say("out of memory")
        status = EXIT_TROUBLE
    except Exception as err:  # a bug: still one line, and a status that says trouble
        say(_internal_error(err))
        status = EXIT_TROUBLE
    # The output is written (straight to its descriptor), files are closed and
    # workers reaped: the interpreter's teardown, which frees every object and
    # module one by one, would only add its milliseconds to every run.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    os._exit(status)


def _internal_error(err: BaseException) -> str:
    """The one line for a bug, naming where it was raised; the traceback too under JSONFILTER_DEBUG=1."""
    import traceback  # function-level: saves start-up, only a bug needs it

    frame = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    where = f" (at {os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    if os.environ.get("JSONFILTER_DEBUG") == "1":
        say("".join(traceback.format_exception(type(err), err, err.__traceback__)).rstrip("\n"))
    return f"internal error: {type(err).__name__}: {err}{where}"


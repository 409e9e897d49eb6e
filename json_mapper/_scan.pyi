"""Types of the native line scanner (json_mapper/_scan.c), an optional extension."""
from collections.abc import Callable

from typing_extensions import Buffer

def emit(
    chunk: Buffer,
    paths: tuple[tuple[bytes, ...], ...],
    threshold: float,
    sum_key: bytes,
    decide: Callable[[bytes], bytes | None],
    invert: bool = False,
    into: Buffer | None = None,
    /,
) -> tuple[int, int, bytes | int, int] | None:
    """(lines, selected, output, blank) for a chunk of whole lines, or None if it cannot vouch for it.

    `output` holds each selected line's output followed by b"\\n", byte for byte
    what record.filter_record writes; `decide(line)` gives the output of each
    line the scanner cannot decide itself (bytes, or None), in line order, and
    an exception it raises propagates. `sum_key` is the sum field's name,
    JSON-quoted. More than 16 paths, or a path of more than 16 keys, give None;
    no path at all raises ValueError. `blank` counts the lines holding nothing
    but spaces, tabs and carriage returns (blank for filter_record). With
    `invert` (-v), the lines selected are those whose sum is not above
    `threshold`; `decide` must then answer as a Spec with invert=True does.
    With `into`, a writable buffer, the output is written at its start if it
    fits (nothing past its end), and `output` is then its length, an int; if
    it does not fit, `output` is bytes as without `into`, which may have been
    written to anywhere. Either way `into` holds nothing wanted past the output.
    """

def kernel(name: str = ..., /) -> str:
    """The kernel emit uses ("scalar", "sse42", "avx2" or "avx512"); given a name, use that one from now on.

    ValueError if this CPU cannot run it. The default is the widest of kernels()
    short of "avx512", or what JSONFILTER_SCANNER names when this CPU runs it.
    """

def kernels() -> tuple[str, ...]:
    """The kernels this CPU runs, narrowest ("scalar") first."""

def keep_freed_memory(size: int, /) -> bool:
    """Let this process keep up to `size` bytes of freed memory for reuse (glibc); False where it cannot."""

def _parse(text: Buffer, /) -> float:
    """float(orjson.loads(text)) for a JSON number, as the scanner converts it (tests only)."""

def _repr(x: float, /) -> str:
    """repr(x) for a finite float, as the scanner writes it (tests only)."""

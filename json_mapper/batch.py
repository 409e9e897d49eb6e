"""The fast path: decide a whole chunk of lines at once.

What it writes is exactly what the per-record path writes, only sooner.
There are two ways, tried in turn:

1. The native scanner (`_scan.c`, built at install where there is a C
   compiler) reads every line once, in C, and writes the output of the lines
   it decides; the others (a summed field missing, null or not a plain
   number...) it hands to filter_record, in order. It vouches only for lines
   orjson certainly reads the same way, and returns None for a chunk holding
   anything else. Nothing else is imported for it: a run the scanner decides
   alone needs neither orjson nor msgspec.
2. msgspec decodes only the fields being added up (one C call per line, no
   Python objects for the rest of the record; a nested field is decoded
   through nested Structs, one per object on its path), and only the lines
   it picks go through filter_record. With --missing skip or zero, a last
   decoder lets those fields be absent or null: such a field counts 0, or
   makes the sum a NaN, which marks a skipped record. msgspec is more
   lenient than orjson in a few places, so a chunk is decided this way only
   when nothing in it could be read differently:
   - with records that hold nothing but the summed fields, every byte is
     decoded, so there is nothing to screen;
   - with other fields, msgspec skips them without checking that their
     strings are UTF-8 or that their numbers fit a double (orjson rejects
     both), so such chunks must be valid UTF-8, hold no 3-digit exponent and
     no long run of digits, and no line that could nest deeper than orjson
     allows.
   Each line is decoded on its own, so a line holds exactly one value, as
   for orjson.

Anything else (a bad line, a blank line for msgspec, a sum that is not
finite, deep nesting, any error while decoding) sends the whole chunk
through `chunk.filter_chunk`, which is always exact.
"""
from __future__ import annotations

import math

from .chunk import KEEP_BAD, ChunkResult, joined, parts, split_lines
from .chunk import filter_chunk as filter_chunk_per_record
from .inputs import CHUNK_SIZE
from .record import SKIPPED, BadRecord, Spec, filter_record

TYPE_CHECKING = False  # True only for a type checker: typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Union

    import msgspec
    from typing_extensions import Buffer, TypeAlias

    # The decoded records are instances of Struct types made at run time
    # (`_struct`), whose attributes are known only then: Any.
    Record: TypeAlias = Any
    # Records to their sums.
    Totals: TypeAlias = Callable[[list[Record]], list[float]]
    # (decoder, open, totals, nan_skips): see _stages.
    Stage: TypeAlias = tuple["msgspec.json.Decoder[Any]", bool, Totals, bool]
    # A tree of keys: None for a summed field, else the keys inside.
    Tree: TypeAlias = dict[str, Union["Tree", None]]

try:
    from . import _scan
except ImportError:  # built without a C compiler: msgspec alone
    _scan = None  # type: ignore[assignment]


def native() -> bool:
    """Whether the native scanner is there (then the fast path costs nothing to start)."""
    return _scan is not None

# After this, digits read 0, E reads e and - reads +: an overflowing number
# then shows one of these patterns (a double tops out near 1e308, and 99
# digits before and after the point with an exponent below 100 cannot reach it).
_NUMBER_SHAPES = bytes.maketrans(b"0123456789E-", b"0000000000e+")
_OVERFLOW_PATTERNS = (b"e000", b"e+000", b"0" * 100)

MAX_BRACKETS = 1000

# Whatever msgspec raises on a line it cannot decode: DecodeError (and
# ValidationError), UnicodeDecodeError for a key that is not UTF-8, other
# ValueErrors, and RecursionError for deep nesting. Any of them only means
# "this chunk goes through the per-record path".
_DECODE_ERRORS = (ValueError, RecursionError)
_NEG_INF = -math.inf
# msgspec builds and decodes nested Structs by recursion, and Python's
# recursion limit (1000) is below the 1024 levels a record may nest: a path
# deeper than this takes the per-record path, which has no such limit.
DECODER_MAX_PATH = 256
_INF = math.inf


class BatchFilter:
    """`filter_chunk` for one Spec: `BatchFilter(spec)(chunk)` gives the same ChunkResult.

    `native=False` leaves the native scanner out (the tests compare the two ways).
    """

    def __init__(self, spec: Spec, native: bool = True) -> None:
        self.spec = spec
        self._native = native and _scan is not None
        self._paths = tuple(tuple(key.encode("utf-8") for key in path) for path in spec.paths)
        self._stage = 0  # the first of self._stages to try: the one that worked last
        self._stages: list[Stage] = []
        self._usable: bool | None = None  # known once msgspec is loaded, the first time it is needed

    @property
    def usable(self) -> bool:
        """Whether msgspec can decode these fields (loading it, and building its decoders, once)."""
        if self._usable is None:
            try:
                if max(map(len, self.spec.paths)) > DECODER_MAX_PATH:
                    raise ValueError("a path too deep for msgspec")
                self._stages = _stages(self.spec)
            except ValueError:
                # A name msgspec cannot match (a quote, a backslash, a control
                # character), a key that one path ends at and another goes
                # through, or a path deeper than DECODER_MAX_PATH: every chunk
                # takes the per-record path.
                self._usable = False
            else:
                self._usable = True
        return self._usable

    def __call__(self, chunk: Buffer, keep: int = KEEP_BAD, into: memoryview | None = None) -> ChunkResult:
        """The ChunkResult of `chunk`, keeping its first `keep` bad lines.

        With `into` (writable), the native scanner writes the output there
        when it fits: the result's output is then a memoryview of `into`'s
        first bytes, and bytes otherwise (`into` may then have been written to).
        """
        result = self._scanned(chunk, into)
        if result is not None:
            return result
        # A part at a time, each by msgspec or else per record: the lines of
        # a large piece of -j (a memoryview of its ring) stay few in memory.
        return joined([self._decoded(part) or filter_chunk_per_record(part, self.spec, keep)
                       for part in parts(bytes(chunk), CHUNK_SIZE)], keep)

    def fast(self, chunk: Buffer) -> ChunkResult | None:
        """The ChunkResult, or None when this chunk needs the per-record path."""
        result = self._scanned(chunk)
        return result if result is not None else self._decoded(bytes(chunk))

    def _scanned(self, chunk: Buffer, into: memoryview | None = None) -> ChunkResult | None:
        """The ChunkResult by the native scanner, or None (see __call__ for `into`)."""
        if not self._native:
            return None
        spec = self.spec
        skipped = 0

        def decide(line: bytes) -> bytes | None:
            # A line the scanner leaves to filter_record; a bad one raises
            # BadRecord out of emit, and the chunk goes per record.
            nonlocal skipped
            out = filter_record(line, spec)
            if out is SKIPPED:
                skipped += 1
                return None
            return out

        try:
            found = _scan.emit(chunk, self._paths, spec.threshold, spec.sum_key, decide, spec.invert, into)
        except BadRecord:
            return None
        if found is None:
            return None
        lines, selected, output, blank = found
        if isinstance(output, int):  # written into `into`, this long
            assert into is not None
            # A view where bytes are declared: read as bytes are (len, write, join), as in _Pool.receive.
            return ChunkResult(lines, into[:output], selected, [], 0, skipped, blank)  # type: ignore[arg-type]
        return ChunkResult(lines, output, selected, [], 0, skipped, blank)

    def _decoded(self, chunk: bytes) -> ChunkResult | None:
        """The ChunkResult by msgspec, or None."""
        if not self.usable:
            return None
        lines = split_lines(chunk)
        screened = None
        for stage in range(self._stage, len(self._stages)):
            decoder, open_, totals, nan_skips = self._stages[stage]
            if open_ and screened is None:
                screened = _screened(chunk, lines)
            if open_ and not screened:
                return None
            records = _decode_each(decoder, lines)
            if records is not None:
                self._stage = stage
                break
        else:
            return None
        decided = self._select(lines, totals(records), nan_skips)
        # No blank line: msgspec decodes none, and its chunk goes per record.
        return None if decided is None else ChunkResult(len(lines), *decided[:2], [], 0, decided[2])

    def _select(self, lines: list[bytes], totals: list[float], nan_skips: bool = False
                ) -> tuple[bytes, int, int] | None:
        """(output, number of lines, number skipped) of the selected records, or None if one is bad.

        With `nan_skips`, a NaN sum is a record --missing skip passes over.
        """
        threshold = self.spec.threshold
        if self.spec.invert:
            return self._select_inverted(lines, totals)
        # The common case, decided in C: every sum finite (a NaN or an
        # infinity makes the plain sum of sums not finite) and none selected.
        if not totals or (max(totals) <= threshold and math.isfinite(sum(totals))):
            return b"", 0, 0
        skipped = 0
        if nan_skips:
            # Only a missing field makes a NaN here: this decoder's chunks are
            # screened, so every number is finite, and adding finite numbers
            # left to right may reach an infinity but never a NaN.
            skipped = sum(total != total for total in totals)
            if skipped:
                totals = [threshold if total != total else total for total in totals]  # not picked
        # Not (finite and at most the threshold): selected, or a sum that is
        # not finite, which filter_record turns into a bad record.
        picked = [lines[i] for i, total in enumerate(totals) if not _NEG_INF < total <= threshold]
        decided = _exact(picked, self.spec)
        return None if decided is None else (decided[0], decided[1], decided[2] + skipped)

    def _select_inverted(self, lines: list[bytes], totals: list[float]) -> tuple[bytes, int, int] | None:
        """`_select` under -v: the lines whose sum is not above the threshold go to filter_record.

        So do those whose sum is not finite (a bad record) and, with `nan_skips`,
        the NaNs of skipped records: filter_record counts them as skipped.
        """
        threshold = self.spec.threshold
        # None selected: every sum above the threshold, and finite.
        if not totals or (min(totals) > threshold and math.isfinite(sum(totals))):
            return b"", 0, 0
        picked = [lines[i] for i, total in enumerate(totals) if not threshold < total < _INF]
        return _exact(picked, self.spec)


def _stages(spec: Spec) -> list[Stage]:
    """The ways msgspec may decode a chunk, tried in turn: (decoder, open, totals, nan_skips).

    An open decoder skips the fields not summed, so its chunk must be screened
    first. The last way, only for --missing skip and zero, lets the summed
    fields and the objects on their paths be absent or null; with skip, such
    a record's sum is a NaN (`nan_skips`).
    """
    tree = _tree(spec.paths)
    chains = [".".join(_chain(tree, path)) for path in spec.paths]
    strict_totals = _totals(chains)
    stages = [(_decoder(tree, closed=True), False, strict_totals, False),
              (_decoder(tree, closed=False), True, strict_totals, False)]
    if spec.missing != "bad":
        skip = spec.missing == "skip"
        absent = math.nan if skip else 0.0
        stages.append((_decoder(tree, closed=False, absent=absent), True,
                       _lenient_totals(chains, absent), skip))
    return stages


def _tree(paths: tuple[tuple[str, ...], ...]) -> Tree:
    """The paths as nested dicts, {key: None for a summed field, or the dict of the keys inside}."""
    tree: Tree = {}
    for path in paths:
        node = tree
        for key in path[:-1]:
            inner = node.setdefault(key, {})
            if inner is None:
                raise ValueError(f"{key!r} is both summed and a path to a summed field")
            node = inner
        if node.setdefault(path[-1], None) is not None:
            raise ValueError(f"{path[-1]!r} is both summed and a path to a summed field")
    return tree


def _chain(tree: Tree, path: tuple[str, ...]) -> list[str]:
    """The attribute names of `path` in the structs `_decoder` makes of `tree`."""
    chain = []
    node: Tree | None = tree
    for key in path:
        assert node is not None  # only a path's last key is a summed field
        chain.append(f"f{list(node).index(key)}")
        node = node[key]
    return chain


def _decoder(tree: Tree, closed: bool, absent: float | None = None) -> msgspec.json.Decoder[Any]:
    import msgspec  # function-level: saves start-up, only chunks the scanner leaves need it

    return msgspec.json.Decoder(_struct(tree, closed, absent))


def _struct(tree: Tree, closed: bool, absent: float | None = None) -> type[msgspec.Struct]:
    """A msgspec Struct type decoding the keys of `tree`, nested ones as nested Structs.

    Attribute names are generated (any string may be a JSON field name);
    `rename` maps them back to the keys in the data. Closed structs forbid
    other keys, so that a chunk they decode has had every byte checked.
    Unless `absent` is None, every key may be absent (a summed field then
    holds `absent`) or null (None).
    """
    from typing import Optional  # function-level: saves start-up, as msgspec below

    import msgspec  # function-level: saves start-up, only chunks the scanner leaves need it

    # Innermost first, without recursion: a path may be as deep as records nest (1024 levels).
    order: list[Tree] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(inner for inner in node.values() if inner is not None)
    made: dict[int, type[msgspec.Struct]] = {}  # id of a tree node: its Struct
    for node in reversed(order):
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        rename = {}
        kind: type[float | msgspec.Struct]
        default: object
        for i, (key, inner) in enumerate(node.items()):
            rename[f"f{i}"] = key
            if inner is None:
                kind, default = float, absent
            else:
                kind = made[id(inner)]
                default = msgspec.field(default_factory=kind)
            fields.append((f"f{i}", kind) if absent is None else (f"f{i}", Optional[kind], default))
        # gc=False: records holding only floats need no cycle collection, and a
        # million of them would otherwise set it off again and again.
        made[id(node)] = msgspec.defstruct("Fields", fields, rename=rename, forbid_unknown_fields=closed, gc=False)
    return made[id(tree)]


def _exact(candidates: list[bytes], spec: Spec) -> tuple[bytes, int, int] | None:
    """(output, number of lines, number skipped) of the candidates, by filter_record; None if one is bad."""
    selected = []
    skipped = 0
    for line in candidates:
        try:
            out = filter_record(line, spec)
        except BadRecord:
            return None
        if out is not None:
            if out is SKIPPED:
                skipped += 1
            else:
                selected.append(out)
    return (b"\n".join(selected) + b"\n" if selected else b""), len(selected), skipped


def _decode_each(decoder: msgspec.json.Decoder[Any], lines: list[bytes]) -> list[Record] | None:
    """Each line decoded on its own (so it holds exactly one value), or None on any error."""
    try:
        return list(map(decoder.decode, lines))
    except _DECODE_ERRORS:  # ValidationError is a DecodeError
        return None


def _totals(chains: Sequence[str]) -> Totals:
    """A function from records to their sums, added left to right as filter_record adds.

    `chains` are the attribute paths of the summed fields ("f0.f1": record.f0.f1).
    They are made here, never taken from the data, so the loop can be written
    out as code: a comprehension of plain attribute reads is the fastest loop
    there is, several times faster than calling getters.
    """
    return eval(f"lambda records: [{_sum_of(chains)} for record in records]")  # type: ignore[no-any-return]


def _adder(chains: Sequence[str]) -> Callable[[Record], float | None]:
    """A function giving one record's sum."""
    return eval(f"lambda record: {_sum_of(chains)}")  # type: ignore[no-any-return]


def _sum_of(chains: Sequence[str]) -> str:
    return " + ".join(f"record.{chain}" for chain in chains)


def _lenient_totals(chains: Sequence[str], absent: float) -> Totals:
    """As `_totals`, for Structs whose summed fields may hold `absent`, or None on a null."""
    plain = _totals(chains)
    add_plain = _adder(chains)
    attributes = [chain.split(".") for chain in chains]

    def add_nulls(record: Record) -> float:
        total: float | None = None
        for chain in attributes:
            value = record
            for attr in chain:
                value = getattr(value, attr)
                if value is None:  # a null on the path
                    value = absent
                    break
            total = value if total is None else total + value
        assert total is not None  # there is at least one chain
        return total

    def add(record: Record) -> float:
        # None + a number raises, and so does None.f0; with one field, the
        # None itself comes out.
        try:
            total = add_plain(record)
        except (TypeError, AttributeError):
            return add_nulls(record)
        return add_nulls(record) if total is None else total

    def totals(records: list[Record]) -> list[float]:
        found: list[float] | None
        try:  # as fast as `_totals` while no record holds a null
            found = plain(records)
        except (TypeError, AttributeError):
            found = None
        return list(map(add, records)) if found is None or None in found else found

    return totals


def _screened(chunk: bytes, lines: list[bytes]) -> bool:
    """Whether msgspec skipping unknown fields reads `chunk` as orjson would."""
    # msgspec's nesting limit is Python's recursion limit, which a program
    # may raise past orjson's 1024 levels; a line with fewer brackets than
    # this cannot nest that deep (nor a line shorter than twice this).
    if max(map(len, lines), default=0) >= 2 * MAX_BRACKETS:
        for line in lines:
            if len(line) >= 2 * MAX_BRACKETS and line.count(b"[") + line.count(b"{") > MAX_BRACKETS:
                return False
    if not chunk.isascii():
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return False
    shapes = chunk.translate(_NUMBER_SHAPES)
    return not any(pattern in shapes for pattern in _OVERFLOW_PATTERNS)

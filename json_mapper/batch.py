"""The fast path: decide a whole chunk of lines at once.

Only the lines picked here go through `filter_record`, so what is written is
exactly what the per-record path writes. There are two ways to pick them,
tried in turn:

1. The native scanner (`_scan.c`, built at install where there is a C
   compiler) reads every line once, in C, and returns the few that may be
   selected. It vouches only for lines orjson certainly reads the same way,
   and returns None for a chunk holding anything else.
2. msgspec decodes only the fields being added up (one C call per line, no
   Python objects for the rest of the record). msgspec is more lenient than
   orjson in a few places, so a chunk is decided this way only when nothing
   in it could be read differently:
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
import math
import operator

import msgspec

from .chunk import KEEP_BAD, ChunkResult, joined, parts, split_lines
from .chunk import filter_chunk as filter_chunk_per_record
from .inputs import CHUNK_SIZE
from .record import BadRecord, filter_record

try:
    from . import _scan
except ImportError:  # built without a C compiler: msgspec alone
    _scan = None

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


class BatchFilter:
    """`filter_chunk` for one Spec: `BatchFilter(spec)(chunk)` gives the same ChunkResult.

    `native=False` leaves the native scanner out (the tests compare the two ways).
    """

    def __init__(self, spec, native=True):
        self.spec = spec
        self._native = native and _scan is not None
        self._keys = tuple(name.encode("utf-8") for name in spec.fields)
        # Attribute names are generated (any string may be a JSON field name);
        # `rename` maps them back to the names in the data.
        names = list(dict.fromkeys(spec.fields))
        attrs = {name: f"f{i}" for i, name in enumerate(names)}
        rename = {attr: name for name, attr in attrs.items()}
        fields = [(attr, float) for attr in attrs.values()]
        try:
            # gc=False: records holding only floats need no cycle collection,
            # and a million of them would otherwise set it off again and again.
            closed = msgspec.defstruct("Closed", fields, rename=rename, forbid_unknown_fields=True,
                                       gc=False)
            open_ = msgspec.defstruct("Open", fields, rename=rename, gc=False)
        except ValueError:
            # A name msgspec cannot match (a quote, a backslash, a control
            # character): every chunk takes the per-record path.
            self.usable = False
            return
        self.usable = True
        self._closed = msgspec.json.Decoder(closed)
        self._open = msgspec.json.Decoder(open_)
        order = [attrs[name] for name in spec.fields]
        if order == ["f0", "f1"]:  # the usual case, in one comprehension
            self._totals = _totals_of_two
        else:
            add = _adder(order)
            self._totals = lambda records: list(map(add, records))
        self._records_closed = True  # which decoder worked last

    def __call__(self, chunk, keep=KEEP_BAD):
        """The ChunkResult of `chunk`, keeping its first `keep` bad lines."""
        result = self._scanned(chunk)
        if result is not None:
            return result
        # A part at a time, each by msgspec or else per record: the lines of
        # a large piece of -j (a memoryview of its ring) stay few in memory.
        return joined([self._decoded(part) or filter_chunk_per_record(part, self.spec, keep)
                       for part in parts(bytes(chunk), CHUNK_SIZE)], keep)

    def fast(self, chunk):
        """The ChunkResult, or None when this chunk needs the per-record path."""
        result = self._scanned(chunk)
        return result if result is not None else self._decoded(bytes(chunk))

    def _scanned(self, chunk):
        """The ChunkResult by the native scanner, or None."""
        if not self._native:
            return None
        found = _scan.candidates(chunk, self._keys, self.spec.threshold)
        if found is None:
            return None
        lines, candidates = found
        selected = _exact(candidates, self.spec)
        if selected is None:
            return None
        # The scanner vouches for blank lines too; they are counted apart.
        return ChunkResult(lines, *selected, [], 0, _scan.blank_lines(chunk))

    def _decoded(self, chunk):
        """The ChunkResult by msgspec, or None."""
        if not self.usable:
            return None
        lines = split_lines(chunk)
        records = None
        if self._records_closed:
            records = _decode_each(self._closed, lines)
        if records is None:
            if not _screened(chunk, lines):
                return None
            records = _decode_each(self._open, lines)
            if records is None:
                return None
            self._records_closed = False
        selected = self._select(lines, records)
        # No blank line: msgspec decodes none, and its chunk goes per record.
        return None if selected is None else ChunkResult(len(lines), *selected, [], 0)

    def _select(self, lines, records):
        """(output, number of lines) of the selected records, or None if a record is bad."""
        threshold = self.spec.threshold
        totals = self._totals(records)
        # The common case, decided in C: every sum finite (a NaN or an
        # infinity makes the plain sum of sums not finite) and none selected.
        if not totals or (max(totals) <= threshold and math.isfinite(sum(totals))):
            return b"", 0
        # Not (finite and at most the threshold): selected, or a sum that is
        # not finite, which filter_record turns into a bad record.
        return _exact([lines[i] for i, total in enumerate(totals) if not _NEG_INF < total <= threshold],
                      self.spec)


def _exact(candidates, spec):
    """(output, number of lines) of the candidates filter_record selects, or None if one is bad."""
    selected = []
    for line in candidates:
        try:
            out = filter_record(line, spec)
        except BadRecord:
            return None
        if out is not None:
            selected.append(out)
    return (b"\n".join(selected) + b"\n", len(selected)) if selected else (b"", 0)


def _decode_each(decoder, lines):
    """Each line decoded on its own (so it holds exactly one value), or None on any error."""
    try:
        return list(map(decoder.decode, lines))
    except _DECODE_ERRORS:  # ValidationError is a DecodeError
        return None


def _totals_of_two(records):
    return [record.f0 + record.f1 for record in records]


def _adder(attrs):
    """A function giving a record's sum, added left to right as filter_record adds."""
    if len(attrs) == 1:
        return operator.attrgetter(attrs[0])
    if len(attrs) == 2:
        first, second = map(operator.attrgetter, attrs)
        return lambda record: first(record) + second(record)
    values = operator.attrgetter(*attrs)

    def add(record):
        total, *rest = values(record)
        for value in rest:
            total += value
        return total

    return add


def _screened(chunk, lines):
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

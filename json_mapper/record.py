"""The core: one JSON Lines record in, its output line (or nothing, or a BadRecord) out.

Everything else in the package (streams, the command line, the engines) is a
shell around `filter_record`.
"""
import functools
import math
import re
from dataclasses import dataclass

import orjson

THRESHOLD = 1.99
FIELDS = ("index", "total")
SUM_FIELD = "sum_val"

# JSON's insignificant whitespace (RFC 8259, section 2); bytes.strip() would
# also remove \v and \f, which JSON does not allow.
JSON_WS = b" \t\r\n"


class BadRecord(ValueError):
    """A line that is not a good record.

    `reason` is the text the command line prints after FILE:LINE; `name` and
    `lineno` are filled in by the stream layer when the line came from an input.
    """

    def __init__(self, reason, name=None, lineno=None):
        super().__init__(reason)
        self.reason = reason
        self.name = name
        self.lineno = lineno


@dataclass(frozen=True)
class Spec:
    """What to select: records whose `fields` add up to more than `threshold`."""

    threshold: float = THRESHOLD
    fields: tuple = FIELDS
    sum_field: str = SUM_FIELD

    def __post_init__(self):
        threshold = float(self.threshold)
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number, not {self.threshold!r}")
        object.__setattr__(self, "threshold", threshold)
        fields = (self.fields,) if isinstance(self.fields, str) else tuple(self.fields)
        if not fields or not all(isinstance(f, str) and f for f in fields):
            raise ValueError("fields must be one or more non-empty names")
        object.__setattr__(self, "fields", fields)
        if not isinstance(self.sum_field, str) or not self.sum_field:
            raise ValueError("the sum field needs a non-empty name")
        # A name with a lone surrogate (what undecodable bytes in argv become)
        # can never be a JSON key, and orjson cannot even quote it in a message.
        for name in fields + (self.sum_field,):
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"field name {name!r} is not valid UTF-8") from None

    @functools.cached_property
    def sum_key(self):
        """The sum field's name as JSON text, ready to splice into a record."""
        return orjson.dumps(self.sum_field)


DEFAULT_SPEC = Spec()


def quoted(name):
    """A field name as it appears in messages: JSON-quoted, so odd names stay readable."""
    return orjson.dumps(name).decode()


_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               type(None): "null", int: "a number", float: "a number"}


def filter_record(record, spec=DEFAULT_SPEC):
    """Return the output line for one record (bytes, no newline), or None.

    None means the record is good but not selected, or the line is blank.
    Raises BadRecord if the line is not a good record. `record` is the line's
    bytes, with or without its line ending.
    """
    try:
        obj = orjson.loads(record)
    except orjson.JSONDecodeError as err:
        # Checked only on this slow path so that good records pay nothing for it.
        if not record.strip(JSON_WS):
            return None
        raise BadRecord(_why_invalid(record, err)) from None
    if type(obj) is not dict:
        raise BadRecord(f"not a JSON object but {_TYPE_NAMES[type(obj)]}")

    total = None
    for name in spec.fields:
        try:
            value = obj[name]
        except KeyError:
            raise BadRecord(f"missing field {quoted(name)}") from None
        # type() rather than isinstance(): bool is a subclass of int, and
        # true/false are not numbers here.
        if type(value) is float or type(value) is int:
            # Add in double precision, left to right, as the issue defines.
            total = float(value) if total is None else total + float(value)
        else:
            raise BadRecord(f"field {quoted(name)} is not a number")
    if not math.isfinite(total):
        raise BadRecord("sum is not finite")
    if not total > spec.threshold:
        return None
    return with_sum(record.strip(JSON_WS), obj, total, spec)


def _why_invalid(record, err):
    # orjson's own words for bad UTF-8 point at column 1 and speak of
    # surrogates; the byte offset is what helps someone fix the file.
    try:
        record.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {bad.start + 1}"
    return f"invalid JSON: {err.msg} (column {err.colno})"


def with_sum(text, obj, total, spec):
    """`text` (one valid JSON object) with the sum field set, every other byte kept.

    Splicing into the original text, rather than re-serialising `obj`, is what
    keeps big integers, decimal literals and string escapes exactly as they came.
    """
    number = repr(total).encode()
    if spec.sum_field not in obj:
        comma = b"," if obj else b""
        return text[:-1].rstrip(JSON_WS) + comma + spec.sum_key + b":" + number + b"}"
    # The key is already there: replace its value where it stands. Every
    # occurrence is replaced, so a reader that keeps the first duplicate key
    # sees the same sum as one that keeps the last.
    parts = []
    at = 0
    for key, start, end in top_level_members(text):
        if key == spec.sum_field:
            parts += [text[at:start], number]
            at = end
    parts.append(text[at:])
    return b"".join(parts)


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(rb"[^\s,}\]]+")
_BRACKET_OR_STRING = re.compile(rb'[\[\]{}"]')


def top_level_members(text):
    """Yield (key, value_start, value_end) for each member of a valid JSON object."""
    i = text.index(b"{") + 1
    n = len(text)
    while True:
        i = _skip_ws(text, i)
        if text[i:i + 1] == b"}":
            return
        key_match = _STRING.match(text, i)
        key = orjson.loads(key_match.group())
        i = _skip_ws(text, key_match.end())
        i = _skip_ws(text, i + 1)  # past the colon
        end = _value_end(text, i)
        yield key, i, end
        i = _skip_ws(text, end)
        if i < n and text[i:i + 1] == b",":
            i += 1


def _skip_ws(text, i):
    while text[i:i + 1] in (b" ", b"\t", b"\r", b"\n"):
        i += 1
    return i


def _value_end(text, i):
    first = text[i:i + 1]
    if first == b'"':
        return _STRING.match(text, i).end()
    if first not in (b"{", b"["):
        return _SCALAR.match(text, i).end()
    depth = 0
    while True:
        m = _BRACKET_OR_STRING.search(text, i)
        token = m.group()
        if token == b'"':
            i = _STRING.match(text, m.start()).end()
            continue
        i = m.end()
        depth += 1 if token in (b"{", b"[") else -1
        if depth == 0:
            return i


@functools.lru_cache(maxsize=64)
def _spec_for(th):
    return Spec(threshold=th)


def map_line(line, th=THRESHOLD):
    """Yield the output record (a str, no newline) if `line` is selected.

    The blog's mapper signature, so `rdd.flatMap(map_line)` and a Luigi task's
    `for out in map_line(line, th)` work unchanged. `line` may be str or bytes,
    with or without its newline; a blank line yields nothing. Raises BadRecord
    (a ValueError) if the line is not a good record.
    """
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")
    out = filter_record(line, _spec_for(th))
    if out is not None:
        yield out.decode("utf-8")

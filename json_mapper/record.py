"""The core: one JSON Lines record in, its output line (or nothing, or a BadRecord) out.

Everything else in the package (streams, the command line, the engines) is a
shell around `filter_record`.
"""
from __future__ import annotations

import enum
import functools
import math

# True only for a type checker: the typing module is never imported at run
# time, as it takes longer to load than a short run takes.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, Final, Literal

    from orjson import JSONDecodeError

    # What a record gets when a summed field is absent or null (Spec.missing).
    Missing = Literal["bad", "skip", "zero"]

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

    def __init__(self, reason: str, name: str | None = None, lineno: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.name = name
        self.lineno = lineno


MISSING_MODES: tuple[Missing, ...] = ("bad", "skip", "zero")


# What orjson.dumps writes for the characters a JSON string must escape:
# the short escapes where JSON has one, else \u00XX. Everything else,
# DEL, non-ASCII and U+2028 included, stands as it is.
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x20)}
_JSON_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\b"): "\\b", ord("\t"): "\\t",
                      ord("\n"): "\\n", ord("\f"): "\\f", ord("\r"): "\\r"})


def json_quoted(name: str) -> bytes:
    """`name` (a str of valid UTF-8) as JSON text: bytes, exactly what orjson.dumps(name) gives.

    Written here rather than asking orjson, whose import costs more than a
    short run takes.
    """
    return ('"' + name.translate(_JSON_ESCAPES) + '"').encode("utf-8")


class Spec:
    """What to select: records whose `fields` add up to more than `threshold`.

    Each field is a path of object keys: `http.latency_ms`, or a JSON Pointer
    (RFC 6901) when it starts with "/": `/a.b/c` is key "c" inside key "a.b".
    `paths` holds each field's keys, in the order of `fields`. `missing` says
    what a record gets when a summed field is absent or null: "bad" (a bad
    record), "skip" (not selected, counted apart: `filter_record` gives
    SKIPPED) or "zero" (the field counts as 0). The sum field is a top-level key.
    `invert` (-v) selects the other good records: those whose sum is not
    greater than `threshold` (bad and skipped records stay as they are).
    """

    # A plain class, not a dataclass: the command builds one at every start.
    __slots__ = ("threshold", "fields", "sum_field", "missing", "invert", "paths", "sum_key", "_steps")
    threshold: float
    fields: tuple[str, ...]
    sum_field: str
    missing: Missing
    invert: bool
    paths: tuple[tuple[str, ...], ...]
    sum_key: bytes
    # (field name, first key, the keys after it) for each field
    _steps: tuple[tuple[str, str, tuple[str, ...]], ...]

    def __init__(self, threshold: float = THRESHOLD, fields: str | Iterable[str] = FIELDS,
                 sum_field: str = SUM_FIELD, missing: Missing = "bad", invert: bool = False) -> None:
        value = float(threshold)
        if not math.isfinite(value):
            raise ValueError(f"threshold must be a finite number, not {threshold!r}")
        names = (fields,) if isinstance(fields, str) else tuple(fields)
        if not names or not all(isinstance(f, str) and f for f in names):
            raise ValueError("fields must be one or more non-empty names")
        if not isinstance(sum_field, str) or not sum_field:
            raise ValueError("the sum field needs a non-empty name")
        if missing not in MISSING_MODES:
            raise ValueError(f"missing must be one of {', '.join(MISSING_MODES)}, not {missing!r}")
        # A name with a lone surrogate (what undecodable bytes in argv become)
        # can never be a JSON key, and cannot even be quoted in a message.
        for name in names + (sum_field,):
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"field name {name!r} is not valid UTF-8") from None
        paths = tuple(map(field_path, names))
        setattr_ = object.__setattr__
        setattr_(self, "threshold", value)
        setattr_(self, "fields", names)
        setattr_(self, "sum_field", sum_field)
        setattr_(self, "missing", missing)
        setattr_(self, "invert", bool(invert))
        setattr_(self, "paths", paths)
        # The sum field's name as JSON text, ready to splice into a record.
        setattr_(self, "sum_key", json_quoted(sum_field))
        setattr_(self, "_steps", tuple((name, keys[0], keys[1:]) for name, keys in zip(names, paths)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Spec cannot be changed (its {name!r})")

    def _key(self) -> tuple[float, tuple[str, ...], str, Missing, bool]:
        return (self.threshold, self.fields, self.sum_field, self.missing, self.invert)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if type(other) is Spec else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[type[Spec], tuple[float, tuple[str, ...], str, Missing, bool]]:
        return (Spec, self._key())

    def __repr__(self) -> str:
        inverted = ", invert=True" if self.invert else ""
        return "Spec(threshold={!r}, fields={!r}, sum_field={!r}, missing={!r}".format(*self._key()) + inverted + ")"


def field_path(name: str) -> tuple[str, ...]:
    """The object keys that field name `name` reaches, outermost first.

    `a.b` is ("a", "b"); a name starting with "/" is a JSON Pointer (RFC 6901):
    "/" separates the keys, "~1" stands for "/" and "~0" for "~", so "/" alone
    is the key "" and "/a.b" the key "a.b". Pointer tokens are always keys,
    never array indexes.
    """
    if not name.startswith("/"):
        keys = tuple(name.split("."))
        if "" in keys:
            raise ValueError(f"field {quoted(name)}: a path of keys cannot hold an empty key "
                             f"(a JSON Pointer can: {_pointer(keys)})")
        return keys
    tokens = []
    for token in name[1:].split("/"):
        if "~" in token:
            # Each ~ followed by 0 or 1 (no regular expression: it would be
            # compiled at every start).
            if any(after[:1] not in ("0", "1") for after in token.split("~")[1:]):
                raise ValueError(f"field {quoted(name)}: in a JSON Pointer, ~ must be followed "
                                 "by 0 (for ~) or 1 (for /)")
            token = token.replace("~1", "/").replace("~0", "~")
        tokens.append(token)
    return tuple(tokens)


def _pointer(keys: Iterable[str]) -> str:
    return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in keys)


def _prefix(name: str, depth: int) -> str:
    """The first `depth` keys of field name `name`, written as the name writes them."""
    sep = "/" if name.startswith("/") else "."
    return sep.join(name.split(sep)[:depth + (sep == "/")])


class _Skipped(enum.Enum):
    # An enum of one, so that a type checker knows `out` is bytes or None
    # once `out is SKIPPED` is ruled out.
    SKIPPED = "SKIPPED"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "SKIPPED"

    __str__ = __repr__


# What filter_record gives for a record that --missing skip passes over: not
# selected, but counted apart from the records that are simply not selected.
SKIPPED: Final = _Skipped.SKIPPED
_ABSENT = object()  # a key not found on a path


DEFAULT_SPEC = Spec()


def quoted(name: str) -> str:
    """A field name as it appears in messages: JSON-quoted, so odd names stay readable."""
    return json_quoted(name).decode("utf-8")


def _load_orjson(record: bytes | bytearray | memoryview | str) -> Any:  # Any: a JSON value
    """orjson.loads, imported on first use: `_loads` is then bound to it.

    A run whose lines the native scanner decides never needs orjson, whose
    import costs more than such a run; once loaded, filter_record calls
    orjson.loads through the module-level name `_loads` at no extra cost.
    """
    global _loads, _JSONDecodeError
    import orjson  # function-level: saves start-up (see above)

    _JSONDecodeError = orjson.JSONDecodeError
    _loads = orjson.loads
    return _loads(record)


_loads: Callable[[bytes | bytearray | memoryview | str], Any] = _load_orjson
# orjson.JSONDecodeError once orjson is loaded (by the first _loads, before it can raise).
_JSONDecodeError: type[JSONDecodeError] = ValueError  # type: ignore[assignment]


_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               type(None): "null", int: "a number", float: "a number"}


def filter_record(record: bytes, spec: Spec = DEFAULT_SPEC) -> bytes | None | _Skipped:
    """Return the output line for one record (bytes, no newline), None or SKIPPED.

    None means the record is good but not selected, or the line is blank;
    SKIPPED (which is false, like None) that `spec.missing` is "skip" and a
    summed field is absent or null. Raises BadRecord if the line is not a good
    record. `record` is the line's bytes, with or without its line ending.
    """
    try:
        obj = _loads(record)
    except _JSONDecodeError as err:
        # Checked only on this slow path so that good records pay nothing for it.
        if not record.strip(JSON_WS):
            return None
        raise BadRecord(_why_invalid(record, err)) from None
    if type(obj) is not dict:
        raise BadRecord(f"not a JSON object but {_TYPE_NAMES[type(obj)]}")

    total = None
    skipped = False
    for name, first, rest in spec._steps:
        try:
            value = obj[first]
            if rest:  # a nested field; tested first as it costs less than an empty loop
                for key in rest:
                    value = value[key]
        except KeyError:
            value = _ABSENT
        except TypeError:  # something other than an object on the path
            value = _blocked(obj, name, (first,) + rest)
        # type() rather than isinstance(): bool is a subclass of int, and
        # true/false are not numbers here.
        if type(value) is float or type(value) is int:
            # Add in double precision, left to right, as the issue defines.
            total = float(value) if total is None else total + float(value)
        elif value is None or value is _ABSENT:
            if spec.missing == "zero":
                total = 0.0 if total is None else total + 0.0
            elif spec.missing == "skip":
                skipped = True  # but a later field may still make the record bad
            elif value is None:
                raise BadRecord(f"field {quoted(name)} is not a number")
            else:
                raise BadRecord(f"missing field {quoted(name)}")
        else:
            raise BadRecord(f"field {quoted(name)} is not a number")
    if skipped:
        return SKIPPED
    assert total is not None  # a Spec has at least one field
    if not math.isfinite(total):
        raise BadRecord("sum is not finite")
    # -v selects exactly the good records this leaves out: a sum equal to
    # the threshold, and -0.0 against 0, are not greater, so -v selects them.
    if (total > spec.threshold) is spec.invert:
        return None
    return with_sum(record.strip(JSON_WS), obj, total, spec)


def _blocked(obj: dict[str, object], name: str, keys: tuple[str, ...]) -> object:
    """_ABSENT if a null stands on the path `keys` of field `name`; else raise BadRecord."""
    value: object = obj
    for depth, key in enumerate(keys):
        if value is None:
            return _ABSENT  # as if the key holding null were not there
        if type(value) is not dict:
            raise BadRecord(f"field {quoted(name)}: {quoted(_prefix(name, depth))} is not an object")
        value = value.get(key, _ABSENT)
        if value is _ABSENT:
            return _ABSENT
    return value


def _why_invalid(record: bytes, err: JSONDecodeError) -> str:
    # orjson's own words for bad UTF-8 point at column 1 and speak of
    # surrogates; the byte offset is what helps someone fix the file.
    try:
        record.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {bad.start + 1}"
    return f"invalid JSON: {err.msg} (column {err.colno})"


def with_sum(text: bytes, obj: dict[str, object], total: float, spec: Spec) -> bytes:
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


@functools.cache
def _patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """(a JSON string, a scalar, a bracket or a string's start): compiled once needed."""
    import re  # function-level: saves start-up, only a record that has the sum field needs it

    return (re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL), re.compile(rb"[^\s,}\]]+"),
            re.compile(rb'[\[\]{}"]'))


def top_level_members(text: bytes) -> Iterator[tuple[str, int, int]]:
    """Yield (key, value_start, value_end) for each member of a valid JSON object."""
    i = text.index(b"{") + 1
    n = len(text)
    while True:
        i = _skip_ws(text, i)
        if text[i:i + 1] == b"}":
            return
        key_end = _value_end(text, i)
        key = _loads(text[i:key_end])
        i = _skip_ws(text, key_end)
        i = _skip_ws(text, i + 1)  # past the colon
        end = _value_end(text, i)
        yield key, i, end
        i = _skip_ws(text, end)
        if i < n and text[i:i + 1] == b",":
            i += 1


def _skip_ws(text: bytes, i: int) -> int:
    n = len(text)
    while i < n and text[i] in JSON_WS:
        i += 1
    return i


def _value_end(text: bytes, i: int) -> int:
    """Where the value that starts at `i` of a valid JSON text ends."""
    string, scalar, bracket_or_string = _patterns()
    first = text[i:i + 1]
    if first == b'"':
        return _found(string.match(text, i)).end()
    if first not in (b"{", b"["):
        return _found(scalar.match(text, i)).end()
    depth = 0
    while True:
        m = _found(bracket_or_string.search(text, i))
        token = m.group()
        if token == b'"':
            i = _found(string.match(text, m.start())).end()
            continue
        i = m.end()
        depth += 1 if token in (b"{", b"[") else -1
        if depth == 0:
            return i


def _found(match: re.Match[bytes] | None) -> re.Match[bytes]:
    assert match is not None, "the text is valid JSON: each of its parts is found"
    return match


@functools.lru_cache(maxsize=64)
def _spec_for(th: float) -> Spec:
    return Spec(threshold=th)


def map_line(line: str | bytes, th: float = THRESHOLD) -> Iterator[str]:
    """Yield the output record (a str, no newline) if `line` is selected.

    The blog's mapper signature, so `rdd.flatMap(map_line)` and a Luigi task's
    `for out in map_line(line, th)` work unchanged. `line` may be str or bytes,
    with or without its newline; a blank line yields nothing. Raises BadRecord
    (a ValueError) if the line is not a good record.
    """
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")
    out = filter_record(line, _spec_for(th))
    if out:
        yield out.decode("utf-8")

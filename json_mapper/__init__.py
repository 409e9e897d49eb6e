"""jsonfilter: keep the JSON Lines records whose numeric fields add up past a threshold."""

__version__ = "0.1.0"

from .inputs import InputError  # noqa: E402
from .chunk import filter_chunk  # noqa: E402
from .record import FIELDS, SUM_FIELD, THRESHOLD, BadRecord, Spec, filter_record, map_line  # noqa: E402
from .stream import Counts, filter_stream  # noqa: E402

__all__ = [
    "THRESHOLD", "FIELDS", "SUM_FIELD", "BadRecord", "InputError", "Spec",
    "filter_record", "map_line", "filter_chunk", "filter_stream", "Counts",
]

"""jsonfilter: keep the JSON Lines records whose numeric fields add up past a threshold."""

__version__ = "0.1.0"

from .chunk import filter_chunk
from .inputs import InputError
from .record import FIELDS, SUM_FIELD, THRESHOLD, BadRecord, Spec, filter_record, map_line
from .stream import Counts, filter_stream

__all__ = [
    "THRESHOLD", "FIELDS", "SUM_FIELD", "BadRecord", "InputError", "Spec",
    "filter_record", "map_line", "filter_chunk", "filter_stream", "Counts",
]

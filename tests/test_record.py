"""The core function and the blog-compatible `map_line`."""
import pytest

from json_mapper import THRESHOLD, BadRecord, Spec, filter_record, map_line
from json_mapper.record import top_level_members


def test_map_line_has_the_blogs_shape():
    assert THRESHOLD == 1.99
    assert list(map_line('{"index": 1, "total": 1}\n')) == ['{"index": 1, "total": 1,"sum_val":2.0}']
    assert list(map_line('{"index": 0.5, "total": 0.5}')) == []
    assert list(map_line('{"index": 0.5, "total": 0.5}', 0.9)) == ['{"index": 0.5, "total": 0.5,"sum_val":1.0}']


def test_map_line_takes_bytes_and_str_alike_and_yields_str():
    line = '{"t":"h\u00e9","index":1,"total":1}\r\n'
    expected = ['{"t":"h\u00e9","index":1,"total":1,"sum_val":2.0}']
    assert list(map_line(line)) == list(map_line(line.encode())) == expected


def test_map_line_works_as_a_flatmap_function():
    lines = ['{"index":1,"total":1}', "", '{"index":0,"total":0}', '{"index":2,"total":0}']
    out = [record for line in lines for record in map_line(line)]
    assert out == ['{"index":1,"total":1,"sum_val":2.0}', '{"index":2,"total":0,"sum_val":2.0}']


def test_bad_record_is_a_value_error_with_the_cli_reason():
    with pytest.raises(ValueError) as caught:
        list(map_line('{"index": 1}'))
    assert isinstance(caught.value, BadRecord)
    assert caught.value.reason == str(caught.value) == 'missing field "total"'


def test_a_lone_surrogate_in_a_str_line_is_a_bad_record_not_a_crash():
    with pytest.raises(BadRecord, match="invalid UTF-8"):
        list(map_line('{"index":1,"total":1,"s":"\ud800"}'))


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": float("inf")}, "finite"),
    ({"threshold": "nan"}, "finite"),
    ({"fields": ()}, "one or more"),
    ({"fields": ("a", "")}, "one or more"),
    ({"sum_field": ""}, "non-empty"),
])
def test_spec_rejects_what_cannot_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Spec(**kwargs)


def test_spec_takes_a_single_field_name():
    assert filter_record(b'{"a":5}', Spec(fields="a", threshold=4)) == b'{"a":5,"sum_val":5.0}'


def test_blank_lines_give_nothing():
    for line in (b"", b"\n", b"  \t\r\n"):
        assert filter_record(line) is None


def test_negative_zero_fields_keep_their_sign_in_the_sum():
    assert filter_record(b'{"index":-0.0,"total":-0.0}', Spec(threshold=-1)) == \
        b'{"index":-0.0,"total":-0.0,"sum_val":-0.0}'


def test_top_level_members_finds_every_value_span():
    text = b'{ "a" : "x,}" , "b":[1,{"c":"]"}],"d\\"":  -1.5e3 ,"e":{}}'
    found = [(key, text[start:end]) for key, start, end in top_level_members(text)]
    assert found == [("a", b'"x,}"'), ("b", b'[1,{"c":"]"}]'), ('d"', b"-1.5e3"), ("e", b"{}")]

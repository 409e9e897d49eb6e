"""JSONTestSuite (nst/JSONTestSuite, test_parsing/) against jsonfilter.

Each one-line value is embedded as an extra field of a record that is
selected: y_ values must pass through byte for byte, n_ values must make the
record a bad record, i_ values may go either way but never crash. Every file
is also fed as input on its own.

The corpus is third-party data kept out of the repository: these tests read it
from the folder JSONTESTSUITE_DIR names and run only when selected, with
`python -m pytest -m jsontestsuite` (as .ci/run does). The project's own table
of the same kinds of values, run always, is tests/test_json_edge_cases.py.
"""
import re

import pytest

from conftest import JSONTESTSUITE_FILES as FILES
from conftest import corpus_params
from json_mapper import BadRecord, filter_chunk, filter_record

pytestmark = pytest.mark.jsontestsuite

PREFIX = b'{"index": 1, "total": 1, "x": '
SUM = b',"sum_val":2.0}'


def one_line_value(path):
    """The file's text as one line (a final newline dropped), or None if it spans lines."""
    text = path.read_bytes()
    if text.endswith(b"\n"):
        text = text[:-1]
    return None if b"\n" in text else text


def values(kind):
    found = [(p.name, one_line_value(p)) for p in FILES if p.name.startswith(kind)]
    return [(name, value) for name, value in found if value is not None]


def params(kind):
    # Collected even when the corpus is missing, so that the test can say so.
    found = values(kind)
    return pytest.mark.parametrize("name,value", found or [("none", b"")],
                                   ids=[name for name, _ in found] or ["none"])


def embedded(value):
    return PREFIX + value + b"}"


def passed_through(value):
    # Whitespace after the last member is not part of the value: the sum is
    # spliced in right after the value's last byte.
    return PREFIX + value.rstrip(b" \t\r") + SUM


@params("y_")
def test_accepted_value_passes_through_unchanged(name, value):
    assert filter_record(embedded(value)) == passed_through(value)


@params("n_")
def test_rejected_value_makes_a_bad_record(name, value):
    with pytest.raises(BadRecord) as caught:
        filter_record(embedded(value))
    assert caught.value.reason
    assert "\n" not in caught.value.reason


@params("i_")
def test_implementation_defined_value_never_crashes(name, value):
    try:
        out = filter_record(embedded(value))
    except BadRecord as err:
        assert err.reason
    else:
        assert out == passed_through(value)


@pytest.mark.parametrize("path", corpus_params(FILES), ids=[p.name for p in FILES] or ["none"])
def test_each_file_as_input_never_crashes(path):
    data = path.read_bytes()
    result = filter_chunk(data)
    # No file of the suite is a record with both fields.
    assert (result.output, result.selected) == (b"", 0)
    assert len(result.bad) <= result.bad_count <= result.lines


def batches(lines, size=10):
    return [lines[i:i + size] for i in range(0, len(lines), size)]


def test_command_passes_every_accepted_value(run_jsonfilter, tmp_path):
    accepted = [embedded(value) for _, value in values("y_")]
    (tmp_path / "y.json").write_bytes(b"\n".join(accepted) + b"\n")
    result = run_jsonfilter("y.json")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.splitlines() == [passed_through(value) for _, value in values("y_")]


@pytest.mark.parametrize("kind", ["n_", "i_"])
def test_command_reports_each_bad_value_at_its_line(run_jsonfilter, tmp_path, kind):
    # Batches of ten, the most the command describes one by one.
    for number, batch in enumerate(batches(values(kind))):
        path = tmp_path / f"{kind}{number}.json"
        path.write_bytes(b"\n".join(embedded(value) for _, value in batch) + b"\n")
        result = run_jsonfilter(path.name)
        assert b"Traceback" not in result.stderr
        messages = result.stderr.decode().splitlines()
        outputs = result.stdout.splitlines()
        for lineno, (name, value) in enumerate(batch, 1):
            message = [m for m in messages if m.startswith(f"jsonfilter: {path.name}:{lineno}: ")]
            if kind == "n_" or message:
                assert len(message) == 1, (name, result.stderr)
                assert len(message[0]) > len(f"jsonfilter: {path.name}:{lineno}: "), name
            else:
                assert outputs.pop(0) == passed_through(value), name
        assert outputs == []
        assert len(messages) == (len(batch) if kind == "n_" else len(messages))
        assert result.returncode == (1 if messages else 0)


def test_command_takes_every_file_as_input(run_jsonfilter):
    result = run_jsonfilter(*FILES, timeout=120)
    assert result.returncode == 1
    assert result.stdout == b""
    messages = result.stderr.decode().splitlines()
    assert len(messages) == 11
    total = re.fullmatch(r"jsonfilter: (\d+) bad records in all \((\d+) not shown\)", messages[-1])
    assert total and int(total.group(1)) >= len(FILES) - 2  # only the whitespace-only files are blank

"""Repeated -f options, -V and the exit statuses at the end of --help, through the real command."""
import gzip
import json
import re

import pytest

from conftest import ROOT
from json_mapper import __version__

# Records where each way of naming the fields gives a different selection.
RECORDS = [
    b'{"index": 1, "total": 1, "extra": -5}',
    b'{"index": 0.5, "total": 0.5, "extra": 2.5}',
    b'{"index": 3, "total": -2, "extra": 0}',
    b'{"total": 2.5, "extra": 0.25, "index": -1}',
]
SIZE = 5 * 1024 * 1024


def big(records):
    # Enough for the fast paths and for -j to cut several pieces.
    line = b"\n".join(records) + b"\n"
    return line * (SIZE // len(line))


def selected(records, fields, threshold=1.99):
    """The expected output, from the records as the standard library's json reads them."""
    out = []
    for record in records:
        values = json.loads(record)
        total = 0.0
        for name in fields:
            total += values[name]
        if total > threshold:
            out.append(record[:-1] + b',"sum_val":' + repr(total).encode() + b"}\n")
    return b"".join(out)


def run_ways(run_jsonfilter, tmp_path, options, data):
    (tmp_path / "in.json").write_bytes(data)
    (tmp_path / "in.json.gz").write_bytes(gzip.compress(data, compresslevel=1))
    return [run_jsonfilter(*options, "in.json", timeout=120),
            run_jsonfilter(*options, stdin=data, timeout=120),
            run_jsonfilter(*options, "in.json.gz", timeout=120),
            run_jsonfilter(*options, "-j", "3", "in.json", timeout=120)]


@pytest.mark.parametrize("options, fields", [
    (["-f", "index", "-f", "total"], ["index", "total"]),
    (["-f", "index", "-f", "total", "-f", "extra"], ["index", "total", "extra"]),
    (["--fields", "index,total", "-f", "extra"], ["index", "total", "extra"]),
    (["-f", "extra", "--fields=index"], ["extra", "index"]),
    (["-f", "extra"], ["extra"]),
], ids=["two", "three", "list_and_one", "long_form", "one_replaces_the_default"])
def test_repeated_fields_add_up(run_jsonfilter, tmp_path, options, fields):
    data = big(RECORDS)
    expected = selected(RECORDS, fields) * (SIZE // len(b"\n".join(RECORDS) + b"\n"))
    assert expected  # each case selects something
    for result in run_ways(run_jsonfilter, tmp_path, options, data):
        assert (result.returncode, result.stderr) == (0, b"")
        assert result.stdout == expected


def test_repeated_fields_equal_one_list(run_jsonfilter, tmp_path):
    data = big(RECORDS)
    (tmp_path / "in.json").write_bytes(data)
    repeated = run_jsonfilter("-f", "index", "-f", "total", "-f", "extra", "in.json")
    listed = run_jsonfilter("-f", "index,total,extra", "in.json")
    assert repeated.stdout == listed.stdout != b""
    # And without -f, the default fields only.
    assert run_jsonfilter("in.json").stdout == selected(RECORDS, ["index", "total"]) * (
        SIZE // len(b"\n".join(RECORDS) + b"\n"))


def test_a_repeated_field_is_added_twice(run_jsonfilter):
    result = run_jsonfilter("-f", "index", "-f", "index", "-t", "0", stdin=b'{"index": 1.5}\n')
    assert (result.stdout, result.returncode) == (b'{"index": 1.5,"sum_val":3.0}\n', 0)


def test_missing_field_named_by_a_later_f_is_reported(run_jsonfilter):
    result = run_jsonfilter("-f", "index", "-f", "nope", stdin=b'{"index": 3}\n')
    assert result.returncode == 1
    assert result.stderr == b'jsonfilter: <stdin>:1: missing field "nope"\n'


def test_an_empty_name_in_a_later_f_is_a_usage_error(run_jsonfilter):
    result = run_jsonfilter("-f", "index", "-f", "total,", stdin=b"")
    assert result.returncode == 2
    assert result.stderr == (b"jsonfilter: argument -f/--fields: empty field name in 'total,' "
                             b"(see 'jsonfilter --help')\n")


@pytest.mark.parametrize("option", ["-V", "--version"])
def test_version(run_jsonfilter, option):
    result = run_jsonfilter(option)
    assert (result.stdout, result.stderr, result.returncode) == (
        f"jsonfilter {__version__}\n".encode(), b"", 0)


def readme_exit_statuses():
    """(status, meaning) rows of the exit-status table, from README.md or the docs it moved to."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]:
        rows = re.findall(r"^\| (\d+) \| (.*) \|$", path.read_text(), re.M) if path.exists() else []
        if rows and rows[0][0] == "0":
            return [(int(status), meaning) for status, meaning in rows]
    raise AssertionError("no exit-status table in README.md or docs/")


def test_help_ends_with_the_exit_statuses(run_jsonfilter):
    result = run_jsonfilter("--help")
    assert (result.returncode, result.stderr) == (0, b"")
    text = result.stdout.decode()
    head, _, tail = text.rpartition("\nexit statuses:\n")
    assert head and tail.endswith("\n")
    entries = re.findall(r"^  (\d+) +(.*(?:\n {7}.*)*)", tail, re.M)
    statuses = [int(status) for status, _ in entries]
    assert statuses == [0, 1, 2, 130, 141, 143]
    assert statuses == [status for status, _ in readme_exit_statuses()]
    # Each meaning says what the README's row says, in fewer words.
    keywords = {0: "all went well", 1: "bad records", 2: "trouble", 130: "SIGINT",
                141: "closed early", 143: "SIGTERM"}
    for status, meaning in entries:
        assert keywords[int(status)] in " ".join(meaning.split())
    for status, meaning in readme_exit_statuses():
        assert keywords[status] in meaning
    # Nothing else follows.
    assert re.fullmatch(r"(?:  \d+ +.*\n(?: {7}.*\n)*)+", tail)

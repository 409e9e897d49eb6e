"""The built-in generator of the blog's data set."""
import json

from json_mapper import datagen


def test_same_arguments_same_bytes_and_files_independent_of_count(tmp_path):
    datagen.main(["--files", "3", "--lines", "500", "--out", str(tmp_path / "a")])
    datagen.main(["--files", "3", "--lines", "500", "--out", str(tmp_path / "b")])
    datagen.main(["--files", "1", "--lines", "500", "--out", str(tmp_path / "c")])
    datagen.main(["--files", "1", "--lines", "500", "--out", str(tmp_path / "d"), "--seed", "1"])
    a = [(tmp_path / "a" / f"dat_{n}.json").read_bytes() for n in range(3)]
    assert a == [(tmp_path / "b" / f"dat_{n}.json").read_bytes() for n in range(3)]
    assert a[0] == (tmp_path / "c" / "dat_0.json").read_bytes()
    assert len(set(a)) == 3
    assert (tmp_path / "d" / "dat_0.json").read_bytes() != a[0]


def test_lines_have_the_blogs_shape(tmp_path):
    datagen.main(["--files", "1", "--lines", "1000", "--out", str(tmp_path)])
    text = (tmp_path / "dat_0.json").read_text()
    assert text.endswith("\n") and text.count("\n") == 1000
    for line in text.splitlines():
        record = json.loads(line)
        assert list(record) == ["index", "total"]
        assert all(type(v) is float and 0 <= v < 1 for v in record.values())


def test_expected_selected_counts_what_the_filter_selects(tmp_path):
    datagen.main(["--files", "1", "--lines", "20000", "--out", str(tmp_path)])
    lines = (tmp_path / "dat_0.json").read_text().splitlines()
    by_hand = sum(1 for line in lines if (lambda r: r["index"] + r["total"] > 1.5)(json.loads(line)))
    assert datagen.expected_selected(0, 0, 20000, 1.5) == by_hand > 0

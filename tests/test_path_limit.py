"""A field path may be as deep as records nest (1024 keys); a longer one is refused at once, as a usage error.

A path of about 985 keys gave `internal error: RecursionError`: the fast
path built its nested msgspec Structs by recursion, and msgspec recurses
once more per level in building and in decoding them. Paths deeper than
256 keys now take the per-record path; deeper than 1024, no record could
hold the field.
"""
import pytest

MODES = ["file", "stdin", "jobs_2", "jobs_0"]


def nested(keys, value=b"1.5"):
    return b'{"a":' * keys + value + b"}" * keys


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("keys", [256, 257, 1024])
def test_bug_a_path_of_985_keys_was_an_internal_error(run_jsonfilter, tmp_path, keys, mode):
    deep = nested(keys)
    lines = []
    for n in range(300):  # about 2 MiB (1024 keys): several pieces under -j
        lines += [deep, b'{"index": 1, "total": %d}' % n, nested(keys - 1)]
    data = b"\n".join(lines) + b"\n"
    args = ["-t", "1", "-f", ".".join(["a"] * keys), "--missing", "skip", "--stats"]
    if mode in ("stdin", "jobs_0"):
        result = run_jsonfilter(*args, *(["-j", "0"] if mode == "jobs_0" else []), stdin=data)
    else:
        (tmp_path / "deep.json").write_bytes(data)
        result = run_jsonfilter(*args, *(["-j", "2"] if mode == "jobs_2" else []), "deep.json")
    # The record one level less deep holds an object where the number should be: a bad record.
    assert result.returncode == 1
    assert result.stdout == (deep[:-1] + b',"sum_val":1.5}\n') * 300
    assert result.stderr.endswith(b"\njsonfilter: 900 lines read, 300 records written, 300 skipped, 300 bad records, "
                                  b"0 blank, 0 not selected, " + result.stderr.rsplit(b", 0 not selected, ", 1)[1])


@pytest.mark.parametrize("spelling", ["dots", "pointer"])
def test_a_path_deeper_than_records_nest_is_refused_at_once(run_jsonfilter, spelling):
    keys = ["a"] * 1025
    field = ".".join(keys) if spelling == "dots" else "/" + "/".join(keys)
    # Before any input is looked at: the file named is not there.
    result = run_jsonfilter("-f", f"index,{field}", "missing.json")
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == (b"jsonfilter: field " + field[:40].encode() + b"...: a path of 1025 keys, but records "
                             b"nest at most 1024 levels deep (see 'jsonfilter --help')\n")

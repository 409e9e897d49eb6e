"""Property tests: arbitrary input never breaks jsonfilter, and it agrees with a strict reference."""
import subprocess

import pytest

from json_mapper import Spec, filter_record


# --- Regressions: inputs that once failed, each named after its bug. ---

@pytest.mark.parametrize("option", ["fields", "sum_field"])
def test_bug_undecodable_field_name_was_internal_error(option):
    # Undecodable bytes in argv arrive as lone surrogates; orjson cannot quote
    # them, so every record ended in "internal error: TypeError".
    with pytest.raises(ValueError, match="not valid UTF-8"):
        Spec(**{option: "\udcff"})


@pytest.mark.parametrize("option", ["-f", "-s"])
def test_bug_undecodable_field_name_on_command_line(cli_env, option):
    result = subprocess.run([b"jsonfilter", option.encode(), b"\xff"], input=b'{"index": 1, "total": 1}\n',
                            capture_output=True, env=cli_env, timeout=60)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.startswith(b"jsonfilter: field name ")
    assert b"not valid UTF-8" in result.stderr
    assert result.stderr.count(b"\n") == 1

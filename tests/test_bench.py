"""The benchmark harness and the demo script, on tiny data, so that they cannot rot.

Timings are not checked (the harness is not a timed test); what is checked is
that every variant runs, that their outputs agree, and that the report and
the chart are written.
"""
import os
import subprocess
import sys

from conftest import ROOT, require, require_module


def test_harness_runs_every_variant_and_they_agree(cli_env, tmp_path):
    require("jq")
    require("parallel")
    require_module("duckdb")
    require_module("matplotlib")
    report, chart = tmp_path / "bench.md", tmp_path / "bench.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "bench.py"), "--lines", "2000", "--runs", "1",
         "--sizes", "4000", "--stream-mb", "3", "--report", str(report), "--chart", str(chart)],
        capture_output=True, text=True, env=cli_env, timeout=600)
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    assert "DIFFERENT" not in text and "skipped" not in text
    # Every variant has a row with a check against the first one.
    for name in ("blog mapper", "cat FILES \\| jsonfilter |", "jsonfilter -j 0 FILES", "jq -c -f map.jq",
                 "parallel --pipe + jq", "parallel --pipepart + jsonfilter", "DuckDB read_ndjson"):
        assert name in text
    assert text.count("| same |") >= 15, text
    assert "### Targets" in text and "start-up" in text
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_harness_reports_missing_tools_as_skipped(cli_env, tmp_path):
    # Only the tree's own commands on PATH: jq and GNU Parallel are missing.
    folder = tmp_path / "bin"
    folder.mkdir()
    for program in ("bash", "cat", "find", "sort", "wc", "jsonfilter"):
        found = subprocess.run(["bash", "-c", f"command -v {program}"], capture_output=True, text=True,
                               env=cli_env).stdout.strip()
        (folder / program).symlink_to(found)
    env = {**cli_env, "PATH": str(folder)}
    report = tmp_path / "bench.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "bench.py"), "--lines", "500", "--runs", "1", "--sizes", "",
         "--stream-mb", "0", "--report", str(report), "--chart", str(tmp_path / "c.png")],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    assert "| jq -c -f map.jq | | | | | | skipped: jq not installed |" in text
    assert "skipped: parallel not installed" in text
    assert "DIFFERENT" not in text


def test_demo_script_runs_every_variation(cli_env, tmp_path):
    require("jq")
    require("parallel")
    require_module("duckdb")
    # A copy of the tree's files it uses, so data/ and out_data*/ land in a temporary folder.
    (tmp_path / "examples").mkdir()
    for name in ("examples/parallel_demo.sh", "examples/blog_json_mapper.py", "map.jq"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    os.chmod(tmp_path / "examples" / "parallel_demo.sh", 0o755)
    result = subprocess.run(["bash", str(tmp_path / "examples" / "parallel_demo.sh"), "3000"],
                            capture_output=True, text=True, env={**cli_env, "PYTHON": sys.executable},
                            timeout=600)
    assert result.returncode == 0, result.stderr
    counts = dict(line.split(": ") for line in result.stdout.splitlines() if line.startswith("out_data"))
    assert len(counts) == 9 and len(set(counts.values())) == 1 and counts["out_data1"] != "0", counts
    assert "skipped" not in result.stdout

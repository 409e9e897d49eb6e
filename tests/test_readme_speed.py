"""The shell examples of docs/speed.md, run on small data.

Every line of the page's ```sh blocks runs here, in a scratch folder, with
the data sizes scaled down (and the benchmark's report sent to the scratch
folder) so that the test takes seconds.
"""
import re
import subprocess
import sys

from conftest import ROOT, require, require_module
from markdown_pages import blocks, section

PAGE = "docs/speed.md"
SCALED = {
    "--lines 1000000": "--lines 3000",
    "parallel_demo.sh 1000000": "parallel_demo.sh 3000",
    "python -m ": f"{sys.executable} -m ",
    "python examples/bench.py": f"{sys.executable} {ROOT}/examples/bench.py --lines 500 --runs 1 "
                                "--sizes '' --stream-mb 0 --report bench.md --chart bench.png",
}


def speed_section():
    return section(PAGE, "Speed")


def test_speed_section_examples_run(cli_env, tmp_path):
    require("jq")
    require("parallel")
    require_module("duckdb")
    require_module("matplotlib")
    shell = blocks(speed_section(), "sh")
    assert shell
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "map.jq").symlink_to(ROOT / "map.jq")
    for block in shell:
        for line in block.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            for original, scaled in SCALED.items():
                line = line.replace(original, scaled)
            result = subprocess.run(["bash", "-c", "set -o pipefail; " + line], cwd=tmp_path,
                                    env={**cli_env, "PYTHON": sys.executable},
                                    capture_output=True, timeout=600)
            assert result.returncode == 0, (line, result.stderr[-2000:])
    assert (tmp_path / "selected.json").stat().st_size > 0
    assert (tmp_path / "bench.png").exists()


def test_speed_section_shows_the_committed_chart():
    text = speed_section()
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (ROOT / PAGE).parent.joinpath(image).read_bytes().startswith(b"\x89PNG")
    assert "![" in text

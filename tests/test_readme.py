"""README.md and the pages under docs/ are part of the contract: their examples run, their links
resolve, and the README's two commands work."""
import re
import shutil
import subprocess
import sys
import venv

import pytest

from conftest import ROOT, copy_tracked_tree, require
from json_mapper import datagen
from markdown_pages import FENCE, blocks, links, pages, read, section

README = read("README.md")
README_LIMIT = 12_000


def top_commands():
    first = FENCE.search(README)
    assert first.group(1) == "sh"
    return first.group(2).splitlines()


def test_readme_starts_with_exactly_two_commands():
    assert len(top_commands()) == 2
    assert README.index("```") < README.index("\n## ")


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert top_commands()[1] in ci


def test_the_readme_is_a_front_page():
    assert len(README) <= README_LIMIT, f"README.md has {len(README)} characters, more than {README_LIMIT}"


@pytest.mark.parametrize("page", pages())
def test_every_relative_link_resolves(page):
    for target in links(page):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or a place on the same page
        path = (ROOT / page).parent / target.partition("#")[0]
        assert path.resolve().is_relative_to(ROOT) and path.exists(), f"{page}: {target} does not resolve"


def test_the_readme_links_every_docs_page():
    linked = {str(((ROOT / "README.md").parent / t.partition("#")[0]).resolve().relative_to(ROOT))
              for t in links("README.md") if not re.match(r"[a-z]+:", t)}
    assert set(pages()[1:]) <= linked


def console_examples():
    """(page, command, expected output) for every `$ ` line of every console block of every page."""
    for page in pages():
        for body in blocks(read(page), "console"):
            for chunk in re.split(r"^\$ ", body, flags=re.M)[1:]:
                command, _, output = chunk.partition("\n")
                if command != "echo $?":  # checked with the command before it
                    yield page, command, output


@pytest.mark.parametrize("page, command, output", list(console_examples()))
def test_console_examples_print_what_the_docs_show(page, command, output, cli_env):
    result = subprocess.run(["bash", "-c", f'{command}\necho "status $?" >&2'], cwd=ROOT, env=cli_env,
                            capture_output=True, timeout=60)
    shown = result.stdout + result.stderr.rpartition(b"status ")[0]
    assert shown.decode() == output
    follow = re.search(re.escape(f"$ {command}\n{output}") + r"\$ echo \$\?\n(\d+)\n", read(page))
    status = int(result.stderr.rpartition(b"status ")[2])
    assert status == (int(follow.group(1)) if follow else 0)


@pytest.fixture
def workdir(tmp_path):
    """A folder like a user's: data/ from the generator, map.jq beside it."""
    datagen.main(["--files", "2", "--lines", "20000", "--out", str(tmp_path / "data")])
    shutil.copy(ROOT / "map.jq", tmp_path)
    return tmp_path


def run_shell_block(body, cwd, env):
    return subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=cwd, env=env,
                          capture_output=True, timeout=300)


def test_the_shell_tools_example(workdir, cli_env):
    require("parallel")
    (workdir / "out").mkdir()
    body, = blocks(section("README.md", "What it does"), "sh")
    result = run_shell_block(body, workdir, cli_env)
    assert result.returncode == 0, result.stderr
    data = b"".join((workdir / "data" / f"dat_{n}.json").read_bytes() for n in range(2))
    whole = subprocess.run(["jsonfilter"], input=data, cwd=workdir, env=cli_env, capture_output=True).stdout
    assert whole.count(b"\n") > 0
    assert (workdir / "selected.json").read_bytes() == whole
    per_file = b"".join((workdir / "out" / f"dat_{n}.json").read_bytes() for n in range(2))
    assert per_file == whole


def test_the_datagen_and_jq_examples(tmp_path, cli_env):
    require("jq")
    shutil.copy(ROOT / "map.jq", tmp_path)
    body, = blocks(section("docs/contract.md", "The blog's data, built in"), "sh")
    assert run_shell_block(body, tmp_path, cli_env).returncode == 0
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [f"dat_{n}.json" for n in range(4)]
    assert (tmp_path / "data" / "dat_3.json").read_text().count("\n") == 1_000_000
    body, = blocks(section("docs/contract.md", "map.jq"), "sh")
    jq = run_shell_block(body, tmp_path, cli_env)
    assert jq.returncode == 0 and jq.stdout.count(b"\n") > 100


def test_the_python_api_examples(workdir, cli_env):
    # Each example writes the selection of data/dat_0.json, which is also its stdin.
    codes = blocks(section("docs/contract.md", "Python API"), "python")
    assert len(codes) == 6
    data = (workdir / "data" / "dat_0.json").read_bytes()
    expected = subprocess.run(["jsonfilter", "data/dat_0.json"], cwd=workdir, env=cli_env,
                              capture_output=True).stdout
    assert expected
    for code in codes:
        result = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=cli_env, input=data,
                                capture_output=True, timeout=60)
        assert result.returncode == 0, (code, result.stderr)
        assert result.stdout == expected, code


def test_the_first_command_works_in_a_fresh_environment(tmp_path):
    # A copy of the tracked files, a new venv with nothing in it: as a new user would.
    tree = copy_tracked_tree(tmp_path / "jsonfilter")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", top_commands()[0]], cwd=tree, env=env,
                            capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(rb"jsonfilter: 1000000 lines read, \d+ records written, 0 bad records", result.stderr)
    selected = (tree / "selected.json").read_bytes().splitlines()
    assert len(selected) == sum(datagen.expected_selected(0, n, 250_000, 1.99) for n in range(4))
    # `pip install .` built the native scanner (a C compiler is on this machine).
    check = subprocess.run([str(bin_dir / "python"), "-c", "import json_mapper._scan"], cwd=tmp_path, env=env,
                           capture_output=True)
    assert check.returncode == 0, check.stderr

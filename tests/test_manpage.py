"""The man page: committed as generated, complete, and installed by `pip install .`."""
import os
import re
import subprocess
import sys
import venv
import zipfile

from conftest import ROOT, copy_tracked_tree
from json_mapper import __version__
from json_mapper.cli import EXIT_STATUSES, build_parser
from json_mapper.manpage import manpage, roff

PAGE = ROOT / "jsonfilter.1"


def section(page, title):
    match = re.search(rf"^\.SH {title}\n(.*?)(?=^\.SH |\Z)", page, re.S | re.M)
    assert match, f"jsonfilter.1 has no section {title}"
    return match.group(1)


def test_committed_page_is_what_the_generator_writes():
    assert PAGE.read_text() == manpage(), "run: python -m json_mapper.manpage jsonfilter.1"


def test_generator_writes_the_file_it_is_given(tmp_path):
    subprocess.run([sys.executable, "-m", "json_mapper.manpage", tmp_path / "out.1"], check=True,
                   cwd=ROOT)
    assert (tmp_path / "out.1").read_text() == PAGE.read_text()


def test_every_option_is_in_the_page():
    options = section(PAGE.read_text(), "OPTIONS")
    for action in build_parser()._actions:
        for option in action.option_strings:
            assert f"\\fB{roff(option)}\\fR" in options, f"{option} is not in jsonfilter.1"
        for choice in action.choices or ():
            assert choice in options
        if action.help:
            assert roff(action.help.split(";")[0].split("(")[0].strip()) in options


def test_every_exit_status_of_the_readme_is_in_the_page():
    # The README's table (or the docs page it moves to) and the page list the same statuses.
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    tables = [re.findall(r"^\| (\d+) \| ", path.read_text(), re.M) for path in docs if path.exists()]
    readme = next(rows for rows in tables if rows and rows[0] == "0")
    statuses = section(PAGE.read_text(), "EXIT STATUS")
    assert [int(s) for s in readme] == [status for status, _ in EXIT_STATUSES]
    assert re.findall(r"^\\fB(\d+)\\fR$", statuses, re.M) == readme


def test_page_names_the_version_and_the_examples_of_help(run_jsonfilter):
    page = PAGE.read_text()
    assert page.startswith(f'.TH JSONFILTER 1 "" "jsonfilter {__version__}"')
    helptext = run_jsonfilter("--help").stdout.decode()
    examples = helptext.split("examples:\n")[1].split("\n\n")[0].splitlines()
    assert len(examples) >= 3
    for example in examples:
        assert roff(example.strip()) in section(page, "EXAMPLES")


def test_pip_install_puts_the_page_in_share_man_man1(tmp_path):
    # A wheel built from the files git tracks, as from a fresh clone.
    tree = copy_tracked_tree(tmp_path / "jsonfilter")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(tmp_path / "wheels"), str(tree)], capture_output=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = (tmp_path / "wheels").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        pages = [name for name in archive.namelist() if name.endswith("/jsonfilter.1")]
        assert pages == [f"jsonfilter-{__version__}.data/data/share/man/man1/jsonfilter.1"]
        assert archive.read(pages[0]) == PAGE.read_bytes()
    # Installed, it sits in ../share/man beside the bin that PATH names, where man looks.
    venv.create(tmp_path / "venv", with_pip=True)
    # Without PYTHONPATH, which may name a tree where jsonfilter looks installed already.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    install = subprocess.run([str(tmp_path / "venv" / "bin" / "pip"), "install", "-q", "--no-deps",
                              str(wheel)], capture_output=True, env=env, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    assert (tmp_path / "venv" / "bin" / "jsonfilter").exists()
    installed = tmp_path / "venv" / "bin" / ".." / "share" / "man" / "man1" / "jsonfilter.1"
    assert installed.read_bytes() == PAGE.read_bytes()
    # And the shell completion scripts, where each shell looks under share/.
    share = tmp_path / "venv" / "share"
    for where, committed in [("bash-completion/completions/jsonfilter", "bash/jsonfilter"),
                             ("zsh/site-functions/_jsonfilter", "zsh/_jsonfilter"),
                             ("fish/vendor_completions.d/jsonfilter.fish", "fish/jsonfilter.fish")]:
        assert (share / where).read_bytes() == (ROOT / "completions" / committed).read_bytes()

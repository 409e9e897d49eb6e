""".ci/run: after the README's test command, the corpus tests, with the corpus found beside the clone."""
import re
import subprocess

import pytest

from conftest import ROOT

CI_RUN = (ROOT / ".ci" / "run").read_text()


def corpus_search():
    """The lines of .ci/run that look for the corpus, ending with `echo "$corpus"`."""
    match = re.search(r"^corpus=\n.*?^done\n", CI_RUN, re.S | re.M)
    assert match, ".ci/run no longer looks for the corpus"
    return match.group() + 'echo "$corpus"\n'


def test_corpus_tests_run_after_the_readmes_test_command():
    lines = CI_RUN.splitlines()
    readme = lines.index("pip install -e '.[test,engines,bench]' && python -m pytest")
    corpus = lines.index("JSONTESTSUITE_DIR=$corpus python -m pytest -m jsontestsuite")
    assert readme < corpus


@pytest.mark.parametrize("where", ["beside", "further_up", "nowhere"])
def test_corpus_is_found_beside_the_clone_or_further_up(tmp_path, where):
    clone = tmp_path / "ci" / "work" / "jsonfilter"
    clone.mkdir(parents=True)
    home = {"beside": tmp_path / "ci" / "work", "further_up": tmp_path / "ci", "nowhere": None}[where]
    if home:
        (home / "shared" / "jsontestsuite" / "test_parsing").mkdir(parents=True)
    found = subprocess.run(["bash", "-euo", "pipefail", "-c", corpus_search()], cwd=clone,
                           capture_output=True, text=True, check=True).stdout
    assert found == (f"{home}/shared/jsontestsuite\n" if home else "\n")

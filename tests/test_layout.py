"""docs/development.md's source layout: one line per module, its opening sentence."""
import ast

import pytest

from conftest import ROOT

LAYOUT = (ROOT / "docs" / "development.md").read_text()


@pytest.mark.parametrize("path", sorted((ROOT / "json_mapper").glob("*.py")), ids=lambda p: p.name)
def test_each_module_opens_with_what_it_owns_as_the_layout_says(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, f"{path.name} does not say what it owns"
    opening = docstring.split("\n\n")[0].replace("\n", " ")
    assert opening.endswith(".")
    line = next((line for line in LAYOUT.splitlines() if line.startswith(f"json_mapper/{path.name} ")), None)
    assert line is not None, f"docs/development.md does not list {path.name}"
    assert line.split(None, 1)[1] == opening

"""The type hints: what a type checker reads must match what runs."""
import ast

import pytest

from conftest import ROOT
from json_mapper import chunk


def typed_twins():
    """The classes chunk.py defines under `if TYPE_CHECKING:`, by name: [(field, default or None)]."""
    tree = ast.parse((ROOT / "json_mapper" / "chunk.py").read_text())
    block = next(node for node in tree.body
                 if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                 and any(isinstance(inner, ast.ClassDef) for inner in node.body))
    return {node.name: [(field.target.id, field.value and ast.literal_eval(field.value))
                        for field in node.body if isinstance(field, ast.AnnAssign)]
            for node in block.body if isinstance(node, ast.ClassDef)}


@pytest.mark.parametrize("name", ["BadLine", "ChunkResult"])
def test_the_typed_twin_of_a_named_tuple_has_its_fields_and_defaults(name):
    runtime = getattr(chunk, name)
    twin = typed_twins()[name]
    assert [field for field, _ in twin] == list(runtime._fields)
    assert {field: default for field, default in twin if default is not None} == runtime._field_defaults

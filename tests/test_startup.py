"""Start-up (issue 14): a run imports only what its input needs, and the package's imports form no circle.

The real command runs with `python -X importtime -S`: -S leaves out the site
hooks of the machine (.pth files), which import modules of their own, so
what is listed is what jsonfilter itself imported.
"""
import ast
import os
import random
import subprocess
import sys

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, require_module
from json_mapper import Spec, filter_chunk
from json_mapper.record import json_quoted, quoted

PACKAGE = ROOT / "json_mapper"

# Modules a run over good records (or no records) must not import: each
# takes longer to load than such a run takes to filter. typing: the package's
# type hints are read by type checkers only (TYPE_CHECKING is False at run time).
NOT_NEEDED = ("orjson", "msgspec", "gzip", "bz2", "lzma", "zstandard", "tqdm", "concurrent.futures",
              "multiprocessing", "dataclasses", "typing")

# The command with json_mapper._scan made unimportable, as on a machine without a C compiler.
WITHOUT_EXTENSION = ("import runpy, sys; sys.modules['json_mapper._scan'] = None; "
                     "runpy.run_module('json_mapper', run_name='__main__', alter_sys=True)")


def run_importtime(stdin, *args, python_args=("-m", "json_mapper")):
    """Run the command under -X importtime -S; return (status, stdout, the stderr lines that
    are not import times, the modules whose import was tried)."""
    # -S: no site hooks, so site-packages (orjson, msgspec...) is named here.
    path = [str(ROOT)] + [entry for entry in sys.path if entry and os.path.isdir(entry)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    for var in ("mapreduce_task_id", "mapred_task_id"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-X", "importtime", "-S", *python_args, *args], input=stdin,
                          capture_output=True, env=env, timeout=60)
    imported = set()
    messages = []
    for line in done.stderr.decode().splitlines():
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[1].strip())
        else:
            messages.append(line)
    return done.returncode, done.stdout, messages, imported


def good_records(n, seed=14):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        record = {"id": i, "index": rng.choice([0, 1, 0.5, 1e-3, 2]), "total": rng.random() * 2,
                  "name": "caf\u00e9 \u2028 x" if i % 3 else "plain"}
        lines.append(orjson.dumps(record))
    return b"\n".join(lines) + b"\n"


def per_record_output(data, spec=Spec()):
    return filter_chunk(data, spec).output


@pytest.fixture(scope="module")
def native():
    """The native scanner, which these runs need (built by pip install, or build_ext --inplace)."""
    return require_module("json_mapper._scan")


@pytest.mark.parametrize("data", [good_records(20), b""], ids=["20 good records", "empty"])
def test_a_run_over_good_records_imports_none_of_the_slow_modules(native, data):
    status, out, messages, imported = run_importtime(data)
    assert status == 0 and messages == []
    assert out == per_record_output(data)
    if data:
        assert out  # some are selected: the native scanner wrote them
    assert sorted(imported & set(NOT_NEEDED)) == []


def test_a_run_from_a_file_imports_none_of_the_slow_modules(native, tmp_path):
    data = good_records(200)
    (tmp_path / "in.json").write_bytes(data)
    status, out, messages, imported = run_importtime(b"", str(tmp_path / "in.json"))
    assert (status, messages, out) == (0, [], per_record_output(data))
    assert sorted(imported & set(NOT_NEEDED)) == []


def test_a_gzip_input_imports_nothing_more(native):
    # zlib decompresses it, and the interpreter's start-up has loaded zlib already.
    import gzip

    data = good_records(50)
    status, out, messages, imported = run_importtime(gzip.compress(data))
    assert (status, messages, out) == (0, [], per_record_output(data))
    assert sorted(imported & ({"gzip"} | set(NOT_NEEDED))) == []


def test_a_bad_record_still_gets_its_exact_message(native):
    bad = b'{"index": 1, "total": tru}'
    data = good_records(5) + bad + b"\n" + good_records(5, seed=2)
    status, out, messages, imported = run_importtime(data)
    reason = filter_chunk(data).bad[0].reason
    assert status == 1
    assert messages == [f"jsonfilter: <stdin>:6: {reason}"]
    assert reason.startswith("invalid JSON: ")
    assert out == per_record_output(data)
    assert "orjson" in imported  # the scanner does not vouch for that line: orjson reads it


def test_an_existing_sum_field_is_spliced_by_orjson(native):
    data = b'{"index": 1, "total": 1, "sum_val": "old"}\n' + good_records(5)
    status, out, messages, imported = run_importtime(data)
    assert (status, messages) == (0, [])
    assert out == per_record_output(data)
    assert out.startswith(b'{"index": 1, "total": 1, "sum_val": 2.0}\n')
    assert "orjson" in imported


def test_without_the_extension_msgspec_does_the_fast_path_and_writes_the_same(native):
    data = good_records(4000)  # past stream.SMALL_INPUT, where msgspec is loaded
    assert len(data) > 1 << 16
    status, out, messages, imported = run_importtime(data, python_args=("-c", WITHOUT_EXTENSION))
    assert (status, messages) == (0, [])
    assert "msgspec" in imported
    assert out == per_record_output(data)
    native_status, native_out, _, native_imported = run_importtime(data)
    assert native_status == 0 and native_out == out
    assert "msgspec" not in native_imported  # the scanner, not msgspec, did the run above


def test_without_the_extension_a_small_input_needs_no_msgspec(native):
    data = good_records(20)
    status, out, messages, imported = run_importtime(data, python_args=("-c", WITHOUT_EXTENSION))
    assert (status, messages, out) == (0, [], per_record_output(data))
    assert "msgspec" not in imported


# The names json_quoted must quote exactly as orjson.dumps does: JSON's escapes,
# control characters, quotes, backslashes, DEL, non-ASCII, the line separators.
NAMES = (["sum_val", "", '"', "\\", '\\"', "a\"b\\c", "\x7f", "caf\u00e9", "\u2028", "\u2029", "\U0001f600",
          "\ufeff", "\x00", "\x1f", "\b\f\n\r\t", "\u00e9\x01\u2028\"\\"]
         + [chr(code) for code in range(0x800)] + [chr(code) for code in range(0x2000, 0x2100)])


@pytest.mark.parametrize("name", NAMES, ids=lambda name: ascii(name))
def test_json_quoted_is_what_orjson_dumps_writes(name):
    assert json_quoted(name) == orjson.dumps(name)
    assert quoted(name) == orjson.dumps(name).decode()


@settings(max_examples=2000)
@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_json_quoted_is_what_orjson_dumps_writes_on_any_text(name):
    assert json_quoted(name) == orjson.dumps(name)


def test_spec_sum_key_is_the_quoted_name():
    for name in ["sum_val", "with \"quote\"", "tab\there", "\u2028"]:
        assert Spec(sum_field=name).sum_key == orjson.dumps(name)


def _module_imports():
    """{module: [(line, imported json_mapper module, function-level?)]} from each module's AST."""
    # Python modules and the extension (_scan.c, its stub _scan.pyi).
    modules = {path.name.split(".")[0] for path in PACKAGE.iterdir() if path.suffix in (".py", ".pyi", ".c")}
    graph = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name = "json_mapper" if path.stem == "__init__" else f"json_mapper.{path.stem}"
        tree = ast.parse(path.read_text(), str(path))
        nested = {id(node) for function in ast.walk(tree)
                  if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                  for node in ast.walk(function)}
        edges = []
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    targets = [node.module]
                elif node.module:  # from .record import X
                    targets = [f"json_mapper.{node.module}"]
                else:  # from . import a, b: submodules, or names of the package itself
                    targets = [f"json_mapper.{alias.name}" if alias.name in modules else "json_mapper"
                               for alias in node.names]
            else:
                continue
            edges += [(node.lineno, target, id(node) in nested) for target in targets]
        graph[name] = edges
    return graph


def test_no_import_circle_inside_the_package():
    graph = _module_imports()
    inside = {name: sorted({target for _, target, _ in edges if target in graph})
              for name, edges in graph.items()}
    assert "json_mapper.record" in inside and "json_mapper.stream" in inside["json_mapper.cli"]
    circles = []
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for target in inside[module]:
            if state.get(target) == "open":
                circles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(inside):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_every_function_level_import_says_it_saves_start_up():
    unexplained = []
    for path in sorted(PACKAGE.glob("*.py")):
        lines = path.read_text().splitlines()
        for lineno, _target, nested in _module_imports()["json_mapper" if path.stem == "__init__"
                                                         else f"json_mapper.{path.stem}"]:
            if not nested:
                continue
            # The comment is on the import's line, or on the comment lines
            # right above it (and the imports between).
            at = lineno - 1
            said = "start-up" in lines[at]
            while not said and at > 0 and lines[at - 1].strip().startswith(("#", "import ", "from ")):
                at -= 1
                said = "start-up" in lines[at]
            if not said:
                unexplained.append(f"{path.name}:{lineno}: {lines[lineno - 1].strip()}")
    assert unexplained == []

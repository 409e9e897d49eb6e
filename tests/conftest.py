"""Shared test plumbing.

`run_jsonfilter` runs the real command in a subprocess, from this source tree
(a `jsonfilter` shim on PATH), so stdout, stderr and the exit status can be
asserted together. `require` finds an outside program: without it a test
skips when run by hand, and fails under CI (CI=true), where .ci/run installs it.
`JSONTESTSUITE_FILES` is the third-party JSONTestSuite corpus, read only from
the folder JSONTESTSUITE_DIR names, by tests marked `jsontestsuite` (deselected
unless asked for with `-m jsontestsuite`).
"""
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNDER_CI = os.environ.get("CI", "").lower() == "true"


def _jsontestsuite_files():
    named = os.environ.get("JSONTESTSUITE_DIR")
    if not named:
        return []
    # The corpus's test_parsing folder, or the corpus itself.
    folder = Path(named)
    if (folder / "test_parsing").is_dir():
        folder = folder / "test_parsing"
    return sorted(folder.glob("*.json"))


JSONTESTSUITE_FILES = _jsontestsuite_files()


def corpus_params(files):
    """`files` to parametrize over; one placeholder when there are none, so the test runs and fails."""
    return files or [None]


def pytest_collection_modifyitems(config, items):
    # A -m of one's own (-m "not load") replaces setup.cfg's -m "not jsontestsuite":
    # the corpus tests still run only when the expression names them.
    if "jsontestsuite" in (config.option.markexpr or ""):
        return
    corpus = [item for item in items if item.get_closest_marker("jsontestsuite")]
    if corpus:
        config.hook.pytest_deselected(items=corpus)
        items[:] = [item for item in items if not item.get_closest_marker("jsontestsuite")]


def pytest_runtest_call(item):
    # Selected, the corpus tests fail without their corpus: never a silent skip.
    if item.get_closest_marker("jsontestsuite") and not JSONTESTSUITE_FILES:
        named = os.environ.get("JSONTESTSUITE_DIR")
        pytest.fail("the jsontestsuite tests need JSONTESTSUITE_DIR set to the JSONTestSuite corpus "
                    "(its test_parsing folder, or the folder holding it); "
                    + (f"{named!r} holds no test_parsing/*.json files" if named else "it is not set"),
                    pytrace=False)


def unavailable(message, under_ci=" (under CI, .ci/run must install it)"):
    """Skip the test, saying `message`; under CI, where nothing may skip, fail it, adding `under_ci`."""
    if UNDER_CI:
        pytest.fail(message + under_ci)
    pytest.skip(message)


def require_namespaces():
    """Skip (fail under CI) where this process cannot make the network namespaces of tests/netns.py."""
    import netns  # here, not at the top: most test files need no test hosts

    require(netns.IP)
    if not netns.can_make_namespaces():
        unavailable("cannot make network namespaces here (needs root)", " (CI runs as root)")


def require(program):
    """Path of `program`; skip without it, except under CI, where that is a failure."""
    path = shutil.which(program)
    if path is None:
        message = f"{program} is not installed"
        unavailable(message)
    return path


def require_module(name):
    """Import and return a Python module; skip without it, except under CI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"Python package {name} is not installed"
        unavailable(message)


def require_installed(name):
    """Check that a Python package is installed, without importing it; skip without it, except under CI.

    For packages that are run only in subprocesses: importing chDB blocks
    SIGPIPE in the importing thread, and every later subprocess of the test
    run would inherit that mask (`yes | jsonfilter | head` then has `yes`
    complain of a broken pipe instead of dying quietly).
    """
    if importlib.util.find_spec(name) is None:
        message = f"Python package {name} is not installed"
        unavailable(message)


def run_changed_while_read(cli_env, cwd, args, change):
    """Run `jsonfilter ARGS` in `cwd`; call change() once its first output byte has come.

    From then on it is blocked on its full stdout pipe with, for inputs larger
    than what it holds in flight, most of its input still unread. Returns
    (stdout, stderr, exit status).
    """
    proc = subprocess.Popen(["jsonfilter", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0, env=cli_env)
    try:
        first = proc.stdout.read(1)
        change()
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return first + rest, err, proc.returncode


def copy_tracked_tree(dest):
    """Copy the files git tracks into `dest`: the project as a fresh clone has it."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def shim_bin(tmp_path_factory):
    """A folder holding a `jsonfilter` that runs this tree's code with this Python."""
    folder = tmp_path_factory.mktemp("bin")
    shim = folder / "jsonfilter"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m json_mapper "$@"\n')
    shim.chmod(0o755)
    return folder


@pytest.fixture(scope="session")
def cli_env(shim_bin):
    """Environment for subprocesses: the shim first on PATH, this tree importable."""
    env = dict(os.environ)
    env["PATH"] = f"{shim_bin}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for var in ("mapreduce_task_id", "mapred_task_id", "mapreduce_map_input_file", "map_input_file"):
        env.pop(var, None)
    return env


@pytest.fixture
def run_jsonfilter(cli_env, tmp_path):
    """Run `jsonfilter ARGS` with `stdin` bytes; return the CompletedProcess (bytes)."""

    def run(*args, stdin=b"", cwd=None, timeout=60, env=None):
        return subprocess.run(
            ["jsonfilter", *map(str, args)],
            input=stdin,
            capture_output=True,
            cwd=cwd or tmp_path,
            env={**cli_env, **(env or {})},
            timeout=timeout,
        )

    return run

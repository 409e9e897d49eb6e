"""The engines, each run for real: GNU Parallel, Luigi (local scheduler and
luigid), PySpark (local[2] and a standalone cluster on loopback), Luigi with
PySpark, Luigi's Hadoop JobTask, and jsonfilter as a Hadoop Streaming mapper.

Every output is checked against `jsonfilter` over the same data. The shell
commands docs/scaling.md shows are the templates in
COMMANDS; test_docs_show_the_commands_the_tests_run ties the two together.
Every process a test starts (luigid, Spark's master and workers) is stopped by
its PID when the test session ends, whatever happened.
"""
import collections
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, require, require_module
from markdown_pages import blocks, read, section

EXAMPLES = ROOT / "examples"
# Luigi warns on import about a default of its own that these tests do not use.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:luigi")

TH = "1.5"  # keeps about one generated record in eight: outputs worth comparing
SCALING = "docs/scaling.md"  # the page that shows these engines
FILES = 4
LINES = 10_000  # about 2.3 MB in all: several --pipe blocks of 1 MB

# The shell commands docs/scaling.md shows, with {placeholders}; DOC_VALUES are
# what the page shows in their place, the tests fill in their own.
COMMANDS = {
    "parallel_per_file": "find data -type f | parallel 'jsonfilter -t 1.5 < {} > out/{/}'",
    "parallel_pipe": "cat data/* | parallel --pipe jsonfilter -t 1.5 > out.json",
    "parallel_pipe_ssh": "cat data/* | parallel --pipe -S {sshlogin} jsonfilter -t 1.5 > out.json",
    "parallel_pipepart": "parallel --pipepart -a data/dat_0.json --block -1 -k jsonfilter -t 1.5 > out_0.json",
    "parallel_keep_order": "parallel -k jsonfilter -t 1.5 ::: data/* > out.json",
    "luigi_local": "luigi --module luigi_multiprocess LotsOTasks --local-scheduler --TestTask-threshold 1.5",
    "luigid": "luigid --address {host} --port {luigi_port} --state-path {state}",
    "luigi_workers": "luigi --module luigi_multiprocess LotsOTasks --workers 2 --TestTask-threshold 1.5",
    "luigi_pyspark": "luigi --module luigi_pyspark TestTaskPS --local-scheduler --TestTaskPS-threshold 1.5",
    "luigi_hadoop": "luigi --module luigi_hadoop TestTaskMR --local --local-scheduler --TestTaskMR-threshold 1.5",
    "spark_home": "export SPARK_HOME=\"$(python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')\"",
    "spark_master": '"$SPARK_HOME"/bin/spark-class org.apache.spark.deploy.master.Master'
                    " --host {host} --port {spark_port}",
    "spark_worker": '"$SPARK_HOME"/bin/spark-class org.apache.spark.deploy.worker.Worker'
                    " --cores 1 --memory 1g spark://{host}:{spark_port}",
    "spark_submit": "spark-submit --master spark://{host}:{spark_port} pyspark_mapper.py data out_data7 1.5",
    "streaming_mapper": "mapreduce_task_id=attempt_1_0001_m_000000_0"
                        " mapreduce_map_input_file=hdfs:///user/me/data/dat_0.json"
                        " jsonfilter -t 1.5 < data/dat_0.json > out_0.json",
}
DOC_VALUES = {
    "sshlogin": ":", "host": "HOST", "luigi_port": "8082", "state": "/var/lib/luigi/state.pickle",
    "spark_port": "7077", "spark_submit": "/path/to/venv/bin/spark-submit",
}

# The luigi.cfg the tests use and docs/scaling.md shows. Luigi exits 0 even when a
# task fails unless [retcode] says otherwise. luigid ignores "this task is
# pending again" for 10 s after it was done (a guard against running a task
# twice); the tests delete an output and rerun at once.
LUIGI_CFG = """\
[core]
scheduler_host = {host}
scheduler_port = {luigi_port}

[scheduler]
stable_done_cooldown_secs = 0

[retcode]
already_running = 10
missing_data = 20
not_run = 25
task_failed = 30
scheduling_error = 35
unhandled_exception = 40
"""
SPARK_CFG = """\
[spark]
spark-submit = {spark_submit}
master = local[2]
conf = spark.ui.enabled=false|spark.driver.host=127.0.0.1
"""
TASK_FAILED = 30


# ---------------------------------------------------------------- plumbing

def fill(template, **values):
    """A COMMANDS template with {name} filled in (GNU Parallel's {} and {/} left alone)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)


SCRIPTS = sysconfig.get_path("scripts")  # where pip put luigi, luigid, spark-submit


def tool(name):
    """A program installed with this Python (luigi, spark-submit), else one on PATH."""
    beside = Path(SCRIPTS) / name
    return str(beside) if beside.exists() else require(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(command, cwd, env, timeout=180):
    """Run a shell command; fail the test with its stderr unless it exits 0."""
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr.decode(errors='replace')}"
    return done


def start(command, log, env, cwd):
    """Start a long-running program in its own process group, output to `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen(command, shell=True, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True)


def stop(proc):
    """Stop a program started by `start`, and whatever it started, by its PID.

    start_new_session made its PID its process group's ID, so the signal also
    reaches what it started (the JVM behind a shell, a Spark worker's executors).
    """
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while group_alive(proc) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not group_alive(proc):
            break
    proc.wait()


def group_alive(proc):
    proc.poll()  # reap the leader, or the group looks alive while it is a zombie
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(predicate, what, procs, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        for proc, log in procs:
            if proc.poll() is not None:
                pytest.fail(f"{what}: exited with {proc.returncode}\n{Path(log).read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not ready after {timeout} s")
        time.sleep(0.2)


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def lines_of(paths):
    """Every line of the files, as one multiset."""
    counter = collections.Counter()
    for path in paths:
        counter.update(Path(path).read_bytes().splitlines())
    return counter


def identity(path):
    """What changes when a file is written again (Luigi renames a new file into place)."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """The generated data set, made once: FILES files of LINES records."""
    folder = tmp_path_factory.mktemp("generated") / "data"
    subprocess.run([sys.executable, "-m", "json_mapper.datagen", "--files", str(FILES),
                    "--lines", str(LINES), "--out", str(folder)], check=True, cwd=ROOT)
    return folder


@pytest.fixture
def workdir(tmp_path, data_dir):
    """A fresh folder holding a copy of data/, as the examples expect."""
    shutil.copytree(data_dir, tmp_path / "data")
    (tmp_path / "out").mkdir()
    return tmp_path


@pytest.fixture(scope="session")
def engine_env(cli_env, shim_bin, tmp_path_factory):
    """cli_env, plus the examples importable, Luigi's return codes, Spark on loopback."""
    folder = tmp_path_factory.mktemp("luigi")
    # `python` in the documented commands is this Python, whatever else is on PATH.
    (folder / "bin").mkdir()
    shim = folder / "bin" / "python"
    # A script, not a symlink: a venv's Python finds its venv by the path it was started as.
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    cfg = folder / "luigi.cfg"
    cfg.write_text(fill(LUIGI_CFG, host="127.0.0.1", luigi_port=free_port()))
    env = dict(cli_env)
    # jsonfilter from this tree; python, luigi, luigid and spark-submit as installed with this Python.
    env["PATH"] = os.pathsep.join([str(shim_bin), str(folder / "bin"), SCRIPTS, env["PATH"]])
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), env["PYTHONPATH"]])
    env["LUIGI_CONFIG_PATH"] = str(cfg)
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env.pop("SPARK_HOME", None)  # the pip package's own, found by its scripts
    return env


def expected(run_jsonfilter, paths, *options):
    done = run_jsonfilter("-t", TH, *options, *paths)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


# ---------------------------------------------------------------- docs

def test_docs_show_the_commands_the_tests_run():
    page = read(SCALING)
    for name, template in COMMANDS.items():
        command = fill(template, **DOC_VALUES)
        assert command in page, f"{name}: {command!r} is not in {SCALING}"
    for name, template in [("luigi.cfg", LUIGI_CFG), ("[spark]", SPARK_CFG)]:
        assert fill(template, **DOC_VALUES) in page, f"{name} is not in {SCALING}"


def test_generated_data_ends_every_file_with_a_newline(data_dir):
    # Luigi's LocalJobRunner cuts the last character of every line; the
    # docs say our data never loses a character to it. Hold it to that.
    for path in sorted(data_dir.iterdir()):
        assert path.read_bytes().endswith(b"\n"), path


# ---------------------------------------------------------------- GNU Parallel

@pytest.fixture
def parallel_env(engine_env):
    require("parallel")
    return engine_env


def test_parallel_one_job_per_file(parallel_env, workdir, run_jsonfilter):
    sh(COMMANDS["parallel_per_file"], workdir, parallel_env)
    for path in sorted((workdir / "data").iterdir()):
        assert (workdir / "out" / path.name).read_bytes() == expected(run_jsonfilter, [path])


def test_parallel_pipe_gives_every_record_once(parallel_env, workdir, run_jsonfilter):
    sh(COMMANDS["parallel_pipe"], workdir, parallel_env)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    out = (workdir / "out.json").read_bytes()
    assert collections.Counter(out.splitlines()) == collections.Counter(everything.splitlines())


def test_parallel_pipe_with_sshlogin_colon_runs_here(parallel_env, workdir, run_jsonfilter):
    sh(COMMANDS["parallel_pipe_ssh"].replace("{sshlogin}", ":"), workdir, parallel_env)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    out = (workdir / "out.json").read_bytes()
    assert collections.Counter(out.splitlines()) == collections.Counter(everything.splitlines())


def test_parallel_pipepart_keeps_order(parallel_env, workdir, run_jsonfilter):
    sh(COMMANDS["parallel_pipepart"], workdir, parallel_env)
    assert (workdir / "out_0.json").read_bytes() == expected(run_jsonfilter, [workdir / "data" / "dat_0.json"])


def test_parallel_keep_order_across_files(parallel_env, workdir, run_jsonfilter):
    sh(COMMANDS["parallel_keep_order"], workdir, parallel_env)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    assert (workdir / "out.json").read_bytes() == everything


# ---------------------------------------------------------------- Luigi

@pytest.fixture
def luigi_env(engine_env):
    require_module("luigi")
    tool("luigi")
    return engine_env


def check_luigi_outputs(workdir, run_jsonfilter):
    for n in range(FILES):
        out = workdir / "out_data2" / f"out_{n}.json"
        assert out.read_bytes() == expected(run_jsonfilter, [workdir / "data" / f"dat_{n}.json"]), out


def check_reruns_only_what_is_missing(command, workdir, env, run_jsonfilter):
    """Run a Luigi command three times: all tasks, then none, then the one whose output went."""
    sh(command, workdir, env)
    check_luigi_outputs(workdir, run_jsonfilter)
    outputs = sorted((workdir / "out_data2").iterdir())
    assert len(outputs) == FILES
    before = {p.name: identity(p) for p in outputs}

    sh(command, workdir, env)
    assert {p.name: identity(p) for p in outputs} == before, "a second run rewrote outputs"

    (workdir / "out_data2" / "out_2.json").unlink()
    sh(command, workdir, env)
    after = {p.name: identity(p) for p in outputs}
    assert after["out_2.json"] != before["out_2.json"]
    del after["out_2.json"], before["out_2.json"]
    assert after == before, "tasks whose outputs were there ran again"
    check_luigi_outputs(workdir, run_jsonfilter)


def test_luigi_local_scheduler_reruns_only_what_is_missing(luigi_env, workdir, run_jsonfilter):
    check_reruns_only_what_is_missing(COMMANDS["luigi_local"], workdir, luigi_env, run_jsonfilter)


def test_luigi_failed_task_leaves_no_output(luigi_env, workdir, run_jsonfilter):
    # A bad record after many selected ones: the task has written part of its
    # output when it fails, and none of that may be taken as its output.
    bad = workdir / "data" / "dat_1.json"
    good = bad.read_bytes()
    bad.write_bytes(good + b'{"index": 1, "total": "x"}\n' + good)
    done = subprocess.run(COMMANDS["luigi_local"], shell=True, cwd=workdir, env=luigi_env,
                          capture_output=True, timeout=120)
    assert done.returncode == TASK_FAILED, done.stderr.decode()
    assert b'BadRecord: field "total" is not a number' in done.stderr
    # What Luigi takes for outputs: its temporary file (if the garbage
    # collector has not removed it yet) has another name.
    left = sorted(p.name for p in (workdir / "out_data2").iterdir() if re.fullmatch(r"out_\d+\.json", p.name))
    assert left == ["out_0.json", "out_2.json", "out_3.json"], left

    bad.write_bytes(good)
    sh(COMMANDS["luigi_local"], workdir, luigi_env)
    check_luigi_outputs(workdir, run_jsonfilter)


@pytest.fixture
def luigid(luigi_env, tmp_path):
    """A real luigid on 127.0.0.1, a free port and a scratch state file; stopped by PID.

    Yields (port, env): env points the luigi command at it through luigi.cfg.
    """
    port = free_port()
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text(fill(LUIGI_CFG, host="127.0.0.1", luigi_port=port))
    env = dict(luigi_env, LUIGI_CONFIG_PATH=str(cfg))
    command = fill(COMMANDS["luigid"], host="127.0.0.1", luigi_port=port, state=tmp_path / "state.pickle")
    proc = start(command, tmp_path / "luigid.log", env, tmp_path)
    try:
        wait_for(lambda: port_open(port), "luigid", [(proc, tmp_path / "luigid.log")], timeout=60)
        yield port, env
    finally:
        stop(proc)


def luigid_tasks(port, status):
    query = urllib.parse.urlencode({"data": json.dumps({"status": status})})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/task_list?{query}", timeout=10) as resp:
        return json.load(resp)["response"]


def test_luigi_with_luigid_and_two_workers(luigid, workdir, run_jsonfilter):
    port, env = luigid
    check_reruns_only_what_is_missing(COMMANDS["luigi_workers"], workdir, env, run_jsonfilter)
    # The tasks went through this luigid, not a scheduler of the luigi command's own.
    done = luigid_tasks(port, "DONE")
    names = sorted(task["name"] for task in done.values())
    assert names == ["LotsOTasks"] + ["TestTask"] * FILES, names


def test_luigi_hadoop_jobtask_with_local_runner(luigi_env, workdir, run_jsonfilter):
    # One bad record among good ones: skipped, and reported as a Hadoop counter.
    (workdir / "data" / "dat_9.json").write_bytes(b'{"index": 1.2, "total": 0.9}\nnot json\n')
    done = sh(COMMANDS["luigi_hadoop"], workdir, luigi_env)
    inputs = sorted((workdir / "data").iterdir())
    out = (workdir / "out_data6" / "part-00000").read_bytes()
    assert out == expected(run_jsonfilter, inputs, "--on-error", "skip")
    assert b"reporter:counter:jsonfilter,bad_records,1\n" in done.stderr


def test_luigi_hadoop_local_runner_cuts_an_unended_last_line(luigi_env, workdir):
    # The LocalJobRunner pitfall docs/scaling.md warns about: without a final
    # newline, the last record loses its "}" and becomes a bad record.
    for path in (workdir / "data").iterdir():
        path.unlink()
    (workdir / "data" / "dat_0.json").write_bytes(b'{"index": 1.2, "total": 0.9}\n{"index": 1.3, "total": 0.9}')
    done = sh(COMMANDS["luigi_hadoop"], workdir, luigi_env)
    assert (workdir / "out_data6" / "part-00000").read_bytes() == b'{"index": 1.2, "total": 0.9,"sum_val":2.1}\n'
    assert b"reporter:counter:jsonfilter,bad_records,1\n" in done.stderr


# ---------------------------------------------------------------- Hadoop Streaming mapper

COUNTER_LINE = re.compile(r"reporter:counter:([^,]+),([^,]+),(\d+)")


def streaming_stderr(stderr):
    """Split a streaming mapper's stderr into (counters, other lines), checking the protocol."""
    counters = {}
    messages = []
    for line in stderr.decode().splitlines():
        if line.startswith("reporter:"):
            match = COUNTER_LINE.fullmatch(line)
            assert match, f"not a counter line of the streaming protocol: {line!r}"
            group, name, amount = match.groups()
            assert (group, name) not in counters, f"counter reported twice: {line!r}"
            counters[group, name] = int(amount)
        else:
            messages.append(line)
    return counters, messages


@pytest.mark.parametrize("task_var,file_var", [
    ("mapreduce_task_id", "mapreduce_map_input_file"),
    ("mapred_task_id", "map_input_file"),
])
def test_jsonfilter_as_streaming_mapper_reports_counters(run_jsonfilter, data_dir, task_var, file_var):
    good = (data_dir / "dat_0.json").read_bytes().splitlines(keepends=True)
    bad_lines = [b"not json\n", b'{"index": 1}\n', b"[1, 2]\n"]
    stdin = b"".join(good[:100] + bad_lines[:1] + good[100:200] + bad_lines[1:] + good[200:300])
    env = {task_var: "attempt_1_0001_m_000003_0", file_var: "hdfs://nn:8020/user/me/data/dat_0.json"}
    done = run_jsonfilter("-t", TH, stdin=stdin, env=env)
    assert done.returncode == 1
    plain = run_jsonfilter("-t", TH, stdin=stdin)
    assert done.stdout == plain.stdout
    counters, messages = streaming_stderr(done.stderr)
    assert counters == {
        ("jsonfilter", "records_in"): 303,
        ("jsonfilter", "records_out"): len(plain.stdout.splitlines()),
        ("jsonfilter", "bad_records"): 3,
    }
    # The same messages as without Hadoop, naming the input instead of <stdin>.
    assert messages == [line.replace("<stdin>", "hdfs://nn:8020/user/me/data/dat_0.json")
                        for line in plain.stderr.decode().splitlines()]
    prefix = "jsonfilter: hdfs://nn:8020/user/me/data/dat_0.json:"
    assert all(m.startswith(prefix) for m in messages), messages
    assert [m[len(prefix):].split(":")[0] for m in messages] == ["101", "202", "203"]


def test_streaming_mapper_names_a_split_by_its_start(run_jsonfilter):
    env = {"mapreduce_task_id": "attempt_1_0001_m_000001_0",
           "mapreduce_map_input_file": "hdfs:///d/big.json", "mapreduce_map_input_start": "134217728"}
    done = run_jsonfilter(stdin=b"{}\n", env=env)
    counters, messages = streaming_stderr(done.stderr)
    assert counters[("jsonfilter", "bad_records")] == 1
    assert messages == ['jsonfilter: hdfs:///d/big.json (split from byte 134217728):1: missing field "index"']


def test_streaming_mapper_counts_when_failing(run_jsonfilter):
    stdin = b'{"index": 1, "total": 1}\nnope\n{"index": 1, "total": 1}\n'
    done = run_jsonfilter("--on-error", "fail", stdin=stdin, env={"mapreduce_task_id": "attempt_1_0001_m_000000_0"})
    plain = run_jsonfilter("--on-error", "fail", stdin=stdin)
    assert done.returncode == plain.returncode == 2
    assert done.stdout == plain.stdout
    counters, messages = streaming_stderr(done.stderr)
    assert counters == {("jsonfilter", "records_in"): 2, ("jsonfilter", "records_out"): 1,
                        ("jsonfilter", "bad_records"): 1}
    assert messages == plain.stderr.decode().splitlines()
    assert len(messages) == 1 and messages[0].startswith("jsonfilter: <stdin>:2: ")


def test_streaming_mapper_skipping_still_counts(run_jsonfilter):
    # --on-error skip: exit 0 (a streaming task fails on any other status),
    # no messages, and the bad records still show in the job's counters.
    stdin = b'nope\n{"index": 1, "total": 1}\n[]\n'
    done = run_jsonfilter("--on-error", "skip", stdin=stdin, env={"mapreduce_task_id": "attempt_1_0001_m_000000_0"})
    assert done.returncode == 0
    assert done.stdout == run_jsonfilter("--on-error", "skip", stdin=stdin).stdout != b""
    counters, messages = streaming_stderr(done.stderr)
    assert messages == []
    assert counters == {("jsonfilter", "records_in"): 3, ("jsonfilter", "records_out"): 1,
                        ("jsonfilter", "bad_records"): 2}


def test_no_counters_outside_hadoop(run_jsonfilter):
    done = run_jsonfilter(stdin=b"nope\n")
    assert b"reporter:" not in done.stderr


def test_streaming_mapper_command_from_the_docs(engine_env, workdir, run_jsonfilter):
    done = sh(COMMANDS["streaming_mapper"], workdir, engine_env)
    counters, messages = streaming_stderr(done.stderr)
    out = (workdir / "out_0.json").read_bytes()
    assert out == expected(run_jsonfilter, [workdir / "data" / "dat_0.json"])
    assert messages == []
    assert counters == {("jsonfilter", "records_in"): LINES,
                        ("jsonfilter", "records_out"): len(out.splitlines()),
                        ("jsonfilter", "bad_records"): 0}


# ---------------------------------------------------------------- PySpark

@pytest.fixture(scope="session")
def spark_context(engine_env):
    """One SparkContext (one JVM) for the session: local[2], no UI, loopback only."""
    pyspark = require_module("pyspark")
    require("java")
    saved = dict(os.environ)
    os.environ.update({k: engine_env[k] for k in ("SPARK_LOCAL_IP", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")})
    os.environ.pop("SPARK_HOME", None)
    conf = (pyspark.SparkConf().setMaster("local[2]").setAppName("jsonfilter-tests")
            .set("spark.ui.enabled", "false").set("spark.driver.host", "127.0.0.1")
            .set("spark.driver.bindAddress", "127.0.0.1"))
    sc = pyspark.SparkContext(conf=conf)
    sc.setLogLevel("ERROR")
    try:
        yield sc
    finally:
        sc.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def pyspark_mapper():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import pyspark_mapper
    finally:
        sys.path.remove(str(EXAMPLES))
    return pyspark_mapper


def spark_output(folder):
    parts = sorted(Path(folder).glob("part-*"))
    assert parts and (Path(folder) / "_SUCCESS").exists()
    return lines_of(parts)


def test_pyspark_local(spark_context, pyspark_mapper, data_dir, tmp_path, run_jsonfilter):
    bad = pyspark_mapper.filter_lines(spark_context, str(data_dir), str(tmp_path / "out"), float(TH))
    assert bad == 0
    everything = expected(run_jsonfilter, sorted(data_dir.iterdir()))
    assert spark_output(tmp_path / "out") == collections.Counter(everything.splitlines())


@pytest.fixture
def data_with_bad_records(data_dir, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(data_dir, folder)
    (folder / "dat_9.json").write_bytes(
        b'{"index": 1.2, "total": 0.9}\nnot json\n{"index": 1}\n{"index": 0.9, "total": 0.9}\n[]\n')
    return folder


def test_pyspark_skips_and_counts_bad_records(spark_context, pyspark_mapper, data_with_bad_records,
                                              tmp_path, run_jsonfilter):
    bad = pyspark_mapper.filter_lines(spark_context, str(data_with_bad_records), str(tmp_path / "out"), float(TH))
    assert bad == 3
    everything = expected(run_jsonfilter, sorted(data_with_bad_records.iterdir()), "--on-error", "skip")
    assert spark_output(tmp_path / "out") == collections.Counter(everything.splitlines())


def test_docs_skipping_snippet(spark_context, data_with_bad_records, capsys, run_jsonfilter):
    snippets = [block for block in blocks(section(SCALING, "Spark"), "python") if "skip_bad_records" in block]
    assert len(snippets) == 1
    # Spark resolves relative paths against the JVM's folder, not Python's: make them absolute.
    code = snippets[0]
    out = data_with_bad_records.parent / "out_data7"
    for literal, path in [('"data"', data_with_bad_records), ('"out_data7"', out)]:
        assert literal in code
        code = code.replace(literal, repr(str(path)))
    exec(code, {"sc": spark_context})
    assert capsys.readouterr().out == "3 bad records skipped\n"
    everything = run_jsonfilter("--on-error", "skip", *sorted(data_with_bad_records.iterdir())).stdout
    assert spark_output(out) == collections.Counter(everything.splitlines())


def test_pyspark_plain_map_line_fails_the_job_on_a_bad_record(spark_context, data_with_bad_records):
    # Why the skipping variant exists: plain map_line raises, and Spark fails the job.
    from json_mapper import map_line
    with pytest.raises(Exception, match=r"json_mapper\.record\.BadRecord: (invalid JSON|missing field|not a JSON object)"):
        spark_context.textFile(str(data_with_bad_records / "dat_9.json")).flatMap(map_line).count()


def test_skip_bad_records_without_spark():
    from json_mapper import map_line
    from json_mapper.skipping import Tally, skip_bad_records
    lines = ['{"index": 1.2, "total": 0.9}', "nope", '{"index": 0.2, "total": 0.1}', "[]", ""]
    tally = Tally()
    mapper = skip_bad_records(tally, 1.5)
    out = [record for line in lines for record in mapper(line)]
    assert out == list(map_line(lines[0], 1.5))
    assert tally.value == 2


@pytest.fixture
def bare_python(tmp_path):
    """A Python with orjson and pyspark but not json_mapper, as on a fresh worker machine."""
    folder = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    deps = tmp_path / "bare-deps"
    deps.mkdir()
    for name in ("orjson", "pyspark", "py4j"):
        (deps / name).symlink_to(importlib.util.find_spec(name).submodule_search_locations[0])
    site = next(folder.glob("lib/python*/site-packages"))
    (site / "deps.pth").write_text(f"{deps}\n")
    python = folder / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import orjson, pyspark, json_mapper"],
                           capture_output=True, cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    assert b"No module named 'json_mapper'" in probe.stderr, probe.stderr
    return python


@pytest.fixture
def spark_cluster(engine_env, tmp_path):
    """A standalone master and two workers on loopback, from the pip package; stopped by PID."""
    require_module("pyspark")
    require("java")
    env = dict(engine_env)
    env.pop("SPARK_HOME", None)
    # Nothing from this source tree: executors must get json_mapper from the job.
    env.pop("PYTHONPATH", None)
    env["SPARK_WORKER_DIR"] = str(tmp_path / "work")
    env["SPARK_LOG_DIR"] = str(tmp_path / "logs")
    port = free_port()
    home = COMMANDS["spark_home"] + " && "
    master = home + fill(COMMANDS["spark_master"], host="127.0.0.1", spark_port=port) + f" --webui-port {free_port()}"
    procs = []
    try:
        log = tmp_path / "master.log"
        procs.append((start(master, log, env, tmp_path), log))
        for n in (1, 2):
            worker = home + fill(COMMANDS["spark_worker"], host="127.0.0.1", spark_port=port) + \
                f" --host 127.0.0.1 --webui-port {free_port()} --work-dir {tmp_path / 'work'}"
            wlog = tmp_path / f"worker{n}.log"
            procs.append((start(worker, wlog, env, tmp_path), wlog))
        wait_for(lambda: log.read_text().count("Registering worker") >= 2, "Spark standalone cluster", procs)
        yield port, env
    finally:
        for proc, _ in procs:
            stop(proc)


def test_pyspark_on_a_standalone_cluster(spark_cluster, bare_python, workdir, run_jsonfilter):
    port, env = spark_cluster
    env = dict(env, PYSPARK_PYTHON=str(bare_python))  # executors must get json_mapper from the job
    shutil.copy(EXAMPLES / "pyspark_mapper.py", workdir)
    command = fill(COMMANDS["spark_submit"], host="127.0.0.1", spark_port=port)
    command = command.replace("spark-submit", f"{tool('spark-submit')} --conf spark.ui.enabled=false", 1)
    sh(command, workdir, env, timeout=300)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    assert spark_output(workdir / "out_data7") == collections.Counter(everything.splitlines())


def test_luigi_pyspark_through_spark_submit(luigi_env, workdir, tmp_path, run_jsonfilter):
    require_module("pyspark")
    require("java")
    cfg = tmp_path / "luigi-spark.cfg"
    cfg.write_text(fill(LUIGI_CFG, host="127.0.0.1", luigi_port=free_port()) + "\n" +
                   fill(SPARK_CFG, spark_submit=tool("spark-submit")))
    env = dict(luigi_env, LUIGI_CONFIG_PATH=str(cfg))
    sh(COMMANDS["luigi_pyspark"], workdir, env, timeout=300)
    assert spark_output(workdir / "out_data3") == collections.Counter(
        expected(run_jsonfilter, [workdir / "data" / "dat_0.json"]).splitlines())

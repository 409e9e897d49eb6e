"""The engines, each run for real: GNU Parallel, Luigi (local scheduler and
luigid), PySpark (local[2] and a standalone cluster on loopback), jsonfilter
under Spark's RDD.pipe and under mrjob's local runner, Luigi with PySpark,
Luigi's Hadoop JobTask, and jsonfilter as a Hadoop Streaming mapper. The same
on hosts of a real network: tests/test_hosts.py.

Every output is checked against `jsonfilter` over the same data. The shell
commands docs/scaling.md shows are the templates in
COMMANDS; test_docs_show_the_commands_the_tests_run ties the two together.
Every process a test starts (luigid, Spark's master and workers) is stopped by
its PID when the test session ends, whatever happened.
"""
import collections
import contextlib
import importlib.util
import json
import os
import re
import shutil
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
from netns import stop

EXAMPLES = ROOT / "examples"
# Luigi warns on import about a default of its own that these tests do not use.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:luigi"),
              pytest.mark.filterwarnings("ignore:.pipes. is deprecated:DeprecationWarning")]

TH = "1.5"  # keeps about one generated record in eight: outputs worth comparing
SCALING = "docs/scaling.md"  # the page that shows these engines
FILES = 4
LINES = 10_000  # about 2.3 MB in all: several --pipe blocks of 1 MB

# The shell commands docs/scaling.md shows, with {placeholders}; DOC_VALUES are
# what the page shows in their place, the tests fill in their own.
COMMANDS = {
    "parallel_per_file": "mkdir out\nfind data -type f | parallel 'jsonfilter -t 1.5 < {} > out/{/}'",
    "parallel_pipe": "cat data/* | parallel --pipe jsonfilter -t 1.5 > out.json",
    "parallel_pipe_ssh": "cat data/* | parallel --pipe -S {sshlogin} jsonfilter -t 1.5 > out.json",
    "parallel_per_file_ssh": "mkdir out\n"
                             "find data -type f | "
                             "parallel -S {sshlogin} --workdir . 'jsonfilter -t 1.5 < {} > out/{/}'",
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
    "spark_submit_pipe": "spark-submit --master spark://{host}:{spark_port} spark_pipe.py data out_data9 1.5",
    "spark_pipe_script": "python spark_pipe.py data out_data9 1.5",
    "mrjob_local": "python mrjob_jsonfilter.py -r local data/*.json -o out_data10 --threshold 1.5",
    "streaming_mapper": "mapreduce_task_id=attempt_1_0001_m_000000_0"
                        " mapreduce_map_input_file=hdfs:///user/me/data/dat_0.json"
                        " jsonfilter -t 1.5 < data/dat_0.json > out_0.json",
}
DOC_VALUES = {
    "sshlogin": "server1,server2", "host": "HOST", "luigi_port": "8082", "state": "/var/lib/luigi/state.pickle",
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
    """Run a shell command (stopping at the first failing line); fail the test with its stderr unless it exits 0."""
    done = subprocess.run("set -e\n" + command, shell=True, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr.decode(errors='replace')}"
    return done


def start(command, log, env, cwd):
    """Start a long-running program in its own process group, output to `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen(command, shell=True, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True)


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


def test_luigi_hadoop_jobtask_keeps_lines_whole_on_a_cluster(luigi_env):
    # On a real cluster a map-only job splits each output line at its first
    # tab and writes a line with none as `line TAB`; keyonlytext keeps it whole.
    # (No cluster here: what the task hands hadoop jar is what can be checked.)
    luigi_hadoop = example("luigi_hadoop")
    jobconfs = luigi_hadoop.TestTaskMR(local=False).jobconfs()
    assert "stream.map.output=keyonlytext" in jobconfs
    assert "mapred.reduce.tasks=0" in jobconfs


# ---------------------------------------------------------------- mrjob

@pytest.fixture
def mrjob_env(engine_env):
    if sys.version_info >= (3, 12):
        pytest.skip("mrjob 0.7.4 imports distutils, which Python 3.12 removed (the engines extra leaves it out)")
    require_module("mrjob")
    return engine_env


def test_mrjob_local_runner_with_jsonfilter_as_mapper(mrjob_env, data_with_bad_records, tmp_path, monkeypatch,
                                                      run_jsonfilter):
    # mrjob's local runner runs mapper_cmd as Hadoop Streaming would: in
    # tasks over splits of the inputs, with the task's variables set, and
    # sums the reporter:counter: lines of every task into job counters.
    monkeypatch.setenv("PATH", mrjob_env["PATH"])
    monkeypatch.setenv("PYTHONPATH", mrjob_env["PYTHONPATH"])
    job_class = example("mrjob_jsonfilter").MRJsonFilter
    inputs = sorted(data_with_bad_records.iterdir())
    job = job_class(["-r", "local", "--threshold", TH, "--no-conf", *map(str, inputs), "-o", str(tmp_path / "out")])
    with job.make_runner() as runner:
        runner.run()
        counters = runner.counters()
    everything = expected(run_jsonfilter, inputs, "--on-error", "skip")
    assert lines_of((tmp_path / "out").glob("part-*")) == collections.Counter(everything.splitlines())
    assert counters == [{"jsonfilter": {"records_in": FILES * LINES + 5,
                                        "records_out": len(everything.splitlines()), "bad_records": 3}}]


def test_mrjob_command_from_the_docs(mrjob_env, workdir, run_jsonfilter):
    shutil.copy(EXAMPLES / "mrjob_jsonfilter.py", workdir)
    done = sh(COMMANDS["mrjob_local"], workdir, mrjob_env)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    assert lines_of((workdir / "out_data10").glob("part-*")) == collections.Counter(everything.splitlines())
    assert f"records_out={len(everything.splitlines())}" in done.stderr.decode()


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


def example(name):
    """Import examples/NAME.py."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="session")
def pyspark_mapper():
    return example("pyspark_mapper")


@pytest.fixture(scope="session")
def spark_pipe():
    return example("spark_pipe")


def spark_output(folder):
    parts = sorted(Path(folder).glob("part-*"))
    assert parts and (Path(folder) / "_SUCCESS").exists()
    return lines_of(parts)


def test_pyspark_local(spark_context, pyspark_mapper, data_dir, tmp_path, run_jsonfilter):
    bad = pyspark_mapper.filter_lines(spark_context, str(data_dir), str(tmp_path / "out"), float(TH))
    assert bad == 0
    everything = expected(run_jsonfilter, sorted(data_dir.iterdir()))
    assert spark_output(tmp_path / "out") == collections.Counter(everything.splitlines())


def test_spark_pipe_local(spark_context, spark_pipe, data_with_bad_records, tmp_path, run_jsonfilter, monkeypatch,
                          engine_env):
    # RDD.pipe gives the command only the environment filter_lines passes: the PATH it reads here.
    monkeypatch.setenv("PATH", engine_env["PATH"])
    monkeypatch.setenv("PYTHONPATH", engine_env["PYTHONPATH"])
    spark_pipe.filter_lines(spark_context, str(data_with_bad_records), str(tmp_path / "out"), float(TH))
    everything = expected(run_jsonfilter, sorted(data_with_bad_records.iterdir()), "--on-error", "skip")
    assert spark_output(tmp_path / "out") == collections.Counter(everything.splitlines())


def test_spark_pipe_fails_the_job_when_jsonfilter_fails(spark_context, spark_pipe, data_dir, tmp_path, monkeypatch):
    # checkCode=True: a command that exits non-zero fails its task, and so
    # the job, instead of passing with whatever it wrote.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "jsonfilter").write_text("#!/bin/sh\ncat >/dev/null\necho 'jsonfilter: trouble' >&2\nexit 2\n")
    (fake / "jsonfilter").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(Exception, match="PIPE_FUNCTION_EXITED"):
        spark_pipe.filter_lines(spark_context, str(data_dir / "dat_0.json"), str(tmp_path / "out"), float(TH))


def test_spark_pipe_as_a_plain_script(spark_env, workdir, run_jsonfilter):
    # Not under spark-submit: the script picks local cores itself.
    shutil.copy(EXAMPLES / "spark_pipe.py", workdir)
    sh(COMMANDS["spark_pipe_script"], workdir, spark_env, timeout=300)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    assert spark_output(workdir / "out_data9") == collections.Counter(everything.splitlines())


@pytest.fixture
def spark_env(engine_env):
    require_module("pyspark")
    require("java")
    # The script's own SparkContext, with no UI (no port to pick) and on loopback.
    return dict(engine_env, PYSPARK_SUBMIT_ARGS="--conf spark.ui.enabled=false pyspark-shell")


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
    bad_record = r"json_mapper\.record\.BadRecord: (invalid JSON|missing field|not a JSON object)"
    with pytest.raises(Exception, match=bad_record):
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


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A Python with orjson and pyspark but not json_mapper, as on a fresh worker machine."""
    tmp_path = tmp_path_factory.mktemp("bare-python")
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


@contextlib.contextmanager
def spark_cluster_on(folder, env, address, launch):
    """A standalone master on host "master" and a worker on "worker1" and "worker2"; stopped by PID.

    launch(host, command, log, env) starts a shell command on a host and
    returns its Popen; address(host) is the host's address. Yields the
    master's port, its web UI's port and the workers' work folders.
    """
    env = dict(env)
    env.pop("SPARK_HOME", None)
    # Nothing from this source tree: executors must get json_mapper from the job.
    env.pop("PYTHONPATH", None)
    env["SPARK_LOG_DIR"] = str(folder / "logs")
    port, ui_port = free_port(), free_port()
    home = COMMANDS["spark_home"] + " && "
    master = address("master")
    procs = []
    work_dirs = []
    try:
        log = folder / "master.log"
        command = home + fill(COMMANDS["spark_master"], host=master, spark_port=port) + f" --webui-port {ui_port}"
        procs.append((launch("master", command, log, dict(env, SPARK_LOCAL_IP=master)), log))
        for host in ("worker1", "worker2"):
            work = folder / host
            work_dirs.append(work)
            command = home + fill(COMMANDS["spark_worker"], host=master, spark_port=port) + \
                f" --host {address(host)} --webui-port {free_port()} --work-dir {work}"
            wlog = folder / f"{host}.log"
            procs.append((launch(host, command, wlog, dict(env, SPARK_LOCAL_IP=address(host))), wlog))
        wait_for(lambda: log.read_text().count("Registering worker") >= 2, "Spark standalone cluster", procs)
        yield port, ui_port, work_dirs
    finally:
        for proc, _ in procs:
            stop(proc)


# "Finished task 3.0 in stage 0.0": task 3, its first attempt, in stage 0.
FINISHED_TASK = re.compile(r"Executor: Finished task (\d+)\.\d+ in stage (\d+)\.\d+")


def check_ran_on_cluster(status, apps_before, app_name, work_dirs, output):
    """Prove a job ran on the standalone cluster, not in a local[*] of its own.

    `status` is the master's /json/ page after the job, `apps_before` the IDs
    of the applications it knew before. The master must list exactly one new
    application, `app_name`, as finished; each worker's work folder must hold
    an executor of it; and the executors' logs must show as many tasks
    finished as the job wrote output parts (one task for each). A task run
    twice (a speculative copy, or a rerun after an executor was slow to
    answer on a loaded machine) counts once. A job run in local mode meets
    none of these.
    """
    new = [app for app in status["completedapps"] + status["activeapps"] if app["id"] not in apps_before]
    assert [(app["name"], app["state"]) for app in new] == [(app_name, "FINISHED")], \
        f"the master lists no finished {app_name} application: {json.dumps(status)[:2000]}"
    app_id = new[0]["id"]
    finished = set()  # (stage, task)
    for work in work_dirs:
        executors = sorted((work / app_id).glob("*/stderr"))
        assert executors, f"no executor of {app_id} in the work folder {work}"
        for log in executors:
            finished.update((stage, task) for task, stage in FINISHED_TASK.findall(log.read_text()))
    assert len(finished) == len(list(Path(output).glob("part-*"))), \
        f"tasks did not all run on the executors: {sorted(finished)}"


def apps_of(status):
    return {app["id"] for app in status["completedapps"] + status["activeapps"]}


def master_status(ui_port, host="127.0.0.1"):
    with urllib.request.urlopen(f"http://{host}:{ui_port}/json/", timeout=10) as resp:
        return json.load(resp)


def idle_workers(status_of, count=2, timeout=120):
    """The master's /json/ status (from `status_of()`) once `count` workers are alive with every core free.

    Only then can every worker take an executor of the next job, as
    check_ran_on_cluster asks: a worker still registering, or still busy
    with the last job's executor, would leave the job to the other.
    """
    deadline = time.monotonic() + timeout
    while True:
        status = status_of()
        idle = [w for w in status["workers"] if w["state"] == "ALIVE" and w["coresfree"] == w["cores"]]
        if len(idle) >= count:
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"Spark workers not alive and idle after {timeout} s: {json.dumps(status)[:2000]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def spark_cluster(engine_env, tmp_path_factory):
    """A standalone master and two workers on loopback, from the pip package; stopped by PID."""
    require_module("pyspark")
    require("java")
    folder = tmp_path_factory.mktemp("spark-cluster")

    def launch(host, command, log, env):
        return start(command, log, env, folder)

    with spark_cluster_on(folder, engine_env, lambda host: "127.0.0.1", launch) as cluster:
        yield cluster


def submit_env(env, bare_python):
    """spark-submit's environment: executors get a Python without json_mapper, as on a fresh worker."""
    env = dict(env, PYSPARK_PYTHON=str(bare_python))
    env.pop("SPARK_HOME", None)
    return env


def spark_submit_command(name, host, port):
    """A spark-submit command of docs/scaling.md, with no UI (no port to pick) as the tests run it."""
    command = fill(COMMANDS[name], host=host, spark_port=port)
    return command.replace("spark-submit", f"{tool('spark-submit')} --conf spark.ui.enabled=false", 1)


def test_pyspark_on_a_standalone_cluster(spark_cluster, bare_python, workdir, run_jsonfilter, engine_env):
    port, ui_port, work_dirs = spark_cluster
    env = submit_env(engine_env, bare_python)
    env.pop("PYTHONPATH")  # the driver too: json_mapper comes from the installed package
    shutil.copy(EXAMPLES / "pyspark_mapper.py", workdir)
    before = apps_of(idle_workers(lambda: master_status(ui_port)))
    sh(spark_submit_command("spark_submit", "127.0.0.1", port), workdir, env, timeout=300)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    assert spark_output(workdir / "out_data7") == collections.Counter(everything.splitlines())
    check_ran_on_cluster(master_status(ui_port), before, "jsonfilter", work_dirs, workdir / "out_data7")


def test_spark_pipe_on_a_standalone_cluster(spark_cluster, bare_python, workdir, run_jsonfilter, engine_env):
    port, ui_port, work_dirs = spark_cluster
    # The driver's PATH and PYTHONPATH reach jsonfilter on the executors through RDD.pipe's env.
    env = submit_env(engine_env, bare_python)
    shutil.copy(EXAMPLES / "spark_pipe.py", workdir)
    before = apps_of(idle_workers(lambda: master_status(ui_port)))
    sh(spark_submit_command("spark_submit_pipe", "127.0.0.1", port), workdir, env, timeout=300)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    assert spark_output(workdir / "out_data9") == collections.Counter(everything.splitlines())
    check_ran_on_cluster(master_status(ui_port), before, "jsonfilter-pipe", work_dirs, workdir / "out_data9")


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

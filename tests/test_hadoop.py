"""The Hadoop jobs on a real Hadoop cluster: HDFS and YARN on three test hosts.

The cluster (tests/hadoop_cluster.py) is Apache Hadoop's own jars from Maven
Central (.ci/run fetches them into build/hadoop/lib), each daemon a JVM of
its own: the NameNode, the ResourceManager and the JobHistoryServer on host
"master", a DataNode and a NodeManager on "worker1" and on "worker2". The
hosts are the network namespaces of tests/netns.py. It comes up once for the
whole run; the jobs run from the master, as a user's would from a client.

Each job's output is compared with `jsonfilter` over the same data, and each
is proven to have run on the cluster: the ResourceManager's REST API lists
its application, finished and succeeded, of the right type, and both
workers' NodeManagers hold containers of it. A job that ran locally
(`mapreduce.framework.name=local`, `--master local[2]`) has no application
there, and fails these tests.
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hadoop_cluster as hc
import netns
from conftest import ROOT, require, require_module, require_namespaces, unavailable
from markdown_pages import read
from test_engines import (  # noqa: F401
    EXAMPLES,
    FILES,
    FINISHED_TASK,
    LINES,
    SCALING,
    SCRIPTS,
    TH,
    data_dir,
    engine_env,
    expected,
    fill,
    spark_output,
    tool,
)

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:luigi"),
              pytest.mark.filterwarnings("ignore:.pipes. is deprecated:DeprecationWarning")]

# The commands docs/scaling.md shows for the cluster; the tests run them as written.
COMMANDS = {
    "streaming": "hadoop jar \"$HADOOP_STREAMING_JAR\" -D mapreduce.job.reduces=0 -D stream.map.output=keyonlytext"
                 " -input data -output out_data8 -mapper 'jsonfilter --on-error skip -t 1.5'",
    "luigi": "luigi --module luigi_hadoop TestTaskMR --local-scheduler --TestTaskMR-threshold 1.5",
    "spark_submit": "spark-submit --master yarn pyspark_mapper.py data out_data7 1.5",
    "spark_submit_pipe": "spark-submit --master yarn spark_pipe.py data out_data9 1.5",
    "luigi_pyspark": "luigi --module luigi_pyspark TestTaskPS --local-scheduler --TestTaskPS-threshold 1.5",
    "mrjob": "python mrjob_jsonfilter.py -r hadoop --jobconf stream.map.output=keyonlytext"
             " hdfs:///user/me/data -o hdfs:///user/me/out_data10",
}
# The [spark] section for Luigi's PySparkTask on YARN (spark-submit reads the
# rest from SPARK_CONF_DIR's spark-defaults.conf).
SPARK_YARN_CFG = """\
[spark]
spark-submit = {spark_submit}
master = yarn
py-packages = json_mapper
conf = spark.hadoop.fs.defaultFS=file:///
"""
# Bad lines among the good, in two of the files; and a file of bad lines
# alone (its own split: the task exits 0 and counts them).
BAD_LINES = {1: [b"not json", b'{"index": 1}'], 3: [b"[]"]}
ALL_BAD = [b"nope", b'{"index": "x", "total": 1}', b'{"total": 1}', b"{", b"17"]
BAD_FILES = FILES + 1
RUNNING_APP = re.compile(rb"(?:Submitted application|Application report for) (application_\d+_\d+)")


# ---------------------------------------------------------------- the cluster

@pytest.fixture(scope="session")
def hadoop(engine_env, data_dir, tmp_path_factory):
    """The cluster, with the test data in HDFS as `data` (relative paths are under /user/root)."""
    require("java")
    require("unshare")
    if not (hc.LIB / f"hadoop-common-{hc.VERSION}.jar").exists() or not hc.streaming_jar():
        unavailable(f"the Hadoop jars are not in {hc.LIB} (.ci/run fetches them with Maven)", "")
    require_namespaces()
    folder = tmp_path_factory.mktemp("hadoop")
    # The jsonfilter "installed on every node": this tree's, whatever the
    # containers' environment (YARN gives them the NodeManager's PATH, no more).
    nodes_bin = folder / "node-bin"
    nodes_bin.mkdir()
    shim = nodes_bin / "jsonfilter"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m json_mapper "$@"\n')
    shim.chmod(0o755)
    path = os.pathsep.join([str(nodes_bin), SCRIPTS, "/usr/local/bin", "/usr/bin", "/bin"])
    with netns.Network(hc.HOSTS, tag=f"jh{os.getpid()}") as net:
        cluster = hc.Cluster(folder / "cluster", hc.Namespaces(net), path=path)
        try:
            cluster.start()
            cluster.hdfs_cmd("-put", str(data_dir), "data")
            yield cluster
        finally:
            cluster.stop()
        assert net.outside() == [], "a process of the cluster runs outside the test hosts"
    assert hc.leftovers(cluster.folder) == [], "a process of the cluster outlived it"


@pytest.fixture
def client(hadoop, engine_env, tmp_path):
    """Run a shell command on the master, in a fresh folder, as a user of the cluster would."""
    env = hadoop.client_env(engine_env)
    env["HADOOP_STREAMING_JAR"] = str(hc.streaming_jar())
    env.update(hadoop.spark_env())

    def run(command, timeout=600, check=True, **extra):
        start = time.monotonic()
        done = subprocess.run(hadoop.hosts.command("master", ["sh", "-c", "set -e\n" + command]),
                              cwd=tmp_path, env={**env, **extra}, capture_output=True, timeout=timeout)
        # Each command's wall time, for docs/scaling.md (nothing asserts on it).
        with open(hadoop.folder / "times.tsv", "a") as times:
            times.write(f"{time.monotonic() - start:.1f}\t{command}\n")
        if check:
            message = done.stderr.decode(errors="replace")[-5000:]
            assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{message}"
        return done

    run.folder = tmp_path
    run.env = env
    return run


def app_id_of(stderr):
    """The YARN application a client's stderr names (a local run names none)."""
    ids = set(RUNNING_APP.findall(stderr))
    assert len(ids) == 1, f"no single YARN application in the client's output: {sorted(ids)}\n" + \
        stderr.decode(errors="replace")[-3000:]
    return ids.pop().decode()


def check_ran_on_yarn(cluster, app_id, app_type, tasks):
    """Prove the application ran on the cluster, and its `tasks` tasks in containers of both workers.

    The ResourceManager lists it FINISHED and SUCCEEDED, of type `app_type`;
    each worker's NodeManager kept the logs of at least one container of it;
    and those logs show `tasks` tasks done (a MapReduce task's syslog says
    "Task 'attempt_..._m_...' done", a Spark executor's stderr "Finished task"),
    a task that took two attempts counted once.
    """
    app = cluster.get_json(f"{cluster.rm_url}/ws/v1/cluster/apps/{app_id}")["app"]
    assert (app["state"], app["finalStatus"], app["applicationType"]) == ("FINISHED", "SUCCEEDED", app_type), app
    containers = cluster.containers_of(app_id)
    assert all(containers.values()), f"{app_id} ran no container on some worker: {containers}"
    done = set()  # the tasks done, each once however many attempts it took
    for folders in containers.values():
        for folder in folders:
            if app_type == "MAPREDUCE":
                syslog = (folder / "syslog").read_text(errors="replace") if (folder / "syslog").exists() else ""
                done.update(re.findall(r"Task 'attempt_\d+_\d+_m_(\d+)_\d+' done", syslog))
            else:
                done.update(FINISHED_TASK.findall((folder / "stderr").read_text(errors="replace")))
    assert len(done) == tasks, f"{app_id}: {len(done)} tasks done in the workers' containers, not {tasks}"
    return app


def hdfs_parts(cluster, folder):
    """The part-* files of an HDFS folder, each file's bytes, in name order (after a _SUCCESS)."""
    local = Path(cluster.folder) / "got" / f"{folder}-{time.monotonic_ns()}"
    local.parent.mkdir(exist_ok=True)
    cluster.hdfs_cmd("-get", folder, str(local))  # one JVM for the whole folder
    assert (local / "_SUCCESS").exists(), sorted(local.iterdir())
    return [path.read_bytes() for path in sorted(local.glob("part-*"))]


def per_file(run_jsonfilter, folder, *options):
    return sorted(expected(run_jsonfilter, [path], *options) for path in sorted(Path(folder).iterdir()))


@pytest.fixture(scope="session")
def data_with_bad_lines(hadoop, data_dir, tmp_path_factory):
    """The test data with BAD_LINES among the good, here and in HDFS as `data_bad`."""
    folder = tmp_path_factory.mktemp("hadoop-bad") / "data_bad"
    shutil.copytree(data_dir, folder)
    for n, bad in BAD_LINES.items():
        path = folder / f"dat_{n}.json"
        lines = path.read_bytes().splitlines(keepends=True)
        for k, line in enumerate(bad):
            lines.insert(len(lines) * (k + 1) // (len(bad) + 1), line + b"\n")
        path.write_bytes(b"".join(lines))
    (folder / "dat_bad.json").write_bytes(b"".join(line + b"\n" for line in ALL_BAD))
    hadoop.hdfs_cmd("-put", str(folder), "data_bad")
    return folder


def test_docs_show_the_commands():
    page = read(SCALING)
    for name, command in COMMANDS.items():
        assert command in page, f"{name}: {command!r} is not in {SCALING}"
    assert fill(SPARK_YARN_CFG, spark_submit="/path/to/venv/bin/spark-submit") in page


# ---------------------------------------------------------------- Hadoop Streaming

def test_streaming_jsonfilter_mapper_on_yarn(hadoop, client, data_with_bad_lines, run_jsonfilter):
    command = COMMANDS["streaming"].replace("-input data ", "-input data_bad ")
    done = client(command)
    app = check_ran_on_yarn(hadoop, app_id_of(done.stderr), "MAPREDUCE", BAD_FILES)
    # One split a file, one part a split: each part is jsonfilter's output of one file, byte for byte.
    assert sorted(hdfs_parts(hadoop, "out_data8")) == per_file(run_jsonfilter, data_with_bad_lines,
                                                                "--on-error", "skip")
    everything = expected(run_jsonfilter, sorted(data_with_bad_lines.iterdir()), "--on-error", "skip")
    job_id = app["id"].replace("application_", "job_")
    counters = hadoop.job_counters(job_id)["jsonfilter"]
    bad = sum(len(lines) for lines in BAD_LINES.values()) + len(ALL_BAD)
    assert counters == {"records_in": FILES * LINES + bad, "records_out": len(everything.splitlines()),
                        "bad_records": bad}


# ---------------------------------------------------------------- Luigi

def test_luigi_job_task_on_yarn(hadoop, client, run_jsonfilter, data_dir):
    # The blog's command, without --local: the input is `data` in HDFS, the
    # output `out_data6` there, and the job runs through hadoop jar.
    cfg = client.folder / "luigi.cfg"
    cfg.write_text(hadoop.luigi_cfg())
    done = client(COMMANDS["luigi"], LUIGI_CONFIG_PATH=str(cfg))
    check_ran_on_yarn(hadoop, app_id_of(done.stderr), "MAPREDUCE", FILES)
    parts = hdfs_parts(hadoop, "out_data6")
    assert sorted(parts) == per_file(run_jsonfilter, data_dir)
    assert not any(b"\t" in part for part in parts)


# ---------------------------------------------------------------- Spark on YARN

@pytest.mark.parametrize("script,command,out", [
    ("pyspark_mapper.py", "spark_submit", "out_data7"),
    ("spark_pipe.py", "spark_submit_pipe", "out_data9"),
])
def test_spark_on_yarn(hadoop, client, run_jsonfilter, data_dir, script, command, out):
    require_module("pyspark")
    shutil.copy(EXAMPLES / script, client.folder)
    done = client(COMMANDS[command].replace("spark-submit", tool("spark-submit"), 1))
    parts = hdfs_parts(hadoop, out)
    check_ran_on_yarn(hadoop, app_id_of(done.stderr), "SPARK", len(parts))
    everything = expected(run_jsonfilter, sorted(data_dir.iterdir()))
    lines = collections.Counter(line for part in parts for line in part.splitlines())
    assert lines == collections.Counter(everything.splitlines())


def test_luigi_pyspark_task_on_yarn(hadoop, client, run_jsonfilter, data_dir):
    # examples/luigi_pyspark.py's TestTaskPS through spark-submit --master
    # yarn. Its targets are local files: the job reads and writes the folder
    # the hosts share (file:///), and Luigi ships json_mapper to the executors.
    require_module("pyspark")
    shutil.copytree(data_dir, client.folder / "data")
    cfg = client.folder / "luigi.cfg"
    cfg.write_text(hadoop.luigi_cfg() + "\n" + fill(SPARK_YARN_CFG, spark_submit=tool("spark-submit")))
    before = {app["id"] for app in hadoop.apps()}
    client(COMMANDS["luigi_pyspark"], LUIGI_CONFIG_PATH=str(cfg))
    # Luigi keeps spark-submit's stderr to itself when it succeeds: the new
    # application is the one the ResourceManager did not list before.
    new = [app for app in hadoop.apps() if app["id"] not in before]
    assert [app["name"] for app in new] == ["TestTaskPS"], new
    parts = sorted((client.folder / "out_data3").glob("part-*"))
    check_ran_on_yarn(hadoop, new[0]["id"], "SPARK", len(parts))
    assert spark_output(client.folder / "out_data3") == collections.Counter(
        expected(run_jsonfilter, [data_dir / "dat_0.json"]).splitlines())


# ---------------------------------------------------------------- mrjob

MRJOB_RUN = """\
import json, logging, sys
from mrjob_jsonfilter import MRJsonFilter
logging.basicConfig(level=logging.INFO)  # mrjob's log: what hadoop jar said
job = MRJsonFilter(sys.argv[1:])
with job.make_runner() as runner:
    runner.run()
    print(json.dumps(runner.counters()))
"""


def test_mrjob_hadoop_runner(hadoop, client, data_with_bad_lines, run_jsonfilter):
    if sys.version_info >= (3, 12):
        pytest.skip("mrjob 0.7.4 imports distutils, which Python 3.12 removed (the engines extra leaves it out)")
    require_module("mrjob")
    # The command docs/scaling.md shows, with the cluster's hadoop and jar,
    # run through mrjob's runner to read runner.counters().
    (client.folder / "run_mrjob.py").write_text(MRJOB_RUN)
    args = COMMANDS["mrjob"].split(" ", 2)[2]
    args = args.replace("hdfs:///user/me/data", "hdfs:///user/root/data_bad").replace("/user/me/", "/user/root/")
    done = client(f'{sys.executable} run_mrjob.py {args} --threshold {TH} --no-conf'
                  ' --hadoop-bin "$(command -v hadoop)" --hadoop-streaming-jar "$HADOOP_STREAMING_JAR"')
    check_ran_on_yarn(hadoop, app_id_of(done.stderr), "MAPREDUCE", BAD_FILES)
    assert sorted(hdfs_parts(hadoop, "out_data10")) == per_file(run_jsonfilter, data_with_bad_lines,
                                                                 "--on-error", "skip")
    everything = expected(run_jsonfilter, sorted(data_with_bad_lines.iterdir()), "--on-error", "skip")
    bad = sum(len(lines) for lines in BAD_LINES.values()) + len(ALL_BAD)
    # One step; its counters are Hadoop's own groups and jsonfilter's.
    counters = json.loads(done.stdout.decode().splitlines()[-1])
    assert [step["jsonfilter"] for step in counters] == [{
        "records_in": FILES * LINES + bad, "records_out": len(everything.splitlines()), "bad_records": bad}]


# ---------------------------------------------------------------- faults

KILLED_ONCE = """\
#!/bin/sh
# jsonfilter, except in the first attempt of the first map task: there it is
# killed (SIGKILL) after reading part of its split, and the attempt fails.
case "$mapreduce_task_attempt_id" in
*_m_000000_0)
    { head -n 3000; sleep 30; } | jsonfilter "$@" &
    sleep 3
    kill -9 $!
    wait $!
    exit ;;
esac
exec jsonfilter "$@"
"""


def test_fault_mapper_killed_mid_task_is_retried(hadoop, client, data_with_bad_lines, run_jsonfilter):
    killer = hadoop.folder.parent / "node-bin" / "jsonfilter-killed-once"
    killer.write_text(KILLED_ONCE)
    killer.chmod(0o755)
    command = COMMANDS["streaming"].replace("-input data ", "-input data_bad ").replace(
        "out_data8", "out_killed").replace("-mapper 'jsonfilter ", "-mapper 'jsonfilter-killed-once ")
    done = client(command)
    app = check_ran_on_yarn(hadoop, app_id_of(done.stderr), "MAPREDUCE", BAD_FILES)
    counters = hadoop.job_counters(app["id"].replace("application_", "job_"))
    assert counters["org.apache.hadoop.mapreduce.JobCounter"]["NUM_FAILED_MAPS"] == 1, counters
    # Every record once: the killed attempt's partial output is not in the job's.
    assert sorted(hdfs_parts(hadoop, "out_killed")) == per_file(run_jsonfilter, data_with_bad_lines,
                                                                 "--on-error", "skip")
    everything = expected(run_jsonfilter, sorted(data_with_bad_lines.iterdir()), "--on-error", "skip")
    assert counters["jsonfilter"]["records_out"] == len(everything.splitlines())


def test_fault_node_manager_stopped_mid_job(hadoop, client, data_dir, run_jsonfilter):
    # Last of the file: worker2's NodeManager stays stopped. Each map sleeps
    # first, so that the job is still running when it goes.
    slow = hadoop.folder.parent / "node-bin" / "jsonfilter-slow"
    slow.write_text('#!/bin/sh\nsleep 10\nexec jsonfilter "$@"\n')
    slow.chmod(0o755)
    command = COMMANDS["streaming"].replace("out_data8", "out_lost_node").replace(
        "-mapper 'jsonfilter ", "-mapper 'jsonfilter-slow ")
    before = {app["id"] for app in hadoop.apps()}
    job = subprocess.Popen(hadoop.hosts.command("master", ["sh", "-c", command]), cwd=client.folder,
                           env=client.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while True:
            nodes = {hadoop.worker_of(i): node for i, node in hadoop.nodes().items()}
            running = [app for app in hadoop.apps(states="RUNNING") if app["id"] not in before]
            if running and nodes["worker2"]["numContainers"] > 0:
                break
            assert job.poll() is None and time.monotonic() < deadline, "the job never ran on worker2"
            time.sleep(1)
        hadoop.stop_daemon("nodemanager", "worker2")
        out, err = job.communicate(timeout=600)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, err.decode(errors="replace")[-3000:]
    app = hadoop.get_json(f"{hadoop.rm_url}/ws/v1/cluster/apps/{app_id_of(err)}")["app"]
    assert (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED"), app
    assert hadoop.running_workers() == ["worker1"]
    assert sorted(hdfs_parts(hadoop, "out_lost_node")) == per_file(run_jsonfilter, data_dir)


# ---------------------------------------------------------------- tools/hadoop-cluster

def test_tool_brings_the_cluster_up_and_down(hadoop, tmp_path, engine_env):
    # On test hosts of its own (--hosts): nothing of a test listens outside
    # them. up writes env.sh; down leaves no process and no namespace.
    folder = tmp_path / "by-hand"
    tool_path = str(ROOT / "tools" / "hadoop-cluster")
    up = subprocess.run([sys.executable, tool_path, "up", str(folder), "--hosts"], env=engine_env,
                        capture_output=True, timeout=600)
    try:
        assert up.returncode == 0, up.stderr.decode(errors="replace")[-3000:]
        state = json.loads((folder / "cluster.json").read_text())
        assert sorted(d["daemon"] for d in state["daemons"]) == sorted(d for d, _ in hc.PLACES)
        env_sh = (folder / "env.sh").read_text()
        for name in ("HADOOP_CONF_DIR", "PATH", "HADOOP_STREAMING_JAR", "YARN_RM_URL", "LUIGI_CONFIG_PATH"):
            assert f"export {name}=" in env_sh, name
        master = f"{state['namespaces']}-master"
        ls = subprocess.run([netns.IP, "netns", "exec", master, "sh", "-c", f". {folder}/env.sh && hadoop fs -ls /"],
                            cwd=tmp_path, env=engine_env, capture_output=True, timeout=120)
        assert b"/user" in ls.stdout, ls.stderr.decode(errors="replace")[-3000:]
    finally:
        down = subprocess.run([sys.executable, tool_path, "down", str(folder)], env=engine_env,
                              capture_output=True, timeout=600)
    assert down.returncode == 0, down.stderr.decode(errors="replace")
    assert hc.leftovers(folder) == []
    assert not any(Path(f"/run/netns/{state['namespaces']}-{host}").exists() for host in hc.HOSTS)

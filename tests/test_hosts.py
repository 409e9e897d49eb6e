"""The engines across hosts of a real network: GNU Parallel over ssh to two
hosts running sshd, and a Spark standalone cluster of three hosts driven from
a fourth.

The hosts are Linux network namespaces on one bridge (tests/netns.py), each
with its own private address, sharing this machine's file system as a shared
mount would. Making them needs root: the tests skip without it, except under
CI (CI=true), where they fail. Every process is started by the tests, stopped
by its PID, and runs inside a test host: none listens in the root namespace.
"""
import collections
import getpass
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netns
from conftest import require, require_module, require_namespaces
from test_engines import (  # noqa: F401
    COMMANDS,
    EXAMPLES,
    apps_of,
    bare_python,
    check_ran_on_cluster,
    data_dir,
    engine_env,
    expected,
    fill,
    idle_workers,
    spark_cluster_on,
    spark_output,
    spark_submit_command,
    submit_env,
    workdir,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:luigi")

HOSTS = ["client", "server1", "server2", "master", "worker1", "worker2"]


@pytest.fixture(scope="module")
def network():
    require_namespaces()
    with netns.Network(HOSTS) as net:
        yield net
        assert net.outside() == [], "a test's process runs outside the test hosts"


def on_client(net, command, cwd, env, timeout=180):
    """`sh` on the client host."""
    done = net.run("client", ["sh", "-c", "set -e\n" + command], cwd=cwd, env=env, timeout=timeout)
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr.decode(errors='replace')}"
    return done


def wait_for_log(log, text, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while text not in Path(log).read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what}: not ready\n{Path(log).read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


# ---------------------------------------------------------------- GNU Parallel over ssh

@pytest.fixture(scope="module")
def ssh_hosts(network, engine_env, tmp_path_factory):
    """sshd on server1 and server2, and the ssh client's configuration naming them.

    Yields the environment in which `parallel -S server1,server2` reaches
    them, and the log in which each jsonfilter run writes the network
    namespace it ran in.
    """
    require("parallel")
    sshd = shutil.which("sshd") or require("/usr/sbin/sshd")
    require("ssh")
    folder = tmp_path_factory.mktemp("ssh")
    for key in ("host_key", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True)
    shutil.copy(folder / "id.pub", folder / "authorized_keys")
    # sshd refuses to start without its privilege separation folder.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    key_type, host_key = (folder / "host_key.pub").read_text().split()[:2]
    client_cfg = []
    known = []
    for host in ("server1", "server2"):
        address = network.address[host]
        cfg = folder / f"sshd_{host}"
        # This machine's user and files: StrictModes off for keys in a scratch folder.
        cfg.write_text(f"ListenAddress {address}:22\nHostKey {folder / 'host_key'}\n"
                       f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile none\nStrictModes no\n"
                       "UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                       "KbdInteractiveAuthentication no\n")
        log = folder / f"sshd_{host}.log"
        proc = network.start(host, [sshd, "-D", "-e", "-f", str(cfg)], log)
        wait_for_log(log, f"Server listening on {address} port 22", proc, f"sshd on {host}")
        client_cfg.append(f"Host {host}\n  HostName {address}\n")
        known.append(f"{address} {key_type} {host_key}\n")
    client_cfg.append(f"Host *\n  User {getpass.getuser()}\n  IdentityFile {folder / 'id'}\n  IdentitiesOnly yes\n"
                      f"  UserKnownHostsFile {folder / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
                      "  BatchMode yes\n  ConnectTimeout 10\n")
    (folder / "ssh_config").write_text("".join(client_cfg))
    (folder / "known_hosts").write_text("".join(known))

    # A jsonfilter that notes the network namespace it runs in, then runs this tree's code.
    (folder / "bin").mkdir()
    where = folder / "where.log"
    shim = folder / "bin" / "jsonfilter"
    shim.write_text(f'#!/bin/sh\nreadlink /proc/self/ns/net >> "{where}"\n'
                    f'exec "{sys.executable}" -m json_mapper "$@"\n')
    shim.chmod(0o755)
    env = dict(engine_env)
    env["PATH"] = f"{folder / 'bin'}{os.pathsep}{env['PATH']}"
    env["PARALLEL_SSH"] = f"ssh -F {folder / 'ssh_config'}"
    # The remote shell's own startup files may set PATH: hand ours over, so
    # the remote jsonfilter is the shim above.
    env["PARALLEL"] = "--env PATH --env PYTHONPATH"
    yield env, where


def hosts_that_ran(network, where):
    """The test hosts jsonfilter ran on, from the shim's log (which it then empties)."""
    inode = {f"net:[{os.stat(f'/run/netns/{ns}').st_ino}]": host for host, ns in network.namespaces.items()}
    seen = collections.Counter(inode.get(line, line) for line in where.read_text().splitlines())
    where.write_text("")
    return seen


def test_parallel_pipe_over_ssh_to_two_hosts(network, ssh_hosts, workdir, run_jsonfilter):
    env, where = ssh_hosts
    where.write_text("")
    on_client(network, fill(COMMANDS["parallel_pipe_ssh"], sshlogin="server1,server2"), workdir, env)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    out = (workdir / "out.json").read_bytes()
    assert collections.Counter(out.splitlines()) == collections.Counter(everything.splitlines())
    ran = hosts_that_ran(network, where)
    assert set(ran) <= {"server1", "server2"} and ran, ran
    # about 2.3 MB in blocks of 1 MB: one job a block
    assert sum(ran.values()) >= 3, ran


def test_parallel_per_file_over_ssh_to_two_hosts(network, ssh_hosts, workdir, run_jsonfilter):
    env, where = ssh_hosts
    where.write_text("")
    on_client(network, fill(COMMANDS["parallel_per_file_ssh"], sshlogin="server1,server2"), workdir, env)
    for path in sorted((workdir / "data").iterdir()):
        assert (workdir / "out" / path.name).read_bytes() == expected(run_jsonfilter, [path])
    ran = hosts_that_ran(network, where)
    assert set(ran) == {"server1", "server2"} and sum(ran.values()) == len(list((workdir / "data").iterdir())), ran


# ---------------------------------------------------------------- Spark

@pytest.fixture(scope="module")
def spark_hosts(network, engine_env, tmp_path_factory):
    """A standalone master on host "master", a worker on "worker1" and "worker2"."""
    require_module("pyspark")
    require("java")
    folder = tmp_path_factory.mktemp("spark-hosts")

    def launch(host, command, log, env):
        return network.start(host, ["sh", "-c", command], log, env=env, cwd=folder)

    with spark_cluster_on(folder, engine_env, network.address.get, launch) as cluster:
        yield cluster


def master_status(network, ui_port):
    url = f"http://{network.address['master']}:{ui_port}/json/"
    done = network.run("client", [sys.executable, "-c",
                                  f"import urllib.request, sys; sys.stdout.buffer.write("
                                  f"urllib.request.urlopen({url!r}, timeout=10).read())"], timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def client_env(network, env):
    """spark-submit on the client host: the driver there, on the client's address."""
    return dict(env, SPARK_LOCAL_IP=network.address["client"])


@pytest.mark.parametrize("script,command,app,out", [
    ("pyspark_mapper.py", "spark_submit", "jsonfilter", "out_data7"),
    ("spark_pipe.py", "spark_submit_pipe", "jsonfilter-pipe", "out_data9"),
])
def test_spark_on_three_hosts(network, spark_hosts, bare_python, workdir, engine_env, run_jsonfilter,
                              script, command, app, out):
    port, ui_port, work_dirs = spark_hosts
    env = client_env(network, submit_env(engine_env, bare_python))
    if script == "pyspark_mapper.py":
        env.pop("PYTHONPATH")  # json_mapper reaches the executors with the job
    shutil.copy(EXAMPLES / script, workdir)
    before = apps_of(idle_workers(lambda: master_status(network, ui_port)))
    on_client(network, spark_submit_command(command, network.address["master"], port), workdir, env, timeout=300)
    everything = expected(run_jsonfilter, sorted((workdir / "data").iterdir()))
    assert spark_output(workdir / out) == collections.Counter(everything.splitlines())
    check_ran_on_cluster(master_status(network, ui_port), before, app, work_dirs, workdir / out)
    assert network.outside() == [], "a process of the cluster runs outside the test hosts"

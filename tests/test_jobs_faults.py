"""Faults and agreement under `-j N` (parallel workers)."""
import os
import signal
import subprocess
import time

import pytest

from json_mapper.datagen import file_lines


def generated(lines, seed=0):
    return "".join(file_lines(seed, 0, lines)).encode()


def _mixed_input(tmp_path):
    # Good records, bad lines and blank lines, over several files.
    paths = []
    for number in range(4):
        data = generated(30_000, seed=number)
        lines = data.splitlines(keepends=True)
        lines[1000 * (number + 1)] = b"not json\n"
        lines[7000] = b"\n"
        path = tmp_path / f"in{number}.json"
        path.write_bytes(b"".join(lines))
        paths.append(path.name)
    return paths


@pytest.mark.parametrize("jobs", ["2", "0"])
@pytest.mark.parametrize("on_error", ["warn", "skip", "fail"])
def test_jobs_agree_with_one_job(run_jsonfilter, tmp_path, jobs, on_error):
    paths = _mixed_input(tmp_path)
    args = ["-t", "1.5", f"--on-error={on_error}", *paths]
    one = run_jsonfilter("-j", "1", *args)
    many = run_jsonfilter("-j", jobs, *args)
    assert (many.returncode, many.stdout, many.stderr) == (one.returncode, one.stdout, one.stderr)
    assert one.stdout


def _worker_pids(parent):
    with open(f"/proc/{parent}/task/{parent}/children") as f:
        return [int(pid) for pid in f.read().split()]


def test_worker_killed_fails_loudly(cli_env, tmp_path):
    # A producer that never ends: only a failure can stop this run.
    producer = subprocess.Popen(["yes", '{"index": 1, "total": 1}'], stdout=subprocess.PIPE)
    proc = subprocess.Popen(["jsonfilter", "-j", "2"], stdin=producer.stdout,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env)
    producer.stdout.close()
    try:
        workers = []
        for _ in range(100):
            workers = _worker_pids(proc.pid)
            if workers or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert workers, "jsonfilter -j 2 started no worker process"
        os.kill(workers[0], signal.SIGKILL)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("jsonfilter hung after a worker was killed")
    finally:
        producer.kill()
        producer.wait()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2
    assert b"Traceback" not in err
    assert err.count(b"\n") == 1 and err.startswith(b"jsonfilter: ")


@pytest.mark.parametrize("signum,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_jobs_signal_leaves_whole_lines(cli_env, tmp_path, signum, status):
    data = generated(200_000)
    (tmp_path / "in.json").write_bytes(data)
    full = subprocess.run(["jsonfilter", "-t", "0", "in.json"], capture_output=True,
                          cwd=tmp_path, env=cli_env, timeout=120).stdout
    # Unbuffered: communicate() reads the pipe itself and would miss what a
    # buffered read(1) had pulled in beyond the first byte.
    proc = subprocess.Popen(["jsonfilter", "-j", "2", "-t", "0", "in.json"], cwd=tmp_path, bufsize=0,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    first = proc.stdout.read(1)
    proc.send_signal(signum)
    rest, err = proc.communicate(timeout=60)
    out = first + rest
    assert proc.returncode == status
    assert err == b""
    assert out.endswith(b"\n")
    assert full.startswith(out)

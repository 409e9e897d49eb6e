"""End-to-end tests of the real `jsonfilter` command: stdout, stderr and exit status together."""
import bz2
import gzip
import lzma
import re
import select
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, require
from json_mapper.cli import build_parser

GOOD = b'{"index":1,"total":1}\n'
GOOD_OUT = b'{"index":1,"total":1,"sum_val":2.0}\n'
LOW = b'{"index":0,"total":0}\n'
BAD = b'{"index":1}\n'

COMPRESSORS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}


def test_named_files_are_read_in_order_with_lines_counted_per_file(run_jsonfilter, tmp_path):
    (tmp_path / "a.json").write_bytes(LOW + GOOD + BAD)
    (tmp_path / "b.json").write_bytes(BAD + b'{"index":2,"total":1}\n')
    result = run_jsonfilter("a.json", "b.json")
    assert result.stdout == GOOD_OUT + b'{"index":2,"total":1,"sum_val":3.0}\n'
    assert result.stderr == (b'jsonfilter: a.json:3: missing field "total"\n'
                             b'jsonfilter: b.json:1: missing field "total"\n')
    assert result.returncode == 1


def test_stdin_and_files_mix_with_dash(run_jsonfilter, tmp_path):
    (tmp_path / "a.json").write_bytes(GOOD)
    result = run_jsonfilter("a.json", "-", "a.json", stdin=BAD)
    assert result.stdout == GOOD_OUT * 2
    assert result.stderr == b'jsonfilter: <stdin>:1: missing field "total"\n'
    assert result.returncode == 1


@pytest.mark.parametrize("fmt", COMPRESSORS)
def test_compressed_input_is_recognised_by_content(run_jsonfilter, tmp_path, fmt):
    data = COMPRESSORS[fmt](LOW + GOOD + BAD)
    (tmp_path / "plain-name.json").write_bytes(data)
    for result in (run_jsonfilter("plain-name.json"), run_jsonfilter(stdin=data)):
        assert result.stdout == GOOD_OUT
        assert result.stderr.endswith(b':3: missing field "total"\n')
        assert result.returncode == 1


def test_concatenated_gzip_members_are_all_read(run_jsonfilter):
    result = run_jsonfilter(stdin=gzip.compress(GOOD) + gzip.compress(GOOD))
    assert (result.stdout, result.stderr, result.returncode) == (GOOD_OUT * 2, b"", 0)


@pytest.mark.parametrize("fmt", COMPRESSORS)
def test_truncated_compressed_input_keeps_the_records_before_the_damage(run_jsonfilter, tmp_path, fmt):
    # Enough incompressible text that the early records are decodable before the cut.
    lines = [b'{"index":1,"total":1,"n":%d,"pad":"%s"}\n' % (n, bytes(range(97, 123)) * 40)
             for n in range(2000)]
    data = COMPRESSORS[fmt](b"".join(lines))
    (tmp_path / "cut").write_bytes(data[: len(data) // 2])
    result = run_jsonfilter("cut")
    out = result.stdout.splitlines(keepends=True)
    assert 0 < len(out) < len(lines)
    for n, line in enumerate(out):  # a prefix of the records, each one whole
        assert line.startswith(b'{"index":1,"total":1,"n":%d,' % n) and line.endswith(b',"sum_val":2.0}\n')
    assert result.stderr.startswith(b"jsonfilter: cut: corrupt %s data: " % fmt.encode())
    assert result.stderr.count(b"\n") == 1
    assert result.returncode == 2


def test_an_unreadable_file_is_reported_and_the_rest_still_read(run_jsonfilter, tmp_path):
    (tmp_path / "good.json").write_bytes(GOOD)
    (tmp_path / "packed.lz4").write_bytes(b"\x04\x22\x4d\x18" + bytes(20))
    result = run_jsonfilter("missing.json", "packed.lz4", "good.json")
    assert result.stdout == GOOD_OUT
    assert result.stderr == (b"jsonfilter: missing.json: No such file or directory\n"
                             b"jsonfilter: packed.lz4: lz4 compressed input is not supported\n")
    assert result.returncode == 2


def test_unreadable_input_outranks_bad_records_in_the_exit_status(run_jsonfilter):
    result = run_jsonfilter("missing.json", "-", stdin=BAD)
    assert result.returncode == 2
    assert result.stderr.count(b"\n") == 2


def test_a_full_disk_is_one_message_and_exit_2(cli_env):
    with open("/dev/full", "wb") as full:
        result = subprocess.run(["jsonfilter"], input=GOOD, stdout=full, stderr=subprocess.PIPE,
                                env=cli_env, timeout=60)
    assert result.stderr == b"jsonfilter: write error: No space left on device\n"
    assert result.returncode == 2


def test_a_closed_pipe_ends_the_run_quietly(cli_env, tmp_path):
    # 20 MB of selected records: far more than a pipe holds, so the writer must notice.
    (tmp_path / "big.json").write_bytes(GOOD * 1_000_000)
    proc = subprocess.Popen(["jsonfilter", "big.json"], cwd=tmp_path, env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert (first, stderr) == (GOOD_OUT, b"")


def test_stats_summarise_the_run_on_stderr(run_jsonfilter):
    result = run_jsonfilter("--stats", "--on-error", "skip", stdin=GOOD + b"\n" + BAD + LOW)
    assert result.stdout == GOOD_OUT
    assert re.fullmatch(rb"jsonfilter: 4 lines read, 1 records written, 1 bad records, 1 blank, "
                        rb"1 not selected, \d+\.\d\d s, \d+\.\d MB/s\n", result.stderr), result.stderr
    assert result.returncode == 0


def test_version(run_jsonfilter):
    from json_mapper import __version__
    result = run_jsonfilter("--version")
    assert (result.stdout, result.returncode) == (f"jsonfilter {__version__}\n".encode(), 0)


def test_help_shows_every_option_and_a_usage_example(run_jsonfilter):
    result = run_jsonfilter("--help")
    assert result.returncode == 0
    for action in build_parser()._actions:
        for option in action.option_strings:
            assert option.encode() in result.stdout
    assert b"cat data/* | jsonfilter" in result.stdout


def test_every_option_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for action in build_parser()._actions:
        for option in action.option_strings:
            assert f"`{option}" in readme or f" {option}" in readme, f"{option} is not in README.md"
        if action.choices:
            for choice in action.choices:
                assert f"`{choice}`" in readme, f"{choice} is not in README.md"


def test_python_dash_m_runs_the_same_command(cli_env):
    result = subprocess.run([sys.executable, "-m", "json_mapper", "-t", "0"], input=GOOD,
                            capture_output=True, env=cli_env, timeout=60)
    assert (result.stdout, result.stderr, result.returncode) == (GOOD_OUT, b"", 0)


def test_installed_console_script(tmp_path):
    # The entry point that `pip install` makes, not the test shim.
    script = require("jsonfilter")
    result = subprocess.run([script], input=GOOD, capture_output=True, timeout=60, cwd=tmp_path)
    assert (result.stdout, result.stderr, result.returncode) == (GOOD_OUT, b"", 0)


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_run_with_its_status_and_no_traceback(cli_env, sig, status):
    proc = subprocess.Popen(["jsonfilter"], env=cli_env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(GOOD)
    proc.stdin.flush()
    assert proc.stdout.readline() == GOOD_OUT  # running, and now waiting for more input
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == status
    assert proc.stderr.read() == b""
    proc.stdin.close()


@pytest.mark.parametrize("closed, message", [
    ("stdin", b"jsonfilter: <stdin>: Bad file descriptor\n"),
    ("stdout", b"jsonfilter: write error: Bad file descriptor\n"),
])
def test_a_closed_standard_stream_is_one_message_and_exit_2(cli_env, closed, message):
    redirect = "<&-" if closed == "stdin" else ">&-"
    result = subprocess.run(["bash", "-c", f"printf '{{\"index\":1,\"total\":1}}' | jsonfilter {redirect}"],
                            capture_output=True, env=cli_env, timeout=60)
    assert (result.stderr, result.returncode) == (message, 2)


# -t takes a number as JSON or C (strtod, C locale) writes it, negative
# exponents included; -j takes plain digits. Each row is what argparse must
# see, after the option, whichever way it is given.
THRESHOLDS_ACCEPTED = ["0", "1.99", "-1", "-1e5", "-1E+5", "-1e-5", "1e308", "-1.7976931348623157e308",
                       "+1", "1.", ".5", "-.5", "01.50", "4.9e-324", "1e-400"]
THRESHOLDS_REFUSED = ["1_000", " 1.5 ", "1.5 ", "\u0661", "\uff11", "nan", "NaN", "inf", "-inf", "Infinity",
                      "1e400", "-1e309", "0x10", "1e", "e5", "--1", "1.5.1", "", "1,5", "abc"]
JOBS_ACCEPTED = ["0", "1", "2", "02", "64"]
JOBS_REFUSED = ["2_0", "+2", " 2", "2 ", "-1", "1.0", "\u0662", "", "two"]


@pytest.mark.parametrize("text", THRESHOLDS_ACCEPTED)
@pytest.mark.parametrize("form", ["-t {}", "-t={}", "--threshold {}", "--threshold={}", "-t{}", "--thr {}"])
def test_threshold_takes_any_json_or_c_number(text, form):
    args = build_parser().parse_args(form.format(text).split(" "))
    assert args.threshold == float(text)
    assert args.files == []


@pytest.mark.parametrize("text", THRESHOLDS_REFUSED)
def test_threshold_refuses_what_is_not_a_plain_finite_number(text, capsys):
    for args in (["-t", text], [f"--threshold={text}"]):
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args(args)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("jsonfilter: argument -t/--threshold: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("text", JOBS_ACCEPTED)
def test_jobs_takes_plain_digits(text):
    assert build_parser().parse_args(["-j", text]).jobs == int(text)


@pytest.mark.parametrize("text", JOBS_REFUSED)
def test_jobs_refuses_anything_but_plain_digits(text, capsys):
    for args in (["-j", text], [f"--jobs={text}"]):
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args(args)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("jsonfilter: argument -j/--jobs: ") and err.count("\n") == 1, err


def test_bug_negative_exponent_threshold_was_refused(run_jsonfilter):
    # `-t -1e5` was "expected one argument": argparse took -1e5 for an option.
    records = b'{"index": -1, "total": -2}\n{"index": -1e5, "total": -1}\n'
    for args in (["-t", "-1e5"], ["-t=-1e5"], ["--threshold", "-1e5"]):
        result = run_jsonfilter(*args, stdin=records)
        assert (result.stdout, result.stderr, result.returncode) == \
            (b'{"index": -1, "total": -2,"sum_val":-3.0}\n', b"", 0)


def test_bug_threshold_took_underscores_and_padding(run_jsonfilter):
    for text in ("1_000", " 1.5 ", "\u0661"):
        result = run_jsonfilter("-t", text, stdin=b"{}\n")
        assert result.returncode == 2 and result.stdout == b""
        assert result.stderr == f"jsonfilter: argument -t/--threshold: not a number: {text!r} " \
                                f"(see 'jsonfilter --help')\n".encode()


@pytest.mark.parametrize("jobs", [[], ["-j", "2"]], ids=["serial", "jobs_2"])
def test_a_line_from_a_slow_producer_comes_out_at_once(cli_env, jobs):
    # Reading in large gulps must not mean waiting for them: the producer
    # writes one selected line and waits, and the line is out before it ends.
    producer = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdout.buffer.write(%r); "
                                 "sys.stdout.flush(); sys.stdin.read()" % GOOD],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc = subprocess.Popen(["jsonfilter", *jobs], stdin=producer.stdout, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env)
    producer.stdout.close()
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no output while the producer was still running"
        assert proc.stdout.readline() == GOOD_OUT
        assert producer.poll() is None  # the producer had not ended
    finally:
        producer.stdin.close()  # now it ends
        producer.wait(timeout=60)
        out, err = proc.communicate(timeout=60)
    assert (out, err, proc.returncode) == (b"", b"", 0)


# A bug report said `internal error: KeyError: ...` with no location, and
# nothing showed a maintainer the traceback.
BUGGY_RUN = (
    "import json_mapper.cli as cli\n"
    "def main():\n"
    "    return {}['no such key']\n"
    "cli.main = main\n"
    "cli.run()\n"
)


@pytest.mark.parametrize("debug", [None, "1"])
def test_internal_error_names_where_and_shows_the_traceback_only_when_asked(cli_env, debug):
    env = {k: v for k, v in cli_env.items() if k != "JSONFILTER_DEBUG"}
    if debug:
        env["JSONFILTER_DEBUG"] = debug
    done = subprocess.run([sys.executable, "-c", BUGGY_RUN], capture_output=True, env=env, timeout=60)
    assert done.returncode == 2
    assert done.stdout == b""
    last = done.stderr.decode().splitlines()[-1]
    assert last == "jsonfilter: internal error: KeyError: 'no such key' (at <string>:3)"
    if debug:
        assert "Traceback (most recent call last)" in done.stderr.decode()
    else:
        assert len(done.stderr.decode().splitlines()) == 1

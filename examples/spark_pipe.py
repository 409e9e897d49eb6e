"""Spark running the jsonfilter command over each partition (RDD.pipe), as a streaming mapper.

    python spark_pipe.py [INPUT [OUTPUT [THRESHOLD]]]    # INPUT=data, OUTPUT=out_data9
    spark-submit --master spark://HOST:7077 spark_pipe.py data out_data9 1.5

Under spark-submit the job runs where --master says; as a plain script, on
every local core. Each task starts `jsonfilter --on-error skip -t THRESHOLD`,
writes its partition's lines to it and reads back the kept ones, so every
worker machine needs `jsonfilter` installed (and nothing of this package in
Spark's Python). Two things about RDD.pipe that this script sets on purpose:

- env: the command starts with exactly the environment given, an empty one
  by default, where `jsonfilter` is not found. This passes the driver's PATH
  (and PYTHONPATH, HOME and the locale), so `jsonfilter` must be at the same
  path on the workers as where spark-submit runs.
- checkCode=True: by default a command's non-zero exit is ignored, and a task
  whose jsonfilter failed would pass with part of its output. With it the task
  fails, and Spark retries it or fails the job.

Bad records are skipped (`--on-error skip`): any other status fails the task.
OUTPUT is a folder of part-* files; Spark refuses to write into one that exists.
"""
import os
import shlex
import sys

from pyspark import SparkConf, SparkContext

THRESHOLD = 1.99
# What the jsonfilter command needs from the environment (see above).
PASSED_ENV = ("PATH", "PYTHONPATH", "HOME", "LANG", "LC_ALL")


def spark_conf(app):
    """spark-submit's master, or every local core when run as a plain script (see pyspark_mapper.py)."""
    conf = SparkConf().setAppName(app)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        conf.setMaster("local[*]")
    return conf


def filter_lines(sc, source, dest, th=THRESHOLD):
    """Filter the text files at `source` through jsonfilter into the folder `dest`."""
    command = shlex.join(["jsonfilter", "--on-error", "skip", "-t", repr(th)])
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    sc.textFile(source).pipe(command, env=env, checkCode=True).saveAsTextFile(dest)


def main(argv):
    source = argv[1] if len(argv) > 1 else "data"
    dest = argv[2] if len(argv) > 2 else "out_data9"
    th = float(argv[3]) if len(argv) > 3 else THRESHOLD
    sc = SparkContext(conf=spark_conf("jsonfilter-pipe"))
    sc.setLogLevel("ERROR")
    try:
        filter_lines(sc, source, dest, th)
    finally:
        sc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

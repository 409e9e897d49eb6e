"""PySpark: the same map_line over every line of data/, as in the blog.

    python pyspark_mapper.py [INPUT [OUTPUT [THRESHOLD]]]    # INPUT=data, OUTPUT=out_data7
    spark-submit --master spark://HOST:7077 pyspark_mapper.py data out_data7

Under spark-submit the job runs where --master says; as a plain script, on
every local core.

OUTPUT is a folder of part-* files; Spark refuses to write into one that
exists. The json_mapper package is shipped to the executors with the job
(addPyFile), so the workers need only Python and orjson. Bad records are
skipped and counted (an accumulator), and the count is printed on stderr:
a few bad lines among millions should not kill the job, and should not pass
unnoticed either.
"""
import os
import sys
import tempfile
import zipfile

from pyspark import SparkConf, SparkContext

import json_mapper
from json_mapper.record import THRESHOLD
from json_mapper.skipping import skip_bad_records


def ship_package(sc, folder):
    """Zip the json_mapper package into `folder` and send it to every executor."""
    package = os.path.dirname(os.path.abspath(json_mapper.__file__))
    path = os.path.join(folder, "json_mapper.zip")
    with zipfile.ZipFile(path, "w") as z:
        for name in sorted(os.listdir(package)):
            if name.endswith(".py"):
                z.write(os.path.join(package, name), f"json_mapper/{name}")
    sc.addPyFile(path)


def spark_conf(app):
    """The job's SparkConf: spark-submit's master, or every local core when run as a plain script.

    Under spark-submit the master reaches the JVM, not this Python conf, before
    the context exists: setting one here (even with setIfMissing) would win
    over `spark-submit --master` and run the job locally. spark-submit tells
    its Python it started it through PYSPARK_GATEWAY_PORT.
    """
    conf = SparkConf().setAppName(app)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        conf.setMaster("local[*]")
    return conf


def filter_lines(sc, source, dest, th=THRESHOLD):
    """Filter the text files at `source` into the folder `dest`; return the bad-record count."""
    bad = sc.accumulator(0)
    sc.textFile(source).flatMap(skip_bad_records(bad, th)).saveAsTextFile(dest)
    return bad.value


def main(argv):
    source = argv[1] if len(argv) > 1 else "data"
    dest = argv[2] if len(argv) > 2 else "out_data7"
    th = float(argv[3]) if len(argv) > 3 else THRESHOLD
    sc = SparkContext(conf=spark_conf("jsonfilter"))
    sc.setLogLevel("ERROR")
    try:
        with tempfile.TemporaryDirectory() as folder:
            ship_package(sc, folder)
            bad = filter_lines(sc, source, dest, th)
    finally:
        sc.stop()
    if bad:
        print(f"pyspark_mapper: {bad} bad records skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

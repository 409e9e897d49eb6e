"""Luigi running a PySpark job through spark-submit, as in the blog.

    luigi --module luigi_pyspark TestTaskPS --local-scheduler

Luigi reads spark-submit's path and the master from its configuration
(luigi.cfg, or the file named by LUIGI_CONFIG_PATH):

    [spark]
    spark-submit: /path/to/venv/bin/spark-submit
    master: local[2]
"""
import os

import luigi
from luigi.contrib.spark import PySparkTask

from json_mapper.skipping import skip_bad_records

THRESHOLD = 1.99


class TestTaskPS(PySparkTask):
    source = luigi.Parameter(default="data/dat_0.json")
    dest = luigi.Parameter(default="out_data3")
    threshold = luigi.FloatParameter(default=THRESHOLD)

    def input(self):
        return luigi.LocalTarget(self.source)

    def output(self):
        # Spark creates the output folder when the job starts and writes
        # _SUCCESS last: a folder alone may be a failed job's leftovers.
        return luigi.LocalTarget(os.path.join(self.dest, "_SUCCESS"))

    def main(self, sc, *args):
        sc.setLogLevel("ERROR")
        bad = sc.accumulator(0)
        sc.textFile(self.input().path).flatMap(skip_bad_records(bad, self.threshold)).saveAsTextFile(self.dest)
        if bad.value:
            print(f"TestTaskPS: {bad.value} bad records skipped")


if __name__ == "__main__":
    luigi.run()

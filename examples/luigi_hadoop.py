"""Luigi running map_line as a map-only Hadoop Streaming job, as in the blog.

    luigi --module luigi_hadoop TestTaskMR --local-scheduler          # on HDFS, via hadoop jar
    luigi --module luigi_hadoop TestTaskMR --local --local-scheduler  # here, no Hadoop needed

On a cluster, Luigi needs a luigi.cfg (or the file LUIGI_CONFIG_PATH
names) telling it how to run Hadoop Streaming; `version` is the flavour of
the `hadoop` command's output Luigi expects, and must be cdh4 (the default,
right for Hadoop 2 and 3), cdh3 or apache1: any other value fails the task:

    [hadoop]
    command: hadoop
    streaming-jar: /path/to/hadoop-streaming.jar
    python-executable: /path/to/python
    version: cdh4

`python-executable` runs the mapper on the worker nodes (Luigi ships the
modules it needs, json_mapper among them); the input is `data` in HDFS
(under /user/NAME), the output `out_data6` there. tools/hadoop-cluster
starts a cluster on this machine and writes such a file.

With --local, input and output are local files and Luigi's LocalJobRunner
runs the mapper in this process. That runner drops the last character of
every line, meaning to drop its newline: a file that does not end with a
newline loses the last character of its last record (which then fails as a
bad record). Files made by json_mapper.datagen always end with a newline.
"""
import glob

import luigi
import luigi.contrib.hadoop
import luigi.contrib.hdfs

from json_mapper import BadRecord, map_line

THRESHOLD = 1.99


class InData(luigi.ExternalTask):
    local = luigi.BoolParameter()

    def output(self):
        if self.local:
            return [luigi.LocalTarget(path) for path in sorted(glob.glob("data/*.json"))]
        return luigi.contrib.hdfs.HdfsTarget("data")


class TestTaskMR(luigi.contrib.hadoop.JobTask):
    local = luigi.BoolParameter()
    threshold = luigi.FloatParameter(default=THRESHOLD)

    def requires(self):
        return InData(local=self.local)

    def job_runner(self):
        if self.local:
            return luigi.contrib.hadoop.LocalJobRunner()
        return luigi.contrib.hadoop.DefaultHadoopJobRunner()

    def output(self):
        if self.local:
            return luigi.LocalTarget("out_data6/part-00000")
        return luigi.contrib.hdfs.HdfsTarget("out_data6")

    def jobconfs(self):
        # A map-only streaming job splits each output line at its first tab
        # into key and value, and writes a line with no tab (every JSON
        # record here) as `line TAB`. keyonlytext takes the line whole as
        # the key and writes it as it came. LocalJobRunner ignores jobconfs.
        return super().jobconfs() + ["stream.map.output=keyonlytext"]

    def mapper(self, line):
        try:
            for out in map_line(line, self.threshold):
                # A 1-tuple: written as the bare line (Luigi joins fields with tabs).
                yield (out,)
        except BadRecord:
            # Skipped, and counted as a Hadoop counter rather than failing the task.
            self.incr_counter("jsonfilter", "bad_records", 1)


if __name__ == "__main__":
    luigi.run()

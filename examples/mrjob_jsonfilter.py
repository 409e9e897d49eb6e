"""mrjob running the jsonfilter command as a map-only Hadoop Streaming job.

    python mrjob_jsonfilter.py -r local data/*.json -o out_data10 --threshold 1.5
    python mrjob_jsonfilter.py -r hadoop --jobconf stream.map.output=keyonlytext hdfs:///user/me/data -o hdfs:///user/me/out
    python mrjob_jsonfilter.py -r emr --jobconf stream.map.output=keyonlytext s3://bucket/data -o s3://bucket/out

The step is the command itself (`mapper_cmd`): each map task pipes its split
through `jsonfilter --on-error skip -t THRESHOLD`, so every machine that runs
tasks needs `jsonfilter` on its PATH. Bad records are skipped (a streaming
task fails on any exit status but 0) and, since jsonfilter sees the
streaming task's variables, counted in the job's counters
jsonfilter/records_in, records_out and bad_records.

On Hadoop, `stream.map.output=keyonlytext` keeps each output line whole:
without it a map-only job splits every line at its first tab into key and
value, and one with no tab is written back with a tab at its end. mrjob's
local runner (`-r local`) writes the mapper's lines as they are.
"""
from mrjob.job import MRJob
from mrjob.step import MRStep

THRESHOLD = 1.99


class MRJsonFilter(MRJob):
    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg("--threshold", type=float, default=THRESHOLD,
                              help="keep records whose fields add up past this (default %(default)s)")

    def steps(self):
        return [MRStep(mapper_cmd=f"jsonfilter --on-error skip -t {self.options.threshold!r}")]


if __name__ == "__main__":
    MRJsonFilter.run()

"""Luigi on one machine: one task per input file, run by as many workers as you like.

From a folder holding data/ (python -m json_mapper.datagen --out data), with
this folder on PYTHONPATH:

    luigi --module luigi_multiprocess LotsOTasks --local-scheduler
    luigi --module luigi_multiprocess LotsOTasks --workers 2        # with luigid running

TestTask(file_number=N) filters data/dat_N.json into out_data2/out_N.json, one
line per selected record. A task whose output exists is complete and is not
run again: delete one output and only its task runs on the next call.
"""
import glob
import os
import re

import luigi
import luigi.format

from json_mapper import Spec, filter_stream

THRESHOLD = 1.99


class TestTask(luigi.Task):
    file_number = luigi.IntParameter()
    threshold = luigi.FloatParameter(default=THRESHOLD)

    def input(self):
        return luigi.LocalTarget(f"data/dat_{self.file_number}.json", format=luigi.format.Nop)

    def output(self):
        return luigi.LocalTarget(f"out_data2/out_{self.file_number}.json", format=luigi.format.Nop)

    def run(self):
        # LocalTarget.open("w") writes to a temporary file and renames it into
        # place only when the block ends without an exception, so a task that
        # fails half-way (a bad record, a full disk, a kill) leaves no output
        # and is run again next time. on_error="fail" makes a bad record such
        # a failure, named in the task's error message.
        with self.output().open("w") as out:
            filter_stream(self.input().path, out, spec=Spec(threshold=self.threshold), on_error="fail")


class LotsOTasks(luigi.WrapperTask):
    """One TestTask per data/dat_N.json."""

    def requires(self):
        for path in sorted(glob.glob("data/dat_*.json")):
            number = re.fullmatch(r"dat_(\d+)\.json", os.path.basename(path))
            if number:
                yield TestTask(file_number=int(number.group(1)))


if __name__ == "__main__":
    luigi.run()

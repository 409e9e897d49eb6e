"""The blog's mapper in Python 3: the stdlib json module, one line at a time.

The baseline of examples/bench.py: read JSON Lines on stdin, print each
record whose index + total is greater than 1.99 with the sum added as
sum_val (re-serialised by json.dumps, so not byte for byte like jsonfilter).

    cat data/* | python examples/blog_json_mapper.py > selected.json
"""
import json
import sys

THRESHOLD = 1.99


def map_line(line, th=THRESHOLD):
    record = json.loads(line)
    sum_val = record["index"] + record["total"]
    if sum_val > th:
        record["sum_val"] = sum_val
        yield json.dumps(record)


def main(threshold=THRESHOLD):
    for line in sys.stdin:
        for out in map_line(line, threshold):
            print(out)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else THRESHOLD)

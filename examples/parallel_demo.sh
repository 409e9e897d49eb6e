#!/usr/bin/env bash
# Every variation of the blog's race, one after the other, timed by the shell.
#
#   examples/parallel_demo.sh [LINES_PER_FILE]     (default 1000000; 4 files)
#
# Run from the repository's top folder. Writes data/ and out_data*/ there.
# Variations whose program is missing (GNU Parallel, jq, DuckDB) are skipped.
# examples/bench.py measures the same variations side by side, with checks.
set -euo pipefail
lines=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
python=${PYTHON:-python3}
jsonfilter=${JSONFILTER:-jsonfilter}
cd "$root"

have() { command -v "$1" >/dev/null 2>&1; }
skip() { echo "skipped: $1"; }

echo "== data: 4 files x $lines lines"
$python -m json_mapper.datagen --files 4 --lines "$lines" --out data
rm -rf out_data*
mkdir -p out_data out_data1 out_data2 out_data3 out_data4 out_data5 out_data6 out_data7 out_data8

echo "== the blog's mapper, one line at a time"
time cat data/* | $python "$here/blog_json_mapper.py" > out_data1/out.json

echo "== jsonfilter"
time cat data/* | $jsonfilter > out_data2/out.json

echo "== jsonfilter -j 0, from stdin and with file arguments"
time cat data/* | $jsonfilter -j 0 > out_data3/out.json
time $jsonfilter -j 0 data/* > out_data8/out.json

if have parallel; then
    echo "== GNU Parallel, one jsonfilter per file"
    time find data/* | parallel "$jsonfilter < {} > out_data/file_{#}.json"
    echo "== GNU Parallel --pipepart, jsonfilter on parts of each file"
    time for f in data/*; do parallel --pipepart --block -1 -a "$f" "$jsonfilter"; done > out_data6/out.json
else
    skip "GNU Parallel"
fi

if have jq; then
    echo "== jq"
    time cat data/* | jq -c -f map.jq > out_data4/out.json
    if have parallel; then
        echo "== GNU Parallel --pipe with jq"
        time cat data/* | parallel --pipe "jq -c -f map.jq > out_data5/file_{#}.json"
    fi
else
    skip "jq"
fi

if $python -c 'import duckdb' 2>/dev/null; then
    echo "== DuckDB read_ndjson"
    time $python -c '
import duckdb
duckdb.sql("""COPY (SELECT *, "index" + total AS sum_val FROM read_ndjson('"'"'data/*.json'"'"')
              WHERE "index" + total > 1.99) TO '"'"'out_data7/out.json'"'"' (FORMAT JSON)""")'
else
    skip "DuckDB (pip install duckdb)"
fi

echo "== selected records per variation"
for d in out_data*; do echo "$d: $(cat "$d"/* | wc -l)"; done

"""Golden cases: the command's whole contract, one literal row at a time.

Each row is (options, input bytes, expected stdout, expected stderr, exit
status), run through the real `jsonfilter` command with the input on stdin.
Sums are chosen to be exact in binary (1 + 1, 0.5 + 1.75, ...) so the expected
text can be checked by hand, except where a row is about rounding itself.
"""
import pytest

CASES = {
    # --- selection ---------------------------------------------------------
    "selected, sum appended as last key": (
        [], b'{"index": 1.5, "total": 0.75}\n',
        b'{"index": 1.5, "total": 0.75,"sum_val":2.25}\n', b"", 0),
    "not selected": (
        [], b'{"index": 0.5, "total": 0.25}\n', b"", b"", 0),
    "a sum equal to the threshold is not selected": (
        ["-t", "2"], b'{"index":1,"total":1}\n', b"", b"", 0),
    "integers add up in double precision": (
        [], b'{"index":1,"total":1}\n', b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "the sum is the shortest repr of the double": (
        ["-t", "0.3"], b'{"index":0.1,"total":0.2}\n',
        b'{"index":0.1,"total":0.2,"sum_val":0.30000000000000004}\n', b"", 0),
    "records come out in input order": (
        [], b'{"index":2,"total":1}\n{"index":0,"total":0}\n{"index":1,"total":1}\n',
        b'{"index":2,"total":1,"sum_val":3.0}\n{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "empty input": ([], b"", b"", b"", 0),
    # --- input rules -------------------------------------------------------
    "CRLF line endings": (
        [], b'{"index":1,"total":1}\r\n', b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "last line without a newline": (
        [], b'{"index":1,"total":1}', b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "a BOM at the start of the input is ignored": (
        [], b'\xef\xbb\xbf{"index":1,"total":1}\n', b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "blank and whitespace-only lines are ignored but counted": (
        [], b'\n  \n\t\r\nnope\n', b"",
        b"jsonfilter: <stdin>:4: invalid JSON: invalid literal, expected 'null' (column 1)\n", 1),
    "surrounding whitespace is dropped, inner whitespace kept": (
        [], b'  {"index" : 1 , "total" : 1 }  \n', b'{"index" : 1 , "total" : 1,"sum_val":2.0}\n', b"", 0),
    "the last of repeated keys counts": (
        [], b'{"index":"x","total":1,"index":1}\n',
        b'{"index":"x","total":1,"index":1,"sum_val":2.0}\n', b"", 0),
    "a repeated key whose last value is not a number": (
        [], b'{"index":1,"total":1,"index":"x"}\n', b"",
        b'jsonfilter: <stdin>:1: field "index" is not a number\n', 1),
    # --- lossless output ---------------------------------------------------
    "big integers and decimal literals pass unchanged": (
        [], b'{"index":12345678901234567890123,"total":1.10,"n":-0.0,"e":1E2}\n',
        b'{"index":12345678901234567890123,"total":1.10,"n":-0.0,"e":1E2,'
        b'"sum_val":1.2345678901234568e+22}\n', b"", 0),
    "escapes, non-ASCII text and nesting pass unchanged": (
        [], '{"s":"\\u00e9\\n\\/\\"","t":"h\u00e9\u6f22","o":{"a":[1,{"b":null}]},"index":1,"total":1}\n'.encode(),
        '{"s":"\\u00e9\\n\\/\\"","t":"h\u00e9\u6f22","o":{"a":[1,{"b":null}]},"index":1,"total":1,'
        '"sum_val":2.0}\n'.encode(), b"", 0),
    "an existing sum field is replaced where it stands": (
        [], b'{"sum_val":"old","index":1,"total":1,"z":0}\n',
        b'{"sum_val":2.0,"index":1,"total":1,"z":0}\n', b"", 0),
    "an existing sum field written with escapes, holding brackets": (
        [], b'{"sum\\u005fval":[1,{"a":"}]"}],"index":1,"total":1}\n',
        b'{"sum\\u005fval":2.0,"index":1,"total":1}\n', b"", 0),
    "every copy of a repeated sum field is replaced": (
        [], b'{"sum_val":1,"index":1,"total":1,"sum_val":{"x":2}}\n',
        b'{"sum_val":2.0,"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    # --- options -----------------------------------------------------------
    "-t sets the threshold": (
        ["-t", "0.5"], b'{"index":0.5,"total":0.25}\n',
        b'{"index":0.5,"total":0.25,"sum_val":0.75}\n', b"", 0),
    "-t takes a negative number": (
        ["-t", "-1"], b'{"index":0,"total":0}\n', b'{"index":0,"total":0,"sum_val":0.0}\n', b"", 0),
    "-f adds up other fields": (
        ["-f", "a,b,c", "-t", "2"], b'{"a":1,"b":0.5,"c":0.75,"index":"n/a"}\n',
        b'{"a":1,"b":0.5,"c":0.75,"index":"n/a","sum_val":2.25}\n', b"", 0),
    "-f with one field": (
        ["-f", "a", "-t", "0"], b'{"a":3}\n', b'{"a":3,"sum_val":3.0}\n', b"", 0),
    "-s names the sum field": (
        ["-s", "total_sum"], b'{"index":1,"total":1}\n',
        b'{"index":1,"total":1,"total_sum":2.0}\n', b"", 0),
    "-s with a name that needs escaping": (
        ["-s", 'a"b'], b'{"index":1,"total":1}\n', b'{"index":1,"total":1,"a\\"b":2.0}\n', b"", 0),
    "- reads stdin": (
        ["-"], b'{"index":1,"total":1}\n', b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    # --- bad records -------------------------------------------------------
    "not JSON": (
        [], b'nope\n', b"",
        b"jsonfilter: <stdin>:1: invalid JSON: invalid literal, expected 'null' (column 1)\n", 1),
    "trailing garbage after the object": (
        [], b'{"index":1,"total":1} x\n', b"",
        b"jsonfilter: <stdin>:1: invalid JSON: unexpected content after document (column 23)\n", 1),
    "two objects on one line": (
        [], b'{"index":1,"total":1}{"index":1,"total":1}\n', b"",
        b"jsonfilter: <stdin>:1: invalid JSON: unexpected content after document (column 22)\n", 1),
    "NaN is not JSON": (
        [], b'{"index":NaN,"total":1}\n', b"",
        b"jsonfilter: <stdin>:1: invalid JSON: unexpected character, expected a JSON value (column 10)\n", 1),
    "Infinity is not JSON": (
        [], b'{"index":1,"total":-Infinity}\n', b"",
        b"jsonfilter: <stdin>:1: invalid JSON: no digit after sign (column 21)\n", 1),
    "a truncated record": (
        [], b'{"index":1,"total":1\n', b"",
        b"jsonfilter: <stdin>:1: invalid JSON: unexpected end of data (column 21)\n", 1),
    "invalid UTF-8": (
        [], b'{"index":1,"total":1,"s":"\xff"}\n', b"",
        b"jsonfilter: <stdin>:1: invalid UTF-8 at byte 27\n", 1),
    "a number beyond the double range": (
        [], b'{"index":1,"total":1,"big":1e400}\n', b"",
        b"jsonfilter: <stdin>:1: invalid JSON: number is infinity when parsed as double (column 28)\n", 1),
    "an array is not a record": (
        [], b'[{"index":1,"total":1}]\n', b"",
        b"jsonfilter: <stdin>:1: not a JSON object but an array\n", 1),
    "a bare number is not a record": (
        [], b'3\n', b"", b"jsonfilter: <stdin>:1: not a JSON object but a number\n", 1),
    "a missing field": (
        [], b'{"index":1}\n', b"", b'jsonfilter: <stdin>:1: missing field "total"\n', 1),
    "a string is not a number": (
        [], b'{"index":"1","total":1}\n', b"", b'jsonfilter: <stdin>:1: field "index" is not a number\n', 1),
    "a boolean is not a number": (
        [], b'{"index":1,"total":true}\n', b"", b'jsonfilter: <stdin>:1: field "total" is not a number\n', 1),
    "null is not a number": (
        [], b'{"index":null,"total":1}\n', b"", b'jsonfilter: <stdin>:1: field "index" is not a number\n', 1),
    "an overflowing sum": (
        [], b'{"index":1e308,"total":1e308}\n', b"", b"jsonfilter: <stdin>:1: sum is not finite\n", 1),
    "bad records are skipped and the rest still selected": (
        [], b'{"index":1,"total":1}\n{"index":1}\n{"index":2,"total":1}\n',
        b'{"index":1,"total":1,"sum_val":2.0}\n{"index":2,"total":1,"sum_val":3.0}\n',
        b'jsonfilter: <stdin>:2: missing field "total"\n', 1),
    "--on-error skip is silent and exits 0": (
        ["--on-error", "skip"], b'{"index":1}\n{"index":1,"total":1}\n',
        b'{"index":1,"total":1,"sum_val":2.0}\n', b"", 0),
    "--on-error fail stops at the first bad record, keeping what came before": (
        ["--on-error", "fail"], b'{"index":1,"total":1}\n{"index":1}\n{"index":2,"total":1}\n[]\n',
        b'{"index":1,"total":1,"sum_val":2.0}\n', b'jsonfilter: <stdin>:2: missing field "total"\n', 2),
    "after ten messages the rest are only counted": (
        [], b"x\n" * 12 + b'{"index":1,"total":1}\n', b'{"index":1,"total":1,"sum_val":2.0}\n',
        b"".join(b"jsonfilter: <stdin>:%d: invalid JSON: unexpected character, expected a JSON value"
                 b" (column 1)\n" % n for n in range(1, 11))
        + b"jsonfilter: 12 bad records in all (2 not shown)\n", 1),
    # --- usage errors ------------------------------------------------------
    "a threshold that is not a number": (
        ["-t", "abc"], b"", b"",
        b"jsonfilter: argument -t/--threshold: not a number: 'abc' (see 'jsonfilter --help')\n", 2),
    "a threshold that is not finite": (
        ["-t", "nan"], b"", b"",
        b"jsonfilter: argument -t/--threshold: not a finite number: 'nan' (see 'jsonfilter --help')\n", 2),
    "an empty field name": (
        ["-f", "index,,total"], b"", b"",
        b"jsonfilter: argument -f/--fields: empty field name in 'index,,total' (see 'jsonfilter --help')\n", 2),
    "an unknown option": (
        ["--bogus"], b"", b"", b"jsonfilter: unrecognized arguments: --bogus (see 'jsonfilter --help')\n", 2),
}


@pytest.mark.parametrize("name", CASES)
def test_golden(name, run_jsonfilter):
    args, stdin, stdout, stderr, status = CASES[name]
    result = run_jsonfilter(*args, stdin=stdin)
    assert (result.stdout, result.stderr, result.returncode) == (stdout, stderr, status)

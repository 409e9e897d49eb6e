"""Property: every output line is its input record, values and literals intact, plus the sum."""
import json
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from json_mapper import BadRecord, Spec, filter_record


# Keeps every number's literal text, so "1.10" and "1.1" stay different.
def literal(text):
    return json.loads(text, parse_int=lambda s: ("int", s), parse_float=lambda s: ("float", s))


def number_literals():
    ints = st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str)
    decimals = st.tuples(st.integers(-999, 999), st.text("0123456789", min_size=1, max_size=6)).map(
        lambda p: f"{p[0]}.{p[1]}")
    exponents = st.tuples(st.integers(-99, 99), st.sampled_from("eE"), st.integers(-300, 300)).map(
        lambda p: f"{p[0]}{p[1]}{p[2]}")
    return st.one_of(ints, decimals, exponents)


json_values = st.recursive(
    st.one_of(st.sampled_from(["null", "true", "false"]), number_literals(),
              st.text().map(lambda s: json.dumps(s, ensure_ascii=False)),
              st.text().map(json.dumps)),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.dictionaries(st.text(max_size=5), children, max_size=4).map(
            lambda d: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in d.items()) + "}")),
    max_leaves=12,
)


@st.composite
def records(draw):
    extra = draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("index", "total")),
                                 json_values, max_size=5))
    members = [(json.dumps(k), v) for k, v in extra.items()]
    members.append(('"index"', draw(number_literals())))
    members.append(('"total"', draw(number_literals())))
    order = draw(st.permutations(range(len(members))))
    space = draw(st.sampled_from(["", " ", "\t"]))
    return "{" + f",{space}".join(f"{members[i][0]}:{space}{members[i][1]}" for i in order) + "}"


@settings(max_examples=300, deadline=None)
@given(records(), st.floats(min_value=-1e6, max_value=1e6))
@example('{"sum_val":[],"index":0,"total":1}', 0.0)
def test_output_reparses_to_the_input_values_plus_the_sum(text, threshold):
    spec = Spec(threshold=threshold)
    record = text.encode()
    values = json.loads(text)
    try:
        total = float(values["index"]) + float(values["total"])
    except OverflowError:
        total = math.inf
    try:
        out = filter_record(record, spec)
    except BadRecord as err:
        # Only a number beyond the double range may make a well-formed record bad.
        assert "infinity" in err.reason or err.reason == "sum is not finite"
        return
    assert math.isfinite(total)
    if not total > threshold:
        assert out is None
        return
    before = literal(text)
    after = literal(out.decode())
    # A sum field already there (an extra key may be "sum_val") gets the sum where it stands.
    assert list(after) == list(before) + ([] if "sum_val" in before else ["sum_val"])
    assert {k: v for k, v in after.items() if k != "sum_val"} == {k: v for k, v in before.items() if k != "sum_val"}
    assert after["sum_val"] == ("float", repr(total))

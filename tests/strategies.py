"""Hypothesis strategies for hostile input: what a fuzzer types into queuectl.

Shared by the in-process fuzz tests (unit) and the real-process one
(integration). Values lean towards the edges that broke things before: huge
and non-finite numbers, NaN, ids with a trailing newline, control characters,
bytes that are not UTF-8, deep JSON.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from queuectl.domain import defaults
from queuectl.domain.model import ID_PATTERN
from queuectl.domain.settings import KEYS

EDGE_NUMBERS = ["inf", "-inf", "Infinity", "nan", "NaN", "1e400", "1e300", "-1", "0", "1.5", "-0",
                "99999999999999999999", "9223372036854775808", "-9223372036854775809", "2592000", "2592001",
                "1000000000", "1000000001", "1000000", "1000001", "٣", "0x10", "1_000", " 7 ", "7\n", ""]
EDGE_TIMES = ["9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00+14:00",
              "2026-01-31T12:00:00Z", "2026-02-30", "tomorrow", "2026-01-31T12:00:00Z\n"]
EDGE_TEXT = ["tgt\n", "tgt", "\n", "", " ", "\x1b[31mred", "a\x00b", "\udcff", "caf\udce9", "d", "-", "--",
             "x" * 129, "{", "{}", '{"command":"true"}', "mongodb:/u:s3cret@h"]

ids = st.from_regex(ID_PATTERN, fullmatch=True)
undecodable = st.binary(max_size=12).map(lambda raw: raw.decode("utf-8", "surrogateescape"))
text = st.one_of(st.text(max_size=30), undecodable, st.sampled_from(EDGE_TEXT))
identifier = st.one_of(ids, ids.map(lambda value: value + "\n"), st.sampled_from(["tgt", "d", "default"]), text)
numbers = st.one_of(st.sampled_from(EDGE_NUMBERS), st.integers(-(10 ** 30), 10 ** 30).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr), text)
durations = st.one_of(numbers, st.tuples(numbers, st.sampled_from("smhd")).map("".join))
times = st.one_of(st.sampled_from(EDGE_TIMES), st.datetimes().map(lambda value: value.isoformat()), text)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10 ** 25), 10 ** 25),
                         st.floats(allow_nan=True, allow_infinity=True), text, ids)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
rule_lists = st.one_of(st.sampled_from(["2,64-78,timeout", "lost", "300", "1-", " 2 ", "2\n"]), text, json_values,
                       st.lists(st.one_of(st.integers(-3, 300), st.sampled_from(["timeout", "3-4", "x"])), max_size=4))
FIELDS = ["id", "command", "max_retries", "priority", "run_at", "delay", "timeout", "queue", "state", "history",
          "cwd", "env", "unique_key", "retry_on", "no_retry_on"]
env_names = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), text,
                      st.sampled_from(["QUEUECTL_DB", "MONGO_URI", "QUEUECTL_JOB_ID", "PATH", "A\n"]))
FIELD_VALUES = {"id": identifier, "queue": identifier, "command": st.one_of(text, st.just("true")),
                "run_at": st.one_of(times, json_values), "delay": st.one_of(durations, json_values),
                "timeout": st.one_of(json_values, st.floats(), st.integers(-(10 ** 20), 10 ** 20)),
                "cwd": st.one_of(text, text.map(lambda value: "/" + value), json_values),
                "env": st.one_of(json_values, st.dictionaries(env_names, st.one_of(text, json_values), max_size=4)),
                "unique_key": identifier, "retry_on": rule_lists, "no_retry_on": rule_lists}
known_fields = st.fixed_dictionaries({}, optional={name: FIELD_VALUES.get(name, json_values) for name in FIELDS})
job_mappings = st.tuples(known_fields, st.dictionaries(st.text(max_size=8), json_values, max_size=2)).map(
    lambda parts: {**parts[1], **parts[0]})


def _json_text(data: object) -> str:
    return json.dumps(data, allow_nan=True)


def _deep(depth: int) -> str:
    return '{"command":"true","history":' + "[" * depth + "]" * depth + "}"


job_texts = st.one_of(
    job_mappings.map(_json_text),
    st.integers(0, 200_000).map(_deep),
    st.integers(300, 6000).map(lambda digits: '{"command":"x","priority":' + "9" * digits + "}"),
    st.sampled_from(['{"command":"x","timeout":1e400}', '{"command":"x","timeout":NaN}',
                     '{"command":"x","timeout":-Infinity}', '{"command":"' + "x" * (defaults.COMMAND_MAX_BYTES + 1)
                     + '"}', "[1]", "null", "{", '{"command":"true"}\n']),
    text,
)
config_keys = st.one_of(st.sampled_from(KEYS), st.sampled_from([key.replace("_", "-") for key in KEYS]), text)

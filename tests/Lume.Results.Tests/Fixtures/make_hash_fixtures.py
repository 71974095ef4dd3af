#!/usr/bin/env python3
"""Writes hash_fixtures.json: results and the unique_hash LUME-services gives them.

Run once with any python3 (`python3 make_hash_fixtures.py > hash_fixtures.json`); the tests read the output and
never need Python. The hash is upstream's: the MD5 hex digest of json.dumps of {inputs, outputs, flow_id}, in that
order, with json.dumps's defaults (", " and ": " separators, insertion order, non-ASCII escaped, Python floats).
"""
import hashlib
import json

cases = [
    ("integers", "flow-int", {"a": 1, "b": -2, "c": 0}, {"n": 123456789012345678901234567890}),
    ("floats", "flow-float", {"one": 1.0, "tenth": 0.1, "small": 1e-7, "big": 1e22}, {"neg": -2.5, "negsmall": -1e-5}),
    ("float edges", "flow-edges", {"a": 1e16, "b": 1234567890123456.0, "c": 0.0001, "d": 0.00001, "e": 123.456e5},
     {"f": 5e-324, "g": 1.7976931348623157e308, "h": -0.0, "i": 0.0, "j": 2.0 ** 53, "k": 1 / 3}),
    ("nested", "flow-nested", {"obj": {"x": [1, 2, {"y": [True, False, None]}], "empty": {}}, "list": []},
     {"deep": [[[1.5]], {"k": "v"}]}),
    ("text", "flow-text", {"greek": "αβγ", "emoji": "smile 😀", "quotes": "say \"hi\"\\ now", "controls": "tab\tnew\nline\x01\x7f"},
     {"slash": "a/b", "cjk": "漢字", "accents": "naïve café"}),
    ("booleans and null", "flow-bool", {"t": True, "f": False, "n": None}, {"mixed": [True, None, 0, 0.5, "s"]}),
    ("key order", "flow-order", {"zeta": 1, "alpha": 2, "mid": 3}, {"b": {"z": 1, "a": 2}}),
    ("non-ascii flow id", "flöw-ü", {"input1": "HelloWorld"}, {"output1": "HelloWorld"}),
    ("upstream flow2", "flow2", {"input1": "HelloWorld"}, {"output1": "HelloWorld"}),
]

fixtures = []
for name, flow_id, inputs, outputs in cases:
    text = json.dumps({"inputs": inputs, "outputs": outputs, "flow_id": flow_id})
    fixtures.append({
        "name": name,
        "flow_id": flow_id,
        "inputs": inputs,
        "outputs": outputs,
        "json": text,
        "unique_hash": hashlib.md5(text.encode("utf-8")).hexdigest(),
    })

print(json.dumps(fixtures, indent=2))

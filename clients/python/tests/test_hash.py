"""unique_hash in Python equals the Results service's: on upstream's own fixtures, and on a result the service stored."""

import json
from pathlib import Path

import pytest

from lume_client import ResultRequestFailed, result_rep, unique_hash

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "Lume.Results.Tests" / "Fixtures" / "hash_fixtures.json"


def load_fixtures():
    return json.loads(FIXTURES.read_text())


@pytest.mark.parametrize("fixture", load_fixtures(), ids=lambda f: f["name"])
def test_hash_matches_the_fixtures_python_computed(fixture):
    assert unique_hash(fixture["inputs"], fixture["outputs"], fixture["flow_id"]) == fixture["unique_hash"]


def test_empty_fields_are_refused_as_upstream_refuses_them():
    with pytest.raises(ValueError, match="inputs is empty"):
        unique_hash({}, {"a": 1}, "flow")
    with pytest.raises(ValueError, match="flow_id is empty"):
        unique_hash({"a": 1}, {"a": 1}, "")


# Keys out of order, non-ASCII text, floats that look like integers, nesting: where a careless encoder differs.
TRICKY = {
    "flow_id": "flow-ünïcode",
    "inputs": {"z": 1.0, "a": [0.1, 1e-07, 1e22, -0.0], "text": "Grüße, 世界 \U0001F600 \"quoted\"\n"},
    "outputs": {"nested": {"b": True, "a": None, "n": 12345678901234567}, "empty_list": []},
}


def test_hash_equals_the_one_the_results_service_computed(lume):
    rep = lume.store_result(TRICKY)
    assert rep["query"]["unique_hash"] == unique_hash(TRICKY["inputs"], TRICKY["outputs"], TRICKY["flow_id"])
    stored = lume.load_result(result_rep(unique_hash(TRICKY["inputs"], TRICKY["outputs"], TRICKY["flow_id"])))
    assert stored["inputs"] == TRICKY["inputs"]
    assert stored["unique_hash"] == rep["query"]["unique_hash"]


def test_hash_of_a_result_a_flow_stored(lume, tmp_path):
    """flow1 then flow2 (save_db_result): the rep the flow returns carries the hash Python computes for the text."""
    file_rep = lume.run_and_return("flow1", {"text1": "Hash", "text2": "Me", "filename": "hash.txt",
                                             "filesystem_identifier": "local"}, "save_text_file", timeout=60)
    rep = lume.run_and_return("flow2", {"file_rep": file_rep}, "save_db_result", timeout=60)
    stored = lume.load_result(rep)
    assert rep["query"]["unique_hash"] == unique_hash({"input1": "HashMe"}, {"output1": "HashMe"}, stored["flow_id"])
    assert lume.load_result(rep, ["outputs", "output1"]) == "HashMe"


def test_query_results_finds_stored_results(lume):
    flow_id = "py-query-test"
    for text in ("one", "two"):
        lume.store_result({"flow_id": flow_id, "inputs": {"input1": text}, "outputs": {"output1": text.upper()}})
    found = lume.query_results("local", flow_id=flow_id)
    assert sorted(r["outputs"]["output1"] for r in found) == ["ONE", "TWO"]
    assert lume.query_results("local", {"inputs.input1": "two", "flow_id": flow_id})[0]["outputs"] == {"output1": "TWO"}


def test_a_refused_results_request_says_why(lume):
    with pytest.raises(ResultRequestFailed) as refused:
        lume.load_result(result_rep("0" * 32))
    assert refused.value.error_type == "NoResultFound"

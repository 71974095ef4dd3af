"""Result identity as LUME-services defines it, so that Python and the Results service name a result alike."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping


def unique_hash(inputs: Mapping[str, Any], outputs: Mapping[str, Any], flow_id: str) -> str:
    """The ``unique_hash`` of a result: MD5 hex of ``json.dumps({"inputs", "outputs", "flow_id"})``.

    Upstream hashes Python's default ``json.dumps`` text (``", "``/``": "`` separators, keys in insertion order,
    non-ASCII escaped), and Lume's Results service writes exactly that text in C#: the same digest here lets a client
    find a stored result (``{"query": {"unique_hash": ...}}``) without asking the service first. Empty inputs,
    outputs or flow_id are refused, as upstream and the service refuse them.
    """
    problems = [name for name, value in (("flow_id", flow_id), ("inputs", inputs), ("outputs", outputs)) if not value]
    if problems:
        raise ValueError(f"cannot compute unique_hash: {', '.join(p + ' is empty' for p in problems)}")
    text = json.dumps({"inputs": inputs, "outputs": outputs, "flow_id": flow_id})
    return hashlib.md5(text.encode()).hexdigest()


GENERIC_RESULT = "lume_services.results.generic.Result"


def result_rep(unique_hash_value: str, project_name: str = "local", result_type_string: str = GENERIC_RESULT) -> dict:
    """A result rep that finds a stored result by its hash, as ``save_db_result`` returns one."""
    return {
        "project_name": project_name,
        "result_type_string": result_type_string,
        "query": {"unique_hash": unique_hash_value},
    }

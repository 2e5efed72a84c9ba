"""Contract documents for tests: the fixture's valid base contract with edits applied."""

from __future__ import annotations

import copy
from typing import Any

from fixture_cases import load

FIXTURE = "contracts.yaml"


def _resolve(doc: dict[str, Any], path: str) -> tuple[Any, str]:
    """The container and the last key of a dotted path; `$sem` and `$col:NAME` are shortcuts."""
    parts: list[str] = []
    for part in path.split("."):
        if part == "$sem":
            parts += ["customProperties", "0", "value"]
        elif part.startswith("$col:"):
            names = [p["name"] for p in doc["schema"][0]["properties"]]
            parts += ["schema", "0", "properties", str(names.index(part[5:]))]
        else:
            parts.append(part)
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def document(case: dict[str, Any]) -> Any:
    if "replace" in case:
        return case["replace"]
    doc = copy.deepcopy(load(FIXTURE, "base"))
    for path in case.get("unset", []):
        node, key = _resolve(doc, path)
        del node[key]
    for path, value in case.get("set", {}).items():
        node, key = _resolve(doc, path)
        if isinstance(node, list):
            index = int(key)
            if index == len(node):
                node.append(value)
            else:
                node[index] = value
        else:
            node[key] = value
    return doc

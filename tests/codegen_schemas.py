"""JSON Schemas of Codegen's answers, taken from the OpenAPI spec the test server is built from, and
hypothesis strategies that generate any answer the spec allows (hypothesis-jsonschema).

`answers("AgentRunResponse")` draws AgentRunResponse bodies: nulls wherever the spec allows them,
any string for a status, empty and long strings, extra properties. `answers(name, null=(component,
field))` draws only bodies in which that field is present and null, with every object on the way to
it present too (arrays of it non-empty), so a test of one nullable field always meets it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

SPEC_PATH = Path(__file__).parent / "servers" / "codegen-openapi.json"
_REF_PREFIX = "#/components/schemas/"
FREE_FORM_KEYS = 3

NullField = tuple[str, str]
"""(component name, property name): a property the spec lets be null."""


@cache
def _components() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())["components"]["schemas"]


def component_schema(name: str, *, null: NullField | None = None, closed: bool = True) -> dict[str, Any]:
    """The schema of components/schemas/`name` with every $ref inlined (the spec has no cycles).

    With `null`, that property is required and must be null, and every property on the way to it
    from `name` is required, not null, and (for arrays) holds at least one item. `closed` objects
    have only the properties the spec names, as Codegen's FastAPI service sends them, and free-form
    objects (`metadata`, `tool_input`, ...) at most FREE_FORM_KEYS keys: drawing arbitrary extra
    JSON is slow and finds nothing, since every model keeps unknown fields as they come.
    """
    components = copy.deepcopy(_components())
    if closed:
        for schema in components.values():
            if "properties" in schema:
                schema.setdefault("additionalProperties", False)
            _limit_free_form(schema)
    if null is not None:
        component, field = null
        target = components[component]
        target["properties"][field] = {"type": "null"}
        target["required"] = sorted({*target.get("required", []), field})
        _require_paths_to(components, component)
    return _inline(components[name], components)


@cache
def answers(name: str, *, null: NullField | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Answers the spec allows for components/schemas/`name` (see `component_schema`); one strategy
    per argument, built once."""
    return from_schema(component_schema(name, null=null))


def nullable_fields(name: str) -> list[NullField]:
    """Every property that may be null in `name` or in an object it contains, in spec order."""
    found: list[NullField] = []
    for component in [name, *_reachable(name)]:
        for field, schema in _components()[component].get("properties", {}).items():
            if {"type": "null"} in schema.get("anyOf", []):
                found.append((component, field))
    return found


def _limit_free_form(node: Any) -> None:
    """Give every free-form object schema inside `node` at most FREE_FORM_KEYS keys."""
    if isinstance(node, dict):
        if node.get("type") == "object" and node.get("additionalProperties") is True:
            node.setdefault("maxProperties", FREE_FORM_KEYS)
        for value in node.values():
            _limit_free_form(value)
    elif isinstance(node, list):
        for value in node:
            _limit_free_form(value)


def _refs(node: Any) -> Iterator[str]:
    """Names of the components that `node` refers to, at any depth."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            yield ref.removeprefix(_REF_PREFIX)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(name: str) -> list[str]:
    """Components that `name` contains, directly or not, each once, nearest first."""
    seen: list[str] = []
    todo = list(_refs(_components()[name]))
    while todo:
        ref = todo.pop(0)
        if ref not in seen and ref != name:
            seen.append(ref)
            todo.extend(_refs(_components()[ref]))
    return seen


def _require_paths_to(components: dict[str, Any], target: str) -> None:
    """Make every property through which some component contains `target` required, not null, and
    (for arrays) non-empty, transitively."""
    wanted = {target}
    changed = True
    while changed:
        changed = False
        for name, schema in components.items():
            for field, prop in schema.get("properties", {}).items():
                if wanted.isdisjoint(_refs(prop)):
                    continue
                shown = _shown(prop, wanted)
                if shown != prop or field not in schema.get("required", []):
                    schema["properties"][field] = shown
                    schema["required"] = sorted({*schema.get("required", []), field})
                    changed = True
                if name not in wanted:
                    wanted.add(name)
                    changed = True


def _shown(prop: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    """`prop` narrowed to the branch that holds one of `wanted`: never null, never an empty array."""
    options = prop.get("anyOf")
    if options:
        holding = [option for option in options if not wanted.isdisjoint(_refs(option))]
        rest = {key: value for key, value in prop.items() if key != "anyOf"}
        return _shown({**rest, **holding[0]}, wanted)
    if prop.get("type") == "array":
        return {**prop, "minItems": max(1, prop.get("minItems", 0))}
    return prop


def _inline(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return _inline({**components[ref.removeprefix(_REF_PREFIX)], **rest}, components)
        return {key: _inline(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, components) for value in node]
    return node

"""Checks HTTP requests and responses against Codegen's published OpenAPI 3.1 description.

The spec is loaded once per process (`codegen_contract()`) and checked with openapi-core's
OpenAPI 3.1 validators. Results are memoised so that polling stays cheap: request parameters by
shape (numeric path segments don't change the outcome), request bodies and responses by exact
bytes, and in paged responses (`items`) each item is validated once per operation: later pages are
checked with only the items not seen before, which the uniform `items` schema makes equivalent to
checking them all. The spec declares no string formats, so no format checker is built.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jsonschema_path import SchemaPath
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.validators import (
    V31RequestBodyValidator,
    V31RequestParametersValidator,
)
from openapi_core.validation.response.validators import V31ResponseValidator
from openapi_schema_validator import OAS31Validator

SPEC_PATH = Path(__file__).with_name("codegen-openapi.json")  # a copy of Codegen's published spec
# The servers entry in the spec; requests are checked as if they were sent there.
SPEC_HOST = "https://api.codegen.com"
_MEMO_SIZE = 4096
_SEEN_SIZE = 100_000
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def _describe(error: BaseException) -> str:
    """One line per problem, without echoing the whole offending document."""
    cause = error.__cause__
    schema_errors: Iterable[Any] = getattr(cause, "schema_errors", None) or getattr(
        error, "schema_errors", ()
    )
    details = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in schema_errors
    ]
    if details:
        name = getattr(error, "name", None)  # set on parameter errors
        head = type(error).__name__ + (f" {name!r}" if name else "")
        return f"{head}: " + "; ".join(details)
    return f"{error}" + (f" ({cause})" if cause is not None else "")


class OpenApiContract:
    """Validates traffic against one OpenAPI document; thread-safe."""

    def __init__(self, spec: dict[str, Any]) -> None:
        # The document itself is not re-validated: the published spec has an unrelated defect
        # (check-suite-settings declares no org_id parameter) that openapi-spec-validator rejects.
        path = SchemaPath.from_dict(spec)
        self._parameters = V31RequestParametersValidator(path, format_validators={})
        self._body = V31RequestBodyValidator(path, format_validators={})
        self._response = V31ResponseValidator(path, format_validators={})
        self._fallbacks = self._schemas_by_status(spec)
        self._lock = threading.Lock()
        self._memo: dict[tuple[Any, ...], list[Any]] = {}
        self._seen_items: set[tuple[str, str, str]] = set()

    @staticmethod
    def _schemas_by_status(spec: dict[str, Any]) -> dict[int, OAS31Validator]:
        """For each status, a validator accepting any body the spec documents for it anywhere."""
        refs: dict[int, set[str]] = {}
        for operations in spec["paths"].values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if schema and "$ref" in schema:
                        refs.setdefault(int(status), set()).add(schema["$ref"])
        return {
            status: OAS31Validator(
                {"components": spec["components"], "anyOf": [{"$ref": r} for r in sorted(found)]}
            )
            for status, found in refs.items()
        }

    def _mock_request(
        self, method: str, path: str, query: str, body: bytes, content_type: str
    ) -> MockRequest:
        return MockRequest(
            SPEC_HOST,
            method,
            path,
            args=parse_qsl(query, keep_blank_values=True),  # type: ignore[arg-type]
            data=body,
            content_type=content_type,
        )

    def _memoised(self, key: tuple[Any, ...], check: Any) -> list[Any]:
        if key in self._memo:
            return self._memo[key]
        errors: list[Any] = check()
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = errors
        return errors

    def _unseen_items(self, method: str, shape: str, body: bytes) -> bytes:
        """The body with the `items` already validated for this operation left out."""
        try:
            document = json.loads(body)
        except ValueError:
            return body
        if not (isinstance(document, dict) and isinstance(document.get("items"), list)):
            return body
        if len(self._seen_items) >= _SEEN_SIZE:
            self._seen_items.clear()
        fresh = []
        for item in document["items"]:
            seen = (method, shape, json.dumps(item, sort_keys=True))
            if seen not in self._seen_items:
                self._seen_items.add(seen)
                fresh.append(item)
        document["items"] = fresh
        return json.dumps(document).encode()

    def request_errors(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> list[str]:
        """Why this request does not conform to the spec (empty when it does)."""
        request = self._mock_request(method, path, query, body, content_type)
        shape = _ID_SEGMENT.sub("/0", path)
        with self._lock:
            errors = self._memoised(
                ("parameters", method, shape, query),
                lambda: list(self._parameters.iter_errors(request)),
            )
            if any(isinstance(e, PathError) for e in errors):  # no such call: nothing more to say
                return [_describe(e) for e in errors]
            errors = errors + self._memoised(
                ("body", method, shape, body, content_type),
                lambda: list(self._body.iter_errors(request)),
            )
        return [_describe(e) for e in errors]

    def response_errors(
        self,
        method: str,
        path: str,
        status: int,
        body: bytes,
        query: str = "",
        content_type: str = "application/json",
    ) -> list[str]:
        """Why this response does not conform to the spec (empty when it does).

        A status the spec leaves out for this operation (say 403 on /repos, which the spec omits)
        is checked against the bodies the spec gives that status elsewhere; statuses the spec
        never describes with a body (500, 503) are not checked. A path or method the spec does
        not have is reported by `request_errors`, not here.
        """
        request = self._mock_request(method, path, query, b"", content_type)
        shape = _ID_SEGMENT.sub("/0", path)
        with self._lock:
            if status == 200:
                body = self._unseen_items(method, shape, body)
            return self._memoised(
                ("response", method, shape, status, body, content_type),
                lambda: self._check_response(request, status, body, content_type),
            )

    def _check_response(
        self, request: MockRequest, status: int, body: bytes, content_type: str
    ) -> list[str]:
        errors: list[str] = []
        response = MockResponse(body, status_code=status, content_type=content_type)
        for error in self._response.iter_errors(request, response):
            if isinstance(error, ResponseNotFound):
                errors.extend(self._fallback_errors(status, body))
            elif not isinstance(error, PathError):
                errors.append(_describe(error))
        return errors

    def _fallback_errors(self, status: int, body: bytes) -> list[str]:
        validator = self._fallbacks.get(status)
        if validator is None:
            return []
        try:
            document = json.loads(body)
        except ValueError as exc:
            return [f"body is not JSON: {exc}"]
        return [f"{status} body: {e.message}" for e in validator.iter_errors(document)]


@cache
def codegen_contract() -> OpenApiContract:
    """The contract for Codegen's API, loaded once per process."""
    return OpenApiContract(json.loads(SPEC_PATH.read_text()))

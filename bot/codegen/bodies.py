"""Request bodies built (and checked) before they are sent, and answers parsed into models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.codegen.errors import InvalidRequest

ModelT = TypeVar("ModelT", bound=BaseModel)


def parser(model: type[ModelT]) -> Callable[[Any], ModelT]:
    """A function that validates an answer's JSON as `model` (pydantic's ValidationError if it is not)."""
    return model.model_validate


def body_of(schema: type[ModelT], /, **fields: Any) -> ModelT:
    """A request body, or InvalidRequest (before anything is sent) if the input is invalid."""
    try:
        return schema(**fields)
    except ValidationError as exc:
        raise InvalidRequest(errors=exc.errors(include_url=False)) from None

"""Refusals that say what would work instead, for requests Codegen turned down; pure functions."""

from __future__ import annotations

from bot.codegen import CodegenError, InvalidRequest

DEFAULT_MODEL_HINT = (
    "leave out model= (and clear your default model in the bot's Home tab, if you set one) to use the "
    "organization's default model."
)


def create_refusal(error: CodegenError, model: str | None) -> str:
    """Why Codegen would not start a run (`error`'s message), and, when the request named a `model` and
    Codegen rejected its input, how to do without it."""
    if not model or not isinstance(error, InvalidRequest):
        return error.user_message
    if "model" in f"{error.errors} {error.user_message}".lower():
        return f"{error.user_message} Codegen does not offer the model `{model}`: {DEFAULT_MODEL_HINT}"
    return f"{error.user_message} If `{model}` is not a model Codegen offers, {DEFAULT_MODEL_HINT}"

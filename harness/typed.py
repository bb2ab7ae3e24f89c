"""The base of every typed model that crosses a module boundary or goes to disk.

Pydantic v2 with unknown keys forbidden and no silent coercion ("5" is not an int), and
one function that turns a ValidationError into the one line a user needs: the dotted
path of the field, what was wrong, and for an unknown key the allowed ones.
"""

from __future__ import annotations

import re
import typing
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, BaseModel)


def _members(annotation: Any) -> list:
    """The types a (possibly Optional/Union/Annotated) annotation can hold."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is Union or type(annotation).__name__ == "UnionType":
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _holder(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model that holds the last element of `loc` (for its allowed keys)."""
    current: Any = root
    for part in loc[:-1]:
        models = [m for m in _members(current) if _is_model(m)]
        containers = [m for m in _members(current) if typing.get_origin(m) in (dict, list)]
        if models and isinstance(part, str) and part in models[0].model_fields:
            current = models[0].model_fields[part].annotation
        elif containers:
            current = typing.get_args(containers[0])[-1]  # dict value / list item type
        elif not _is_tag(part):
            return None
    models = [m for m in _members(current) if _is_model(m)]
    return models[0] if models else None


# How pydantic names the member of a union that failed: int, constrained-int, literal['auto'], ...
UNION_TAG = re.compile(r"(int|float|str|bool|list|dict|none|constrained-\w+|function-\w+|\w+\[.*\])")


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and UNION_TAG.fullmatch(part) is not None


def _path(loc: tuple) -> str:
    """Dotted field path without pydantic's union tags."""
    return ".".join(str(p) for p in loc if not _is_tag(p))


def one_line(error: ValidationError, root: type[BaseModel], where: str = "") -> str:
    """The first problem of a ValidationError as `<where>.<field path>: <what to fix>`."""
    first = error.errors()[0]
    path = ".".join(p for p in (where, _path(first["loc"])) if p)
    if first["type"] == "extra_forbidden":
        holder = _holder(root, first["loc"])
        allowed = f" (allowed: {', '.join(holder.model_fields)})" if holder else ""
        parent, _, key = path.rpartition(".")
        return f"{parent}: unknown key '{key}'{allowed}" if parent else f"unknown key '{key}'{allowed}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] in ("missing", "value_error", "assertion_error"):
        return f"{path}: {message}"
    return f"{path}: {message[0].lower()}{message[1:]}, got {first['input']!r}"

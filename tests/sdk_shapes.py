"""The shapes of the ECI SDK's generated tea models (alibabacloud-eci20180808), read from the models
themselves (their `to_map` and type annotations): what the fake's answers and our own models are held to."""

from __future__ import annotations

import inspect
import re
import typing


def model_fields(cls) -> dict[str, tuple[str, typing.Any]]:
    """{wire name: (attribute, annotation)} of one generated tea model, from its own to_map()."""
    source = inspect.getsource(cls.to_map)
    wire = dict((attr, key) for key, attr in re.findall(r"result\['(\w+)'\] = self\.(\w+)\b", source))
    wire.update(
        (attr, key) for key, attr in re.findall(r"result\['(\w+)'\] = \[\]\s*\n\s*if self\.(\w+) is not None", source)
    )
    hints = typing.get_type_hints(cls.__init__)
    out = {}
    for name in inspect.signature(cls.__init__).parameters:
        if name == "self":
            continue
        assert name in wire, f"{cls.__name__}.{name}: no wire name found in to_map"
        out[wire[name]] = (name, hints[name])
    return out


def is_model(annotation) -> bool:
    return inspect.isclass(annotation) and hasattr(annotation, "to_map")


def check_shape(value, annotation, path, problems, empty=None):
    """Appends to `problems` every field missing or of another type; to `empty` every empty list of models."""
    if typing.get_origin(annotation) is typing.Union:  # `x: str = None` reads as Optional[str]
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is list:
        if not isinstance(value, list):
            problems.append(f"{path}: {type(value).__name__}, the model says a list")
            return
        (item,) = typing.get_args(annotation)
        if not value and is_model(item) and empty is not None:
            empty.append(path)
        for i, element in enumerate(value):
            check_shape(element, item, f"{path}[{i}]", problems, empty)
        return
    if is_model(annotation):
        if not isinstance(value, dict):
            problems.append(f"{path}: {type(value).__name__}, the model says an object ({annotation.__name__})")
            return
        for key, (_, field_type) in model_fields(annotation).items():
            if key not in value:
                problems.append(f"{path}.{key}: missing")
            else:
                check_shape(value[key], field_type, f"{path}.{key}", problems, empty)
        return
    expected = {str: str, int: int, float: (int, float), bool: bool, dict: dict}.get(annotation, object)
    if isinstance(value, bool) and annotation is not bool:
        problems.append(f"{path}: a bool, the model says {annotation.__name__}")
    elif not isinstance(value, expected):
        problems.append(f"{path}: {type(value).__name__}, the model says {getattr(annotation, '__name__', annotation)}")

"""What the property tests feed the product: any JSON value (`json_values`) and a real sample with parts
replaced, dropped or retyped (`mutate`)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


def mutate(draw_value: Any, value: Any, depth: int = 0) -> Any:
    """Replace, drop or retype parts of a real sample."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            choice = draw_value(st.integers(0, 5))
            if choice == 0:
                continue  # dropped
            out[k] = draw_value(json_values) if choice == 1 else mutate(draw_value, v, depth + 1)
        return out
    if isinstance(value, list):
        return [mutate(draw_value, v, depth + 1) for v in value]
    return draw_value(json_values) if draw_value(st.integers(0, 3)) == 0 else value

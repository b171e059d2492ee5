"""Converting an administrator's JSON value to a setting's type, with the reference's codes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pytest

from bodhi_common.errors import InvalidArgument
from bodhi_common.setting_types import convert

Workers = Annotated[int, msgspec.Meta(ge=1, le=16)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (Workers, 4, 4), (Workers, "4", 4), (Workers, 4.0, 4), (Seconds, "2.5", 2.5),
        (bool, True, True), (bool, "false", False), (Literal["a", "b"], "b", "b"),
        (str | None, "http://x", "http://x"), (str, 5, "5"),
    ],
)  # fmt: skip
def test_accepted_values(annotation: Any, value: Any, expected: Any) -> None:
    assert convert("K", annotation, value) == expected


@pytest.mark.parametrize(
    ("annotation", "value", "code"),
    [
        (Workers, None, "null_value"), (Workers, "many", "invalid_value_type"),
        (Workers, True, "invalid_value_type"), (Workers, 0, "invalid_value"),
        (Workers, 17, "invalid_value"), (Workers, 2.5, "invalid_value"),
        (Seconds, 0, "invalid_value"), (bool, "yes", "invalid_value_type"),
        (Literal["a", "b"], "c", "invalid_value"),
    ],
)  # fmt: skip
def test_refused_values(annotation: Any, value: Any, code: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        convert("K", annotation, value)
    assert refused.value.code == f"settings_metadata_error-{code}"
    assert refused.value.param == "K"

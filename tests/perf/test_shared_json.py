"""JSON that many rows share (procedure codes, a study's content) is parsed once per process and
handed to every request as the same value, so no request may change what the next one reads."""

from __future__ import annotations

import pytest

from portal.db import shared_json


def test_the_same_text_gives_the_same_value_once_parsed() -> None:
    first = shared_json('{"preparation": {"bring_zh": "请带上身份证"}, "flags": ["a", "b"]}')
    again = shared_json('{"preparation": {"bring_zh": "请带上身份证"}, "flags": ["a", "b"]}')
    assert again is first
    assert first["preparation"]["bring_zh"] == "请带上身份证"
    assert first["flags"] == ("a", "b")


def test_a_shared_value_cannot_be_changed_by_one_request() -> None:
    value = shared_json('{"preparation": {"bring_en": "Bring your ID"}, "codes": ["labs"]}')
    with pytest.raises(TypeError):
        value["preparation"]["bring_en"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError):
        value["new"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        value["codes"].append("ultrasound")


def test_empty_or_missing_json_is_none() -> None:
    assert shared_json(None) is None
    assert shared_json("") is None

"""Reply handling: the schemas offer exactly the space's values (numbers as numbers for Claude,
strings that read back to the same cell for Gemini, and a schema the google-genai SDK accepts);
JSON is parsed from fenced or wrapped text and malformed JSON is named; every kind of bad item is
rejected with a reason, good ones come back canonical, at most n, in reply order."""

from __future__ import annotations

import pytest

from archsearch.agents.llm.replies import gemini_schema, items_of, json_schema, parse_json_text, validate, value_text
from archsearch.space import load_space

SPACE = load_space("demo")
A = SPACE.config_at(0)
B = SPACE.config_at(12345)
C = SPACE.config_at(99999)


def item(config, hypothesis="because"):
    return {"config": dict(config), "hypothesis": hypothesis}


def test_json_schema_enums_are_the_space_values():
    s = json_schema(SPACE)
    cfg = s["properties"]["proposals"]["items"]["properties"]["config"]
    assert cfg["required"] == list(SPACE.dims) and cfg["additionalProperties"] is False
    assert cfg["properties"]["lr"] == {
        "type": "number",
        "enum": [1e-4, 3e-4, 1e-3, 3e-3],
        "description": "training dimension",
    }
    assert cfg["properties"]["window_length"]["type"] == "integer"
    assert cfg["properties"]["backbone"]["enum"] == list(SPACE.values("backbone"))


def test_gemini_schema_strings_read_back_to_the_same_cell_and_sdk_accepts_it():
    from google.genai import types

    s = gemini_schema(SPACE)
    props = s["properties"]["proposals"]["items"]["properties"]["config"]["properties"]
    for d in SPACE.dimensions:
        texts = props[d.name]["enum"]
        assert all(isinstance(t, str) for t in texts)
        assert [SPACE.canonical({**A, d.name: t})[d.name] for t in texts] == list(d.values)
    schema = types.Schema.model_validate(s)
    assert schema.properties["proposals"].items.properties["config"].properties["lr"].enum == [
        "0.0001",
        "0.0003",
        "0.001",
        "0.003",
    ]
    assert value_text(0.0) == "0.0" and value_text(16) == "16"


@pytest.mark.parametrize(
    "text", ['{"proposals": []}', '```json\n{"proposals": []}\n```', 'Here you go:\n{"proposals": []}\nGood luck.']
)
def test_parse_json_text_tolerates_fences_and_prose(text):
    assert parse_json_text(text) == ({"proposals": []}, None)


@pytest.mark.parametrize("text", ['{"proposals": [{"config": ', "", None, "no json at all"])
def test_parse_json_text_names_malformed_json(text):
    payload, err = parse_json_text(text)
    assert payload is None and err.startswith("malformed JSON")


def test_items_of_shapes():
    assert items_of({"proposals": [1]}) == ([1], None)
    assert items_of([1, 2]) == ([1, 2], None)
    assert items_of({"proposals": '[{"config": {}}]'}) == ([{"config": {}}], None)  # double-encoded array
    for bad, why in (({"configs": []}, "'proposals'"), ({"proposals": {"a": 1}}, "must be an array"), (3, "int")):
        items, err = items_of(bad)
        assert items == [] and why in err


def test_validate_accepts_good_items_and_rejects_each_bad_kind_with_a_reason():
    text_numbers = {k: value_text(v) for k, v in B.items()}  # Gemini-style strings
    items = [
        item(A),  # 0 ok
        item({**A, "lr": 0.5}),  # 1 out of space
        item({**A, "optimizer": "adam"}),  # 2 unknown key
        item({k: v for k, v in A.items() if k != "epochs"}),  # 3 missing dimension
        item(A),  # 4 duplicate of 0
        item(C),  # 5 already run
        "not an object",  # 6 wrong shape
        {**item(SPACE.config_at(7)), "score": 0.9},  # 7 unknown item key
        item(text_numbers, hypothesis="  two\n lines "),  # 8 ok (strings read back as numbers)
        item(SPACE.config_at(8)),  # 9 beyond n
    ]
    v = validate(items, SPACE, taken={SPACE.config_id(C)}, n=2)
    assert [c for c, _ in v.accepted] == [A, B]
    assert v.accepted[1][1] == "two lines" and v.parsed == items
    reasons = {r["index"]: r["reason"] for r in v.rejections}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 9]
    assert "value 0.5 is not in the space" in reasons[1] and "unknown key 'optimizer'" in reasons[2]
    assert "missing key 'epochs'" in reasons[3] and "duplicate of item 0" in reasons[4]
    assert "already run" in reasons[5] and "expected an object" in reasons[6]
    assert "unknown item keys ['score']" in reasons[7] and "more than the 2" in reasons[9]
    assert "space_demo.yaml" not in reasons[1]  # the preamble naming the file is dropped for the model


def test_validate_fills_a_missing_hypothesis():
    v = validate([{"config": dict(A)}], SPACE, taken=(), n=1)
    assert v.accepted == [(A, "(no hypothesis given)")] and v.rejections == []

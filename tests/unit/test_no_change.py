"""The promise to deployed stacks: the same config registers the same resources (type, name,
parent, inputs) as the record in tests/unit/records/, made from the code before a change.
A failure here means a deployed stack would see changes on its next preview; regenerate the
record (python -m tests.unit.no_change) only when that change is intended."""

from __future__ import annotations

import pytest

from tests.unit.no_change import SCENARIOS, dump, load, path_of, record


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_registered_resources_match_the_record(scenario: str) -> None:
    expected = load(path_of(scenario).read_text())
    actual = load(dump(record(scenario)))
    assert [(r["type"], r["name"]) for r in actual] == [(r["type"], r["name"]) for r in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got == want, f"{got['type']} {got['name']} differs from the record"

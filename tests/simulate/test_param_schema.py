"""The parameter schema agrees with the parser and the configurations it describes."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from core.simulate.params import (
    COMMON,
    RANDOM,
    SCHEMA,
    ParamInfo,
    build_configs,
    describe,
    known_keys,
    parse_assignment,
)
from core.simulate.scenarios import SCENARIOS

NUMERIC = [i for i in SCHEMA.values() if i.kind in (int, float)]


def _with_companions(key: str, value: object) -> dict[str, object]:
    """``{key: value}`` plus what limits across keys need (rto order, a read of >= 1 octet)."""
    if key.startswith("rto_"):
        return {"rto_min": value, "rto_initial": value, "rto_max": value}
    if key == "read_rate":
        return {key: value, "read_every": 1.0}
    return {key: value}


def _text(value: float, kind: type) -> str:
    return str(int(value)) if kind is int else repr(float(value))


def test_every_key_is_described_once() -> None:
    bases = {k.split(".", 1)[1] if k.startswith(("client.", "server.")) else k
             for k in known_keys()}
    assert set(SCHEMA) == bases
    assert all(key == info.key for key, info in SCHEMA.items())
    sided = {k.split(".", 1)[1] for k in known_keys() if k.startswith("client.")}
    assert {k for k, i in SCHEMA.items() if i.per_side} == sided


def test_common_keys_exist_and_texts_are_one_line() -> None:
    assert set(COMMON) <= set(SCHEMA)
    for info in SCHEMA.values():
        assert info.text and "\n" not in info.text and len(info.text) < 100, info.key


@pytest.mark.parametrize("info", NUMERIC, ids=lambda i: i.key)
def test_ranges_are_accepted_and_typed(info: ParamInfo) -> None:
    assert info.minimum is not None and info.maximum is not None
    assert info.minimum < info.maximum
    for bound in (info.minimum, info.maximum):
        key, value = parse_assignment(f"{info.key}={_text(bound, info.kind)}")
        assert type(value) is info.kind
        build_configs(_with_companions(key, value))


@pytest.mark.parametrize("info", [i for i in NUMERIC if i.minimum], ids=lambda i: i.key)
def test_zero_below_a_positive_minimum_is_refused(info: ParamInfo) -> None:
    with pytest.raises(ParameterError):
        key, value = parse_assignment(f"{info.key}={_text(0, info.kind)}")
        build_configs(_with_companions(key, value))


def test_optional_keys_say_what_off_means() -> None:
    for info in SCHEMA.values():
        if info.kind not in (int, float):
            continue
        if info.off is None:
            with pytest.raises(ParameterError):
                parse_assignment(f"{info.key}=off")
        else:
            assert parse_assignment(f"{info.key}=off") == (info.key, None)
            build_configs({info.key: None})


def test_units_and_factors() -> None:
    assert SCHEMA["delay"].unit == "s" and SCHEMA["delay"].shown_in == "ms"
    assert SCHEMA["delay"].factor == 1000.0
    assert SCHEMA["loss"].shown_in == "%" and SCHEMA["loss"].factor == 100.0
    assert SCHEMA["msl"].factor == 1.0 and SCHEMA["mss"].factor == 1.0
    for info in SCHEMA.values():
        assert info.factor == 1.0 or (info.unit, info.shown_in) in (("s", "ms"),
                                                                    ("probability", "%"))


def test_words_and_choices_are_accepted() -> None:
    assert parse_assignment("iss=random") == ("iss", RANDOM)
    assert RANDOM in SCHEMA["iss"].words
    for choice in SCHEMA["preset"].choices:
        build_configs({"preset": choice})
    with pytest.raises(ParameterError):
        build_configs({"preset": "bsd"})


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_effective_values_lie_in_the_schema_ranges(scenario: object) -> None:
    """Every scenario's effective value fits the range a form offers (or is off)."""
    values = describe(scenario.params())  # type: ignore[attr-defined]
    for side in ("client", "server"):
        for key, value in values[side].items():  # type: ignore[attr-defined]
            info = SCHEMA[key]
            if value is None:
                assert info.off is not None, key
            elif info.kind in (int, float) and key != "iss":
                assert info.minimum is not None and info.maximum is not None
                assert info.minimum <= value <= info.maximum, (key, value)
    for key, value in values["link"].items():  # type: ignore[attr-defined]
        info = SCHEMA[key]
        if value is None:
            assert info.off is not None, key
        else:
            assert info.minimum is not None and info.maximum is not None
            assert info.minimum <= value <= info.maximum, (key, value)

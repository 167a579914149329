"""Units in ``--set`` values: times and probabilities with their unit, bare numbers in
core's unit, and the refusals (a likely unit mistake, a unit where none belongs)."""

from __future__ import annotations

import pytest

from core.errors import ImplausibleParameter, ParameterError
from core.simulate.params import SCHEMA, build_configs, parameter_lines, parse_assignment
from core.simulate.units import parse_seconds, split_unit, unit_label


@pytest.mark.parametrize(("text", "expected"), [
    ("delay=50ms", ("delay", 0.05)),
    ("delay=2s", ("delay", 2.0)),
    ("delay=2 s", ("delay", 2.0)),
    ("jitter=500us", ("jitter", 0.0005)),
    ("jitter=500µs", ("jitter", 0.0005)),
    ("client.delayed_ack=40ms", ("client.delayed_ack", 0.04)),
    ("msl=1min", ("msl", 60.0)),
    ("keepalive_idle=2h", ("keepalive_idle", 7200.0)),
    ("until=1.5e3ms", ("until", 1.5)),
    ("loss=5%", ("loss", 0.05)),
    ("reorder=0.5%", ("reorder", 0.005)),
    ("duplicate=100%", ("duplicate", 1.0)),
    ("ts_offset=5s", ("ts_offset", 5000)),    # core's unit for ts_offset is the ms
    ("server.ts_offset=7ms", ("server.ts_offset", 7)),
])
def test_values_with_units_are_converted_to_core_units(text: str,
                                                        expected: tuple[str, object]) -> None:
    key, value = parse_assignment(text)
    assert key == expected[0]
    assert value == pytest.approx(expected[1])
    assert type(value) is SCHEMA[key.split(".")[-1]].kind


@pytest.mark.parametrize(("text", "expected"), [
    ("delay=0.05", 0.05), ("delay=10", 10.0), ("loss=0.05", 0.05), ("loss=1", 1.0),
    ("delayed_ack=0.04", 0.04), ("msl=120", 120.0), ("until=3600", 3600.0),
    ("mss=536", 536), ("ts_offset=7", 7),
])
def test_a_bare_number_keeps_its_documented_unit(text: str, expected: object) -> None:
    assert parse_assignment(text)[1] == expected


def test_a_converted_value_builds_the_same_configuration() -> None:
    with_units = dict(parse_assignment(a) for a in ("delay=20ms", "loss=5%", "rto_min=200ms"))
    bare = dict(parse_assignment(a) for a in ("delay=0.02", "loss=0.05", "rto_min=0.2"))
    assert build_configs(with_units) == build_configs(bare)


@pytest.mark.parametrize(("text", "hint"), [
    ("delay=50", "write delay=50ms for milliseconds, or delay=50s"),
    ("delay_back=20", "delay_back=20ms"),
    ("client.delayed_ack=40", "client.delayed_ack=40ms"),
    ("jitter=11", "more than the 10 s jitter plausibly is"),
    ("until=100000", "until=100000s"),
])
def test_an_implausible_bare_time_is_refused_unless_forced(text: str, hint: str) -> None:
    with pytest.raises(ImplausibleParameter, match="a bare number is in seconds") as info:
        parse_assignment(text)
    assert hint in str(info.value)
    key, value = parse_assignment(text, force=True)
    assert value == float(text.split("=")[1])
    # the explicit unit says the same without forcing
    assert parse_assignment(f"{text}s") == (key, value)


def test_the_plausible_limit_is_the_schema_maximum() -> None:
    for info in SCHEMA.values():
        if info.unit == "s":
            assert info.maximum is not None
            assert parse_assignment(f"{info.key}={info.maximum!r}")[1] == info.maximum
            with pytest.raises(ImplausibleParameter):
                parse_assignment(f"{info.key}={info.maximum * 1.5!r}")


@pytest.mark.parametrize(("text", "message"), [
    ("loss=5", "write loss=5% for 5 percent"),
    ("reorder=1.5", "a probability without % is a fraction from 0 to 1"),
    ("loss=150%", "a probability is 0% to 100%"),
    ("loss=-1%", "a probability is 0% to 100%"),
    ("loss=5ms", "a probability takes % or no unit"),
    ("delay=5%", "unknown time unit '%'"),
    ("delay=5parsecs", "unknown time unit 'parsecs'"),
    ("mss=1460ms", "mss takes no unit (it is in octets)"),
    ("seed=4s", "seed takes no unit"),
    ("server.backlog=5%", "backlog takes no unit"),
    ("ts_offset=1.5ms", "whole number of ms"),
    ("nagle=1s", "expected bool"),
])
def test_wrong_units_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        parse_assignment(text, force=True)
    assert message in str(info.value)
    assert not isinstance(info.value, ImplausibleParameter)


def test_words_are_not_numbers_with_units() -> None:
    assert split_unit("off") is None and split_unit("random") is None
    assert split_unit("0.5") is None and split_unit("1e-3") is None
    assert split_unit("50ms") == (50.0, "ms") and split_unit("5 %") == (5.0, "%")
    assert parse_assignment("delay_back=off") == ("delay_back", None)
    assert parse_assignment("iss=random") == ("iss", "random")


def test_outages_take_units() -> None:
    assert parse_seconds("down", "2500ms") == 2.5 and parse_seconds("down", "3") == 3.0
    assert build_configs({"down": "1s:2500ms,4:5s"})[2].down == ((1.0, 2.5), (4.0, 5.0))
    with pytest.raises(ParameterError, match="with units"):
        build_configs({"down": "1parsec:2s"})


def test_the_parameter_listing_shows_every_unit() -> None:
    lines = parameter_lines()
    assert lines[0].split() == ["key", "unit", "meaning"]
    by_key = {line.split()[0].rstrip("*"): line for line in lines[1:] if line[0] != " "}
    assert set(by_key) == set(SCHEMA)
    assert "s, bare <= 10" in by_key["delay"] and "0..1 or %" in by_key["loss"]
    assert "octets" in by_key["mss"] and "on/off" in by_key["nagle"]
    assert by_key["ts_offset"].split()[1] == "ms"
    assert by_key["mss"].split()[0] == "mss*" and by_key["delay"].split()[0] == "delay"
    assert all(len(line) <= 98 for line in lines)
    assert unit_label("", int) == "-"


def test_exponents_are_numbers_not_units() -> None:
    assert parse_assignment("delay=1e-2") == ("delay", 0.01)
    assert parse_assignment("delay=1E-2ms") == ("delay", pytest.approx(1e-5))
    with pytest.raises(ParameterError, match="unknown time unit 'e'"):
        parse_assignment("delay=5e")


# ----- the command line -------------------------------------------------------------------
def _simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from gui.app.cli import main
    status = main(["simulate", "hello_ok", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_refuses_a_likely_unit_mistake_and_names_the_ways_out(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _simulate(capsys, "--set", "delay=50")
    assert status == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("synack: delay=50 would be 50 seconds")
    assert "delay=50ms" in err and "delay=50s" in err and "--force" in err
    status, out, err = _simulate(capsys, "--set", "loss=5")
    assert status == 1 and "write loss=5% for 5 percent" in err and "--force" not in err


def test_cli_units_and_force(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _simulate(capsys, "--set", "delay=50ms", "--set", "loss=0%")
    assert status == 0 and "arrives 0.050000" in out.splitlines()[1]
    status, out, _ = _simulate(capsys, "--set", "delay=50", "--force", "--set", "until=60")
    assert status == 0 and "arrives 50.000000" in out.splitlines()[1]
    status, forced, _ = _simulate(capsys, "--set", "delay=50s", "--set", "until=60")
    assert status == 0 and forced == out


def test_simulate_help_lists_every_parameter_with_its_unit(
        capsys: pytest.CaptureFixture[str]) -> None:
    from gui.app.cli import main
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    assert "--force" in out and "500us, 40ms, 2s, 1min, 1h" in out and "loss=5%" in out
    for line in parameter_lines():
        assert line in out

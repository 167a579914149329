"""Numbers with units in ``--set`` values: ``50ms``, ``2s``, ``500us``, ``5%``.

Rules:
1. A value with a unit is converted to core's unit for its key: seconds (or milliseconds
   for ``ts_offset``) for times, a fraction from 0 to 1 for probabilities. Time units:
   ``us`` (or ``µs``), ``ms``, ``s``, ``min``, ``h``; probabilities take ``%`` only.
   A key measured in anything else (octets, segments, counts) takes no unit.
2. A bare number is already in core's unit (seconds, a fraction). Whether it is
   plausible is the schema's business (:mod:`core.simulate.params`), not this module's.
3. Every mistake raises :class:`ParameterError` naming the key and the text.
"""

from __future__ import annotations

import math
import re

from core.errors import ParameterError

#: time unit -> seconds
TIME_UNITS: dict[str, float] = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0,
                                "h": 3600.0}
#: core units that are times -> seconds
TIME_CORE_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e-3}
PROBABILITY = "probability"
PERCENT = "%"
_WITH_UNIT = re.compile(r"""\s*(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
                            \s*(?P<unit>%|[^\W\d_]+)\s*""", re.VERBOSE)


def split_unit(text: str) -> tuple[float, str] | None:
    """``"50ms"`` -> (50.0, ``"ms"``); None for a bare number or a word (``off``)."""
    match = _WITH_UNIT.fullmatch(text)
    if match is None:
        return None
    number = float(match["number"])
    return (number, match["unit"]) if math.isfinite(number) else None


def with_unit(key: str, text: str, number: float, unit: str, *, core_unit: str,
              kind: type) -> int | float:
    """``number`` given in ``unit``, as a value of ``kind`` in ``core_unit``."""
    if core_unit in TIME_CORE_UNITS:
        if unit not in TIME_UNITS:
            raise ParameterError(f"{key}={text}: unknown time unit {unit!r}; use us, ms, s, "
                                 "min or h")
        value = number * TIME_UNITS[unit] / TIME_CORE_UNITS[core_unit]
    elif core_unit == PROBABILITY:
        if unit != PERCENT:
            raise ParameterError(f"{key}={text}: a probability takes % or no unit "
                                 "(a fraction from 0 to 1)")
        value = number / 100.0
        if not 0.0 <= value <= 1.0:
            raise ParameterError(f"{key}={text}: a probability is 0% to 100%")
    else:
        counted = f" (it is in {core_unit})" if core_unit else ""
        raise ParameterError(f"{key}={text}: {key.split('.')[-1]} takes no unit{counted}")
    if kind is int:
        if abs(value - round(value)) > 1e-9 * max(1.0, abs(value)):
            raise ParameterError(f"{key}={text}: must be a whole number of {core_unit}")
        return int(round(value))
    return value


def parse_seconds(key: str, text: str) -> float:
    """A time in seconds: a bare number (seconds) or one with a time unit; finite, >= 0
    is the caller's to check."""
    parts = split_unit(text)
    if parts is not None:
        return float(with_unit(key, text, *parts, core_unit="s", kind=float))
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{key}: expected a time (2, 2s, 500ms), got {text!r}") from None
    if not math.isfinite(value):
        raise ParameterError(f"{key}: expected a finite time, got {text!r}")
    return value


def unit_label(core_unit: str, kind: type) -> str:
    """How ``--set`` help names a key's unit: ``s``, ``0..1 or %``, ``on/off``, ..."""
    if kind is bool:
        return "on/off"
    if core_unit == PROBABILITY:
        return "0..1 or %"
    return core_unit or "-"


__all__ = ["PERCENT", "PROBABILITY", "TIME_CORE_UNITS", "TIME_UNITS", "parse_seconds",
           "split_unit", "unit_label", "with_unit"]

"""Scenario parameters: ``key=value`` strings checked against one schema.

Keys: every :class:`EndpointConfig` field (both sides, or one side with a ``client.`` or
``server.`` prefix), every :class:`LinkConfig` number, ``drop`` (``SIDE:N``, several
separated by commas), ``down`` (``START:END`` seconds, several separated by commas),
``preset`` (``linux`` or ``rfc``) and ``until`` (where the run stops, simulated seconds).
``iss=random`` draws each side's initial sequence number from ``seed`` (the same seed,
the same numbers); so does ``ts_offset=random`` for the offset each side adds to its
millisecond clock for TSval, and it is the default, as Linux draws one per connection.
An unknown key or a value of the wrong type or range raises :class:`ParameterError`;
numbers must be finite.

Units (:mod:`core.simulate.units`): a value may carry its unit, ``delay=50ms``,
``rto_min=0.2s``, ``jitter=500us``, ``loss=5%``, ``down=1s:2500ms``. A bare number is in
core's unit (seconds, a fraction from 0 to 1); a bare time above its key's ``maximum``
(``delay=50``: fifty seconds) raises :class:`ImplausibleParameter` unless forced, and a
bare probability above 1 (``loss=5``) is refused, with a hint to write ``5%``.

Layers (:func:`merge`): a later layer wins; within a layer, ``client.X`` beats ``X``; a
plain ``X`` in a later layer also beats an earlier ``client.X``.

Schema (:data:`SCHEMA`, data only, for forms and help): per base key its type, core's
unit, the range a form offers (always inside what the configurations accept; limits
across keys, such as ``rto_min <= rto_initial``, are still checked only when building),
the unit a person reads it in, what ``None`` means for an optional key, and one line of
description. :data:`COMMON` lists the keys a form shows first.
"""

from __future__ import annotations

import dataclasses
import math
import random
import textwrap
from collections.abc import Mapping
from typing import Any

from core.errors import ImplausibleParameter, ParameterError
from core.simulate.link import DropRule, LinkConfig
from core.simulate.units import PROBABILITY, parse_seconds, split_unit, unit_label, with_unit
from core.tcp.config import EndpointConfig
from core.tcp.segment import SEQ_MOD

_ENDPOINT_TYPES: dict[str, type] = {
    "msl": float, "time_wait": float, "mss": int, "recv_buffer": int, "wscale": int,
    "iss": int, "rto_initial": float, "rto_min": float, "rto_max": float,
    "user_timeout": float, "delayed_ack": float, "nagle": bool, "keepalive_idle": float,
    "keepalive_interval": float, "keepalive_probes": int, "ack_ratelimit": float,
    "auto_read": bool, "rfc1337": bool, "quickack": int, "backlog": int,
    "send_buffer": int, "read_rate": float, "read_every": float, "timestamps": bool,
    "sack": bool, "ts_offset": int,
}
_LINK_TYPES: dict[str, type] = {
    "delay": float, "delay_back": float, "jitter": float, "loss": float, "reorder": float,
    "reorder_delay": float, "duplicate": float, "seed": int,
}
#: not part of any configuration: where the run stops (simulated seconds)
_RUN_TYPES: dict[str, type] = {"until": float}
_SPECIAL = {"drop", "down", "preset"}
_OPTIONAL = {"time_wait", "wscale", "delayed_ack", "keepalive_idle", "delay_back",
             "send_buffer", "read_rate"}
RANDOM = "random"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ParamInfo:
    """One base key of the schema (``mss``, not ``client.mss``).

    ``minimum``/``maximum`` are in core's ``unit``; ``shown_in`` is the unit a form shows
    (``ms`` for seconds, ``%`` for probabilities, else ``unit``); ``off`` says what
    ``None`` means (None: the key is not optional); ``words`` are other accepted values
    (``random``); ``choices`` the only accepted ones.
    """

    key: str
    kind: type
    scope: str  # "endpoint" (both sides or client./server.), "link", "run" or "special"
    text: str
    unit: str = ""
    shown_in: str = ""
    minimum: float | None = None
    maximum: float | None = None
    off: str | None = None
    words: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()

    @property
    def factor(self) -> float:
        """Shown value = core value * factor."""
        return _FACTORS.get((self.unit, self.shown_in), 1.0)

    @property
    def per_side(self) -> bool:
        return self.scope == "endpoint"


_FACTORS = {("s", "ms"): 1000.0, ("probability", "%"): 100.0}
_BIG = (1 << 30) - 1
_E, _L = "endpoint", "link"


def _info(key: str, scope: str, text: str, unit: str = "", shown_in: str | None = None,
          lo: float | None = None, hi: float | None = None, **more: Any) -> ParamInfo:
    kind = {**_ENDPOINT_TYPES, **_LINK_TYPES, **_RUN_TYPES}.get(key, str)
    return ParamInfo(key=key, kind=kind, scope=scope, text=text, unit=unit,
                     shown_in=unit if shown_in is None else shown_in, minimum=lo, maximum=hi,
                     **more)


#: every base key, in the order a form lists them
SCHEMA: dict[str, ParamInfo] = {i.key: i for i in (
    _info("delay", _L, "One-way delay, client to server (and back unless delay_back is set)",
          "s", "ms", 0.0, 10.0),
    _info("delay_back", _L, "One-way delay, server to client", "s", "ms", 0.0, 10.0,
          off="same as delay"),
    _info("loss", _L, "Chance that the link loses a segment", "probability", "%", 0.0, 1.0),
    _info("mss", _E, "Maximum segment size announced in the SYN", "octets", None, 1, 65495),
    _info("recv_buffer", _E, "Receive buffer: the most the advertised window can be",
          "octets", None, 0, _BIG),
    _info("send_buffer", _E, "Send buffer: unacknowledged plus unsent octets; send() takes "
          "only what fits", "octets", None, 1, _BIG, off="no limit"),
    _info("msl", _E, "Maximum segment lifetime; TIME_WAIT lasts 2 MSL unless time_wait "
          "is set", "s", None, 0.001, 3600.0),
    _info("time_wait", _E, "TIME_WAIT length, fixed (Linux: 60 s)", "s", None, 0.001, 3600.0,
          off="2 MSL"),
    _info("nagle", _E, "Nagle's algorithm: hold small segments while data is unacknowledged"),
    _info("delayed_ack", _E, "Delay the ACK of in-order data up to this long (Linux: 40 ms)",
          "s", "ms", 0.001, 0.5, off="off"),
    _info("seed", _L, "Seed of the link's random choices (same seed, same run)", "", None,
          0, (1 << 31) - 1),
    _info("wscale", _E, "Window scale offered in the SYN (a shift count)", "", None, 0, 14,
          off="none"),
    _info("quickack", _E, "Data segments ACKed at once at the start despite delayed ACKs",
          "segments", None, 0, 1000),
    _info("iss", _E, "Initial sequence number (random: drawn from seed)", "", None, 0,
          (1 << 32) - 1, words=(RANDOM,)),
    _info("rto_initial", _E, "Retransmission timeout before any RTT is measured", "s", "ms",
          0.001, 600.0),
    _info("rto_min", _E, "Smallest retransmission timeout", "s", "ms", 0.001, 600.0),
    _info("rto_max", _E, "Largest retransmission timeout (backoff stops there)", "s", None,
          0.001, 3600.0),
    _info("user_timeout", _E, "Give up on unacknowledged data after this long", "s", None,
          0.001, 3600.0),
    _info("keepalive_idle", _E, "Idle time before the first keep-alive probe (Linux: 2 h)",
          "s", None, 0.001, 86400.0, off="off"),
    _info("keepalive_interval", _E, "Time between keep-alive probes", "s", None, 0.001,
          3600.0),
    _info("keepalive_probes", _E, "Unanswered keep-alive probes before giving up", "probes",
          None, 1, 1000),
    _info("ack_ratelimit", _E, "At most one re-ACK per interval for out-of-window segments",
          "s", "ms", 0.0, 60.0),
    _info("auto_read", _E, "The application reads arriving data at once (off: only its "
          "read() calls take it)"),
    _info("read_rate", _E, "The application reads at most this many octets per second",
          "octets/s", None, 1.0, 1e9, off="off"),
    _info("read_every", _E, "Time between the rate-limited reads", "s", "ms", 0.001, 60.0),
    _info("backlog", _E, "listen() backlog: connections queued for accept()", "connections",
          None, 0, 1 << 16),
    _info("rfc1337", _E, "RFC 1337: TIME_WAIT ignores RST"),
    _info("timestamps", _E, "RFC 7323 timestamps: offered in the SYN, used if both sides offer"),
    _info("sack", _E, "RFC 2018 SACK (and D-SACK): offered in the SYN, used if both sides offer"),
    _info("ts_offset", _E, "Added to the millisecond clock for TSval (random: drawn from seed)",
          "ms", None, 0, (1 << 32) - 1, words=(RANDOM,)),
    _info("jitter", _L, "Each segment's delay varies by up to this much, either way", "s",
          "ms", 0.0, 10.0),
    _info("reorder", _L, "Chance that a segment is held back (and overtaken)", "probability",
          "%", 0.0, 1.0),
    _info("reorder_delay", _L, "How long a held-back segment waits", "s", "ms", 0.0, 10.0),
    _info("duplicate", _L, "Chance that the link delivers a segment twice", "probability",
          "%", 0.0, 1.0),
    _info("drop", "special", "Drop given segments: SIDE:N (the Nth segment that side sends), "
          "comma-separated"),
    _info("down", "special", "Link outages: START:END (seconds, or with units: 1s:2500ms), "
          "comma-separated"),
    _info("preset", "special", "Default numbers: Linux's or RFC 9293's",
          choices=("linux", "rfc")),
    _info("until", "run", "Stop the run at this simulated time", "s", None, 0.001, 86400.0),
)}
#: the keys most scenarios are about: a form shows them first
COMMON = ("delay", "loss", "mss", "recv_buffer", "msl", "nagle", "delayed_ack", "seed")


def known_keys() -> list[str]:
    sides = [f"{side}.{key}" for side in ("client", "server") for key in _ENDPOINT_TYPES]
    return sorted([*_ENDPOINT_TYPES, *sides, *_LINK_TYPES, *_RUN_TYPES, *_SPECIAL])


def _convert(key: str, kind: type, text: str) -> object:
    if text.lower() in ("none", "off") and key.split(".")[-1] in _OPTIONAL:
        return None
    if text.lower() == RANDOM and key.split(".")[-1] in ("iss", "ts_offset"):
        return RANDOM
    try:
        if kind is float and not math.isfinite(float(text)):
            raise ParameterError(f"{key}: expected a finite number, got {text!r}")
        if kind is bool:
            if text.lower() in ("1", "true", "on", "yes"):
                return True
            if text.lower() in ("0", "false", "off", "no"):
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise ParameterError(f"{key}: expected {kind.__name__}, got {text!r}") from None


def parse_assignment(text: str, *, force: bool = False) -> tuple[str, object]:
    """``loss=0.05`` or ``loss=5%`` -> (``"loss"``, 0.05); ``delay=20ms`` -> (``"delay"``,
    0.02). ``force`` accepts a bare time that looks like a unit mistake (module doc)."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep:
        raise ParameterError(f"expected key=value, got {text!r}")
    base = key.split(".", 1)[1] if key.startswith(("client.", "server.")) else key
    if base in _ENDPOINT_TYPES:
        kind = _ENDPOINT_TYPES[base]
    elif key in _LINK_TYPES or key in _RUN_TYPES:
        kind = {**_LINK_TYPES, **_RUN_TYPES}[key]
    elif key in _SPECIAL:
        return key, value
    else:
        raise ParameterError(f"unknown parameter {key!r}; known: {', '.join(known_keys())}")
    info = SCHEMA[base]
    parts = split_unit(value) if kind in (int, float) else None
    if parts is not None:
        result: object = with_unit(key, value, *parts, core_unit=info.unit, kind=kind)
    else:
        result = _convert(key, kind, value)
        _check_bare(key, value, result, info, force)
    if key in _RUN_TYPES and (not isinstance(result, float) or result <= 0):
        raise ParameterError(f"until must be > 0 s, got {value!r}")
    return key, result


def _check_bare(key: str, text: str, value: object, info: ParamInfo, force: bool) -> None:
    """Refuse a bare number that is surely meant in another unit (module doc)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if info.unit == PROBABILITY and value > 1:
        raise ParameterError(f"{key}={text}: a probability without % is a fraction from 0 "
                             f"to 1; write {key}={text}% for {text} percent")
    if info.unit == "s" and info.maximum is not None and value > info.maximum and not force:
        raise ImplausibleParameter(
            f"{key}={text} would be {text} seconds (a bare number is in seconds), more than "
            f"the {info.maximum:g} s {info.key} plausibly is; write {key}={text}ms for "
            f"milliseconds, or {key}={text}s if you mean seconds")


def parameter_lines(width: int = 98) -> list[str]:
    """The schema as help text: a header, then one line per base key (``*``: per side)
    with its unit and meaning, the meaning wrapped to ``width`` columns."""
    rows = [("key", "unit", "meaning")]
    for info in SCHEMA.values():
        unit = {"drop": "SIDE:N,...", "down": "START:END,...", "preset": "linux|rfc"}.get(
            info.key, unit_label(info.unit, info.kind))
        if info.unit == "s" and info.maximum is not None:
            unit += f", bare <= {info.maximum:g}"
        rows.append((info.key + ("*" if info.per_side else ""), unit, info.text))
    key_width = max(len(r[0]) for r in rows)
    unit_width = max(len(r[1]) for r in rows)
    indent = " " * (key_width + unit_width + 4)
    lines = []
    for key, unit, meaning in rows:
        lines.extend(textwrap.wrap(meaning, width, initial_indent=
                                   f"{key:<{key_width}}  {unit:<{unit_width}}  ",
                                   subsequent_indent=indent))
    return lines


def merge(*layers: Mapping[str, object]) -> dict[str, object]:
    """Parameter layers, later ones winning (see the module docstring)."""
    out: dict[str, object] = {}
    for layer in layers:
        for key in layer:
            if key in _ENDPOINT_TYPES:  # a plain key overrides earlier per-side values
                out.pop(f"client.{key}", None)
                out.pop(f"server.{key}", None)
        out.update(layer)
    return out


def _iss(value: object, side: str, seed: int) -> object:
    if value != RANDOM:
        return value
    return random.Random(f"iss:{side}:{seed}").randrange(SEQ_MOD)


def _ts_offset(side: str, seed: int) -> int:
    return random.Random(f"ts:{side}:{seed}").randrange(SEQ_MOD)


def _outage(text: str) -> tuple[float, float]:
    start, sep, end = text.partition(":")
    try:
        outage = (parse_seconds("down", start.strip()), parse_seconds("down", end.strip()))
    except ParameterError:
        raise ParameterError(f"down: expected START:END in seconds (or with units, "
                             f"1s:2500ms), got {text!r}") from None
    if not sep or not all(math.isfinite(t) and t >= 0 for t in outage):
        raise ParameterError(f"down: expected START:END in seconds, got {text!r}")
    return outage


def build_configs(params: Mapping[str, object]) -> tuple[EndpointConfig, EndpointConfig,
                                                         LinkConfig]:
    """Endpoint configurations for both sides and the link configuration."""
    preset = str(params.get("preset", "linux"))
    if preset not in ("linux", "rfc"):
        raise ParameterError(f"preset must be linux or rfc, got {preset!r}")
    make = EndpointConfig.linux if preset == "linux" else EndpointConfig.rfc
    common = {k: v for k, v in params.items() if k in _ENDPOINT_TYPES}
    seed = params.get("seed", 1)
    configs = []
    for side in ("client", "server"):
        own = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(side + ".")}
        values = {**common, **own}
        if "iss" in values:
            values["iss"] = _iss(values["iss"], side, seed if isinstance(seed, int) else 1)
        if values.get("ts_offset", RANDOM) == RANDOM:  # by default, as Linux: random
            values["ts_offset"] = _ts_offset(side, seed if isinstance(seed, int) else 1)
        configs.append(make(**values))
    link: dict[str, Any] = {k: v for k, v in params.items() if k in _LINK_TYPES}
    drops = params.get("drop")
    if isinstance(drops, str) and drops:
        link["drops"] = tuple(DropRule.parse(part) for part in drops.split(","))
    elif isinstance(drops, tuple):
        link["drops"] = drops
    down = params.get("down")
    if isinstance(down, str) and down:
        link["down"] = tuple(_outage(part) for part in down.split(","))
    for key in ("delays",):
        if key in params:
            link[key] = params[key]
    return configs[0], configs[1], LinkConfig(**link)


def describe(params: Mapping[str, object]) -> dict[str, object]:
    """The parameters as plain values (for JSON output)."""
    client, server, link = build_configs(params)
    return {"client": dataclasses.asdict(client), "server": dataclasses.asdict(server),
            "link": {k: v for k, v in dataclasses.asdict(link).items()
                     if k not in ("drops", "delays", "down")}}

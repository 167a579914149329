"""Scenario parameters: ``key=value`` strings checked against one schema.

Keys: every :class:`EndpointConfig` field (both sides, or one side with a ``client.`` or
``server.`` prefix), every :class:`LinkConfig` number, ``drop`` (``SIDE:N``, several
separated by commas), ``down`` (``START:END`` seconds, several separated by commas),
``preset`` (``linux`` or ``rfc``) and ``until`` (where the run stops, simulated seconds).
``iss=random`` draws each side's initial sequence number from ``seed`` (the same seed,
the same numbers). An unknown key or a value of the wrong type or range raises
:class:`ParameterError`; numbers must be finite.

Layers (:func:`merge`): a later layer wins; within a layer, ``client.X`` beats ``X``; a
plain ``X`` in a later layer also beats an earlier ``client.X``.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from typing import Any

from core.config import EndpointConfig
from core.errors import ParameterError
from core.segment import SEQ_MOD
from core.simulate.link import DropRule, LinkConfig

_ENDPOINT_TYPES: dict[str, type] = {
    "msl": float, "time_wait": float, "mss": int, "recv_buffer": int, "wscale": int,
    "iss": int, "rto_initial": float, "rto_min": float, "rto_max": float,
    "user_timeout": float, "delayed_ack": float, "nagle": bool, "keepalive_idle": float,
    "keepalive_interval": float, "keepalive_probes": int, "ack_ratelimit": float,
    "auto_read": bool, "rfc1337": bool, "quickack": int, "backlog": int,
    "send_buffer": int, "read_rate": float, "read_every": float,
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


def known_keys() -> list[str]:
    sides = [f"{side}.{key}" for side in ("client", "server") for key in _ENDPOINT_TYPES]
    return sorted([*_ENDPOINT_TYPES, *sides, *_LINK_TYPES, *_RUN_TYPES, *_SPECIAL])


def _convert(key: str, kind: type, text: str) -> object:
    if text.lower() in ("none", "off") and key.split(".")[-1] in _OPTIONAL:
        return None
    if text.lower() == RANDOM and key.split(".")[-1] == "iss":
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


def parse_assignment(text: str) -> tuple[str, object]:
    """``loss=0.05`` -> (``"loss"``, 0.05)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep:
        raise ParameterError(f"expected key=value, got {text!r}")
    base = key.split(".", 1)[1] if key.startswith(("client.", "server.")) else key
    if base in _ENDPOINT_TYPES:
        return key, _convert(key, _ENDPOINT_TYPES[base], value.strip())
    if key in _LINK_TYPES:
        return key, _convert(key, _LINK_TYPES[key], value.strip())
    if key in _RUN_TYPES:
        until = _convert(key, _RUN_TYPES[key], value.strip())
        if not isinstance(until, float) or until <= 0:
            raise ParameterError(f"until must be > 0 s, got {value.strip()!r}")
        return key, until
    if key in _SPECIAL:
        return key, value.strip()
    raise ParameterError(f"unknown parameter {key!r}; known: {', '.join(known_keys())}")


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


def _outage(text: str) -> tuple[float, float]:
    start, sep, end = text.partition(":")
    try:
        outage = (float(start), float(end))
    except ValueError:
        raise ParameterError(f"down: expected START:END in seconds, got {text!r}") from None
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

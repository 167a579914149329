"""The stream list as ``synack streams`` writes it: JSON rows and aligned text.

    for row in row_dicts(table, outcomes): ...      # the --json rows, one at a time
    for text in row_json(table, outcomes): ...      # the same, as JSON text
    for line in table_lines(table, outcomes): ...   # the text, header first

Rules:
1. Both work a chunk of ``CHUNK`` streams at a time: memory stays that of the table
   whatever the number of streams (no list of a million dicts or lines).
2. ``row_dicts`` gives the ``synack streams --json`` schema (README): ``stream``,
   ``client``/``server`` ({address, port}), ``client_by``, ``packets``, ``bytes``,
   ``client_packets``, ``client_bytes``, ``server_packets``, ``server_bytes``,
   ``first``, ``last``, ``duration`` (seconds, 9 decimals), ``flags`` ({client, server}:
   {syn, syn_ack, fin, rst}) and ``reused_ports``; with ``outcomes`` (``--states``, one
   per stream in stream order) also ``final`` ({client, server}) and ``analysis``
   (nonzero tshark label counts).
3. ``table_lines`` aligns every column but the last to its widest cell (widths found up
   front from the largest numbers, the address lengths and the distinct flag sets);
   cells are made a column at a time with numpy string functions, so a million lines
   take seconds. Times are printed in microseconds, rounded half up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.streams.stream_table import (
    CLIENT_BY,
    FLAGS,
    SIDES,
    TABLE_DTYPE,
    StreamTable,
    endpoint_text,
    flags_text,
)

if TYPE_CHECKING:
    from core.replay.outcomes import Outcome

Arr = np.ndarray[Any, np.dtype[Any]]
CHUNK = 8192

#: What the index-only list shows (``synack streams`` prints it first, as a comment).
TABLE_NOTE = ("# from the index alone; flags each side sent: S SYN, SA SYN+ACK, F FIN, R RST "
              "(xN: N of them); final states and analysis labels: --states")
HEADER = ("stream", "client", "server", "packets", "bytes", "first", "last", "duration",
          "client flags", "server flags")
STATES_HEADER = ("client state", "server state", "analysis")


def _chunks(table: StreamTable) -> Iterator[tuple[int, dict[str, list[Any]]]]:
    """(first stream, column lists) per chunk of the table."""
    rows = table.rows
    fields = TABLE_DTYPE.names or ()
    for start in range(0, len(table), CHUNK):
        part = rows[start:start + CHUNK]
        cols: dict[str, list[Any]] = {name: part[name].tolist() for name in fields}
        for name in ("first", "last"):
            cols[name] = np.round((part[f"{name}_ns"] - np.int64(table.start_ns)) / 1e9,
                                  9).tolist()
        cols["duration"] = np.round(
            np.maximum(part["last_ns"] - part["first_ns"], 0) / 1e9, 9).tolist()
        yield start, cols


def row_dicts(table: StreamTable, outcomes: Sequence[Outcome] | None = None
              ) -> Iterator[dict[str, Any]]:
    """The ``--json`` rows (rule 2)."""
    names = table.addresses
    for start, c in _chunks(table):
        for k in range(len(c["stream"])):
            packets, nbytes = c["packets"][k], c["bytes"][k]
            row: dict[str, Any] = {
                "stream": c["stream"][k],
                "client": {"address": names[c["client"][k]], "port": c["client_port"][k]},
                "server": {"address": names[c["server"][k]], "port": c["server_port"][k]},
                "client_by": CLIENT_BY[c["client_by"][k]],
                "packets": packets, "bytes": nbytes,
                "client_packets": c["client_packets"][k], "client_bytes": c["client_bytes"][k],
                "server_packets": packets - c["client_packets"][k],
                "server_bytes": nbytes - c["client_bytes"][k],
                "first": c["first"][k], "last": c["last"][k], "duration": c["duration"][k],
                "flags": {side: {name: c[f"{side}_{name}"][k] for name in FLAGS}
                          for side in SIDES},
                "reused_ports": c["reused_ports"][k],
            }
            if outcomes is not None:
                row.update(outcomes[start + k].as_dict())
            yield row


_ROW_JSON = (
    '{"stream": %d, "client": {"address": %s, "port": %d}, '
    '"server": {"address": %s, "port": %d}, "client_by": "%s", "packets": %d, '
    '"bytes": %d, "client_packets": %d, "client_bytes": %d, "server_packets": %d, '
    '"server_bytes": %d, "first": %r, "last": %r, "duration": %r, '
    '"flags": {"client": {"syn": %d, "syn_ack": %d, "fin": %d, "rst": %d}, '
    '"server": {"syn": %d, "syn_ack": %d, "fin": %d, "rst": %d}}, "reused_ports": %s')


def row_json(table: StreamTable, outcomes: Sequence[Outcome] | None = None
             ) -> Iterator[str]:
    """``json.dumps`` of each of ``row_dicts``, made from a template (rule 2's rows, the
    same text, a few times faster: ``synack streams --json`` writes these)."""
    names = [json.dumps(a) for a in table.addresses]
    truth = ("false", "true")
    for start, c in _chunks(table):
        packets, nbytes = c["packets"], c["bytes"]
        cpk, cby = c["client_packets"], c["client_bytes"]
        for k in range(len(c["stream"])):
            text = _ROW_JSON % (
                c["stream"][k], names[c["client"][k]], c["client_port"][k],
                names[c["server"][k]], c["server_port"][k], CLIENT_BY[c["client_by"][k]],
                packets[k], nbytes[k], cpk[k], cby[k], packets[k] - cpk[k],
                nbytes[k] - cby[k], c["first"][k], c["last"][k], c["duration"][k],
                *(c[f"{side}_{name}"][k] for side in SIDES for name in FLAGS),
                truth[c["reused_ports"][k]])
            if outcomes is not None:
                text += ", " + json.dumps(outcomes[start + k].as_dict())[1:-1]
            yield text + "}"


def _seconds(ns: Arr) -> Arr:
    """Seconds with six decimals (microseconds, rounded half up), as text, with numpy."""
    us = (ns.astype(np.int64) + 500) // 1000
    sign = np.where(us < 0, "-", "")
    us = np.abs(us)
    return np.strings.add(np.strings.add(sign, (us // 1_000_000).astype(str)),
                          np.strings.add(".", np.strings.zfill((us % 1_000_000).astype(str),
                                                               6)))


def _flags(part: Arr, side: str) -> Arr:
    """``flags_text`` of ``side`` per row, made once per distinct set of counts."""
    counts = np.stack([np.minimum(part[f"{side}_{name}"], 0xFFFF).astype(np.int64)
                       for name in FLAGS], axis=1)
    packed = (counts[:, 0] << 48) | (counts[:, 1] << 32) | (counts[:, 2] << 16) | counts[:, 3]
    distinct, where = np.unique(packed, return_inverse=True)
    texts = [flags_text([(int(v) >> shift) & 0xFFFF for shift in (48, 32, 16, 0)])
             for v in distinct]
    return np.array(texts)[where]


def _columns(table: StreamTable, part: Arr, outcomes: Sequence[Outcome] | None,
             start: int) -> list[Arr]:
    """The text of every cell of ``part`` (rows of ``table`` from ``start``), by column."""
    hosts = np.array([endpoint_text(a, 0)[:-1] for a in table.addresses] or [""])
    base = np.int64(table.start_ns)
    cols = [part["stream"].astype(str)]
    for side in SIDES:
        cols.append(np.strings.add(hosts[part[side]], part[f"{side}_port"].astype(str)))
    cols += [part["packets"].astype(str), part["bytes"].astype(str),
             _seconds(part["first_ns"] - base), _seconds(part["last_ns"] - base),
             _seconds(np.maximum(part["last_ns"] - part["first_ns"], 0)),
             _flags(part, "client"), _flags(part, "server")]
    if outcomes is not None:
        mine = outcomes[start:start + len(part)]
        cols += [np.array([o.client.value for o in mine]),
                 np.array([o.server.value for o in mine]),
                 np.array([", ".join(f"{n}×{v}" for n, v in o.analysis.items()) or "-"
                           for o in mine])]
    return cols


def _digits(values: Arr) -> Arr:
    """How many decimal digits each non-negative integer has."""
    return np.searchsorted(_POWERS, values.astype(np.int64), side="right") + 1


_POWERS = np.array([10**k for k in range(1, 19)], np.int64)


def _widths(table: StreamTable, outcomes: Sequence[Outcome] | None) -> list[int]:
    """The widest cell of every column but the last, over the whole table (from the
    largest numbers, the address lengths and the distinct flag sets: no text per row)."""
    r = table.rows
    head = HEADER + STATES_HEADER if outcomes is not None else HEADER
    widths = [len(h) for h in head[:-1]]
    if not len(table):
        return widths
    hosts = np.array([len(endpoint_text(a, 0)) - 1 for a in table.addresses])
    base = np.int64(table.start_ns)
    spans = [r["first_ns"] - base, r["last_ns"] - base,
             np.maximum(r["last_ns"] - r["first_ns"], 0)]
    found = [int(_digits(r["stream"]).max()),
             *(int((hosts[r[side]] + _digits(r[f"{side}_port"])).max()) for side in SIDES),
             int(_digits(r["packets"]).max()), int(_digits(r["bytes"]).max()),
             *(int(np.strings.str_len(_seconds(np.array([v.min(), v.max()]))).max())
               for v in spans),
             *(int(np.strings.str_len(_flags(r, side)).max()) for side in SIDES)]
    if outcomes is not None:
        found += [max(len(o.client.value) for o in outcomes),
                  max(len(o.server.value) for o in outcomes)]
    return [max(w, f) for w, f in zip(widths, found[:len(widths)], strict=True)]


def table_lines(table: StreamTable, outcomes: Sequence[Outcome] | None = None
                ) -> Iterator[str]:
    """``synack streams`` text (rule 3): the header, then a line per stream; with
    ``outcomes`` (``--states``) the final states and label counts end each line."""
    widths = _widths(table, outcomes)
    head = HEADER + STATES_HEADER if outcomes is not None else HEADER
    yield "  ".join(h.ljust(w) for h, w in zip(head[:-1], widths, strict=True)) \
        + "  " + head[-1]
    for start in range(0, len(table), CHUNK):
        cols = _columns(table, table.rows[start:start + CHUNK], outcomes, start)
        line = cols[-1]
        for col, width in zip(cols[-2::-1], widths[::-1], strict=True):
            line = np.strings.add(np.strings.add(np.strings.ljust(col, width), "  "), line)
        yield from line.tolist()

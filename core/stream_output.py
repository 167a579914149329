"""The stream list as ``synack streams`` writes it: JSON rows and aligned text.

    for row in row_dicts(table, outcomes): ...      # the --json rows, one at a time
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
3. ``table_lines`` aligns every column but the last, with widths computed from the
   whole table up front (numpy), so lines can be written as they are made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.stream_table import (
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


def _digits(values: Arr) -> int:
    """The widest of ``values`` (non-negative integers) printed in decimal."""
    return len(str(int(values.max()))) if values.size else 1


def _seconds_width(values: Arr) -> int:
    return max((len(f"{v:.6f}") for v in (float(values.min()), float(values.max()))),
               default=1)


def _flags_width(table: StreamTable, side: str) -> int:
    """The widest ``flags_text`` of ``side`` over the table, computed with numpy."""
    r = table.rows
    width = np.zeros(len(table), np.int64)
    present = np.zeros(len(table), np.int64)
    for name, mark in (("syn", 1), ("syn_ack", 2), ("fin", 1), ("rst", 1)):
        n = r[f"{side}_{name}"].astype(np.int64)
        digits = np.floor(np.log10(np.maximum(n, 1))).astype(np.int64) + 1
        width += np.where(n > 0, mark, 0) + np.where(n > 1, 1 + digits, 0)
        present += n > 0
    width += np.maximum(present - 1, 0) + (present == 0)
    return int(width.max()) if width.size else 1


def _widths(table: StreamTable, outcomes: Sequence[Outcome] | None) -> list[int]:
    r = table.rows
    hosts = np.array([len(endpoint_text(a, 0)) - 1 for a in table.addresses] or [0])
    ports = r["client_port"], r["server_port"]
    ends = [int((hosts[r[side]] + np.floor(np.log10(np.maximum(port, 1))) + 1).max())
            for side, port in zip(SIDES, ports, strict=True)]
    widths = [_digits(r["stream"]), *ends, _digits(r["packets"]), _digits(r["bytes"]),
              _seconds_width(table.seconds("first_ns")),
              _seconds_width(table.seconds("last_ns")), _seconds_width(table.duration()),
              _flags_width(table, "client"), _flags_width(table, "server")]
    if outcomes is not None:
        widths += [max((len(o.client.value) for o in outcomes), default=0),
                   max((len(o.server.value) for o in outcomes), default=0)]
    head = HEADER + STATES_HEADER if outcomes is not None else HEADER
    return [max(w, len(h)) for w, h in zip(widths, head, strict=False)]


def table_lines(table: StreamTable, outcomes: Sequence[Outcome] | None = None
                ) -> Iterator[str]:
    """``synack streams`` text (rule 3): the header, then a line per stream; with
    ``outcomes`` (``--states``) the final states and label counts end each line."""
    widths = _widths(table, outcomes)
    head = HEADER + STATES_HEADER if outcomes is not None else HEADER
    yield _line(head, widths)
    names = table.addresses
    for start, c in _chunks(table):
        for k in range(len(c["stream"])):
            cells: tuple[str, ...] = (
                str(c["stream"][k]), endpoint_text(names[c["client"][k]], c["client_port"][k]),
                endpoint_text(names[c["server"][k]], c["server_port"][k]),
                str(c["packets"][k]), str(c["bytes"][k]), f"{c['first'][k]:.6f}",
                f"{c['last'][k]:.6f}", f"{c['duration'][k]:.6f}",
                flags_text([c[f"client_{name}"][k] for name in FLAGS]),
                flags_text([c[f"server_{name}"][k] for name in FLAGS]))
            if outcomes is not None:
                o = outcomes[start + k]
                cells += (o.client.value, o.server.value,
                          ", ".join(f"{n}×{v}" for n, v in o.analysis.items()) or "-")
            yield _line(cells, widths)


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(cell.ljust(w) for cell, w in zip(cells[:-1], widths, strict=False)) \
        + "  " + cells[-1]

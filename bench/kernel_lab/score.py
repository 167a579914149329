"""Kernel truth of a run directory (``truth.json``) and the replay's score against it.

Truth: :mod:`bench.kernel_lab.kstate` turns ``trace.txt`` into one endpoint per
connection socket, in wall-clock time (``run.json``'s clock offset); a timewait sock's
FIN_WAIT2 substate is resolved from the endpoint's own interface capture
(``client.pcap`` for 10.9.0.1, ``server.pcap`` for 10.9.0.2, ``lo.pcap`` on loopback).
A server that never made a child socket for a connection (its SYN dropped, or the accept
queue full at the third ACK) gets LISTEN, then SYN_RECEIVED if its own interface shows it
sent a SYN+ACK for that connection (a request sock: no tracepoint).

Score, per capture file (client-side, server-side, and both merged by mergecap into
``both.pcapng``; ``lo.pcap`` on loopback) and TCP stream
(``replay_stream(read_capture(f), stream)``):

- Each replayed side is matched with the kernel endpoint of the same (local, remote)
  address and port: the earliest unused one that started between 10 s before the
  stream's first packet (SYNs retried) and 0.5 s after its last (the same 4-tuple reused
  gives two streams and two sockets, taken in order).
- Both sequences run from the first state (CLOSED for an active opener, LISTEN for a
  passive one; both are Timeline.initial) to the capture's *horizon*: the stream's last
  packet in this file + the wire's largest one-way delay (+jitter) + 50 ms. Kernel
  changes later than that (a silent give-up after the last retransmission, the
  keep-alive RST the far capture never sees, TIME_WAIT's end) are out of the capture's
  sight and trimmed; replayed changes after it (a TIME_WAIT expiry the replay adds) too.
- Consecutive repeats are collapsed; the sequences must be equal (``match``).
- ``lenient``: also equal once the kernel's *transient* states are dropped: a state
  held under 1 ms whose neighbours are a legal move by themselves (Linux passes through
  FIN_WAIT_2 for microseconds when one FIN+ACK ACKs its FIN, as RFC 9293's text does; a
  replay using the table's "FIN that ACKs our FIN" row goes FIN_WAIT_1 -> TIME_WAIT).
- ``legal``: every consecutive pair of the replayed sequence is a move of some row of
  ``core.tcp.table`` (``lookup(a, trigger, opening)`` with target ``b``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from bench.kernel_lab.kstate import (
    Arrival,
    Endpoint,
    collapse,
    endpoints,
    parse_trace,
    resolve_timewait,
    shift,
)

SYN, ACK, RST, FIN = 0x02, 0x10, 0x04, 0x01
IP_CAPTURE = {"10.9.0.1": "client", "10.9.0.2": "server"}


def _capture_for(run_dir: Path, ip: str, mode: str) -> Path | None:
    name = "lo" if mode == "lo" else IP_CAPTURE.get(ip)
    if name is None:
        return None
    path = run_dir / f"{name}.pcap"
    return path if path.exists() and path.stat().st_size > 24 else None


@cache
def _index(path: str) -> Any:
    from core.capture import read_capture
    return read_capture(path)


@cache
def _packets(path: Path) -> list[dict[str, Any]]:
    """Every TCP packet of a capture: wall time, addresses, ports, flags, stream."""
    ix = _index(str(path))
    p = ix.packets
    out = []
    for i in range(len(p)):
        row = p[i]
        out.append(dict(t=int(row["time_ns"]) / 1e9, src=ix.address(int(row["src"])),
                        dst=ix.address(int(row["dst"])), sport=int(row["sport"]),
                        dport=int(row["dport"]), flags=int(row["flags"]),
                        stream=int(row["stream"]), seq=int(row["seq"]),
                        end=int(row["seq"]) + int(row["payload_len"])
                        + bool(int(row["flags"]) & (SYN | FIN))))
    return out


def _arrivals(pkts: Iterable[dict[str, Any]], ep: Endpoint) -> list[Arrival]:
    (lip, lport), (rip, rport) = ep.local, ep.remote
    return [Arrival(ts=q["t"], fin=bool(q["flags"] & FIN), rst=bool(q["flags"] & RST),
                    seq=q["seq"], end=q["end"] & 0xFFFFFFFF)
            for q in pkts if q["src"] == rip and q["sport"] == rport
            and q["dst"] == lip and q["dport"] == lport]


def build_truth(run_dir: Path) -> dict[str, Any]:
    """``truth.json`` of a run: per connection endpoint, its states with wall-clock times
    (``t``) and trace-clock (CLOCK_MONOTONIC) times (``t_trace``)."""
    info = json.loads((run_dir / "run.json").read_text())
    eps = endpoints(parse_trace((run_dir / "trace.txt").read_text()))
    for ep in eps:
        shift(ep, info["clock_offset"])
        if ep.timewait_from is not None or ep.states[-1] == "TIME_WAIT":
            cap = _capture_for(run_dir, ep.local[0], info["mode"])
            resolve_timewait(ep, _arrivals(_packets(cap), ep) if cap else [])
    truth = {"endpoints": [
        {"local": f"{ep.local[0]}:{ep.local[1]}", "remote": f"{ep.remote[0]}:{ep.remote[1]}",
         "active": ep.active, "states": ep.states,
         "changes": [{"t": round(c.ts, 6), "t_trace": round(c.ts - info["clock_offset"], 6),
                      "state": c.state, "source": c.source} for c in ep.changes]}
        for ep in eps]}
    (run_dir / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


@cache
def legal_moves() -> frozenset[tuple[str, str]]:
    from core.tcp.states import TcpState, Trigger
    from core.tcp.table import Opening, lookup
    moves = set()
    for a in TcpState:
        for trig in Trigger:
            for opening in (None, Opening.PASSIVE, Opening.ACTIVE):
                row = lookup(a, trig, opening)
                if row is not None:
                    moves.add((a.name, row.target(a).name))
    return frozenset(moves)


def illegal_steps(states: list[str]) -> list[str]:
    moves = legal_moves()
    return [f"{a}->{b}" for a, b in zip(states, states[1:], strict=False)
            if (a, b) not in moves]


TRANSIENT = 0.001


def lenient_match(replayed: list[str], changes: list[dict[str, Any]]) -> bool:
    """``replayed`` is the kernel sequence with some transient states left out: states
    held under 1 ms (not the first or last), each gap closed by a legal move."""
    seq: list[tuple[float, str]] = []
    for c in changes:
        if not seq or seq[-1][1] != c["state"]:
            seq.append((c["t"], c["state"]))
    states = [st for _, st in seq]
    transient = [0 < i < len(seq) - 1 and seq[i + 1][0] - seq[i][0] < TRANSIENT
                 for i in range(len(seq))]
    moves = legal_moves()

    @cache
    def go(i: int, j: int) -> bool:
        # kernel state i is matched with replayed state j; match the rest
        if j == len(replayed) - 1:
            return all(transient[k] for k in range(i + 1, len(states) - 1)) and (
                i == len(states) - 1)
        for k in range(i + 1, len(states)):
            if states[k] == replayed[j + 1] and (
                    k == i + 1 or (states[i], states[k]) in moves) and go(k, j + 1):
                return True
            if not transient[k]:
                return False
        return False

    return bool(states) and bool(replayed) and states[0] == replayed[0] and go(0, 0)


def near(info: dict[str, Any], capture: str, local: str) -> bool:
    """Whether ``local`` is the host the capture was taken on (loopback and a merged
    capture: both are)."""
    return capture in ("lo", "both") or IP_CAPTURE.get(local.split(":")[0]) == capture


def merge_captures(run_dir: Path) -> bool:
    """``both.pcapng``: the client-side and server-side captures merged in time order by
    mergecap (one interface each, as the corpus's *_both_sides.pcapng); made once."""
    out = run_dir / "both.pcapng"
    if out.exists():
        return True
    parts = [run_dir / "client.pcap", run_dir / "server.pcap"]
    if not all(p.exists() and p.stat().st_size > 24 for p in parts) or \
            shutil.which("mergecap") is None:
        return False
    r = subprocess.run(["mergecap", "-I", "none", "-F", "pcapng", "-w", str(out),
                        *map(str, parts)],
                       capture_output=True, text=True)
    return r.returncode == 0 and out.exists()


def time_errors(shown: list[tuple[float, str]], seen: list[dict[str, Any]]) -> list[
        tuple[str, float]]:
    """For a matched sequence: (state, replayed time - kernel time) of each change after
    the first state, in seconds. Left out: SYN_RECEIVED of a passive opener (the kernel's
    is the child's creation at the third ACK, not the SYN) and states the kernel truth
    takes from the capture (timewait sock)."""
    kernel: list[dict[str, Any]] = []
    for c in seen:
        if not kernel or kernel[-1]["state"] != c["state"]:
            kernel.append(c)
    replayed: list[tuple[float, str]] = []
    for t, st in shown:
        if not replayed or replayed[-1][1] != st:
            replayed.append((t, st))
    out = []
    for (t, st), k in zip(replayed, kernel[1:], strict=False):
        if st != k["state"] or k.get("source") != "tracepoint":
            continue
        if st == "SYN_RECEIVED" and kernel[0]["state"] == "LISTEN":
            continue
        out.append((st, round(t - k["t"], 6)))
    return out


def wire_drops(run_dir: Path) -> int:
    """Frames the wire dropped in the run (random loss, scripted drops, cable pulled)."""
    path = run_dir / "wire.json"
    if not path.exists():
        return 0
    counts = json.loads(path.read_text()).get("counts", {})
    return sum(n for d in counts.values() for kind, n in d.items() if kind.endswith("drop"))


def _max_delay(info: dict[str, Any]) -> float:
    w = info.get("wire") or {}
    return max(float(w.get(f"{d}_delay", 0)) + float(w.get(f"{d}_jitter", 0))
               for d in ("ab", "ba")) / 1000.0


def _kernel_side(truth: dict[str, Any], local: str, remote: str, first: float, last: float,
                 used: set[int]) -> tuple[int, dict[str, Any]] | None:
    for i, ep in enumerate(truth["endpoints"]):
        if i in used or ep["local"] != local or ep["remote"] != remote:
            continue
        start = ep["changes"][0]["t"]
        if first - 10.0 <= start <= last + 0.5:
            return i, ep
    return None


def score_run(run_dir: Path) -> list[dict[str, Any]]:
    """One case per (capture file, stream): both sides' sequences, match and legality."""
    from core.replay import replay_stream
    from core.tcp.states import Side

    info = json.loads((run_dir / "run.json").read_text())
    truth = build_truth(run_dir)
    slack = _max_delay(info) + 0.05
    cases: list[dict[str, Any]] = []
    for cap in [*info["captures"], *(["both"] if merge_captures(run_dir) else [])]:
        path = run_dir / (f"{cap}.pcap" if cap != "both" else "both.pcapng")
        base = {"scenario": info["scenario"], "run": str(run_dir), "capture": cap,
                "wire_drops": wire_drops(run_dir)}
        try:
            ix = _index(str(path))
            pkts = _packets(path)
        except Exception as e:   # noqa: BLE001 - a broken capture is a reported case
            cases.append({**base, "stream": None, "error": f"{type(e).__name__}: {e}"})
            continue
        server_pcap = _capture_for(run_dir, "10.9.0.2" if info["mode"] == "wire"
                                   else "127.0.0.1", info["mode"])
        server_pkts = _packets(server_pcap) if server_pcap else []
        used: set[int] = set()
        for stream in sorted({q["stream"] for q in pkts if q["stream"] >= 0}):
            case: dict[str, Any] = {**base, "stream": stream}
            times = [q["t"] for q in pkts if q["stream"] == stream]
            first, last = min(times), max(times)
            horizon = last + slack
            try:
                r = replay_stream(ix, stream)
            except Exception as e:   # noqa: BLE001 - the replay failing is a finding
                case["error"] = f"replay: {type(e).__name__}: {e}"
                cases.append(case)
                continue
            tl = r.timeline
            t0 = ix.start_ns / 1e9
            cli = f"{tl.client.address}:{tl.client.port}"
            srv = f"{tl.server.address}:{tl.server.port}"
            case["client_addr"], case["server_addr"] = cli, srv
            for side, local, remote in ((Side.CLIENT, cli, srv), (Side.SERVER, srv, cli)):
                initial = tl.initial[0] if side is Side.CLIENT else tl.initial[1]
                shown = [(e.time + t0, e.new.name) for e in tl.state_changes(side)
                         if e.time + t0 <= horizon]
                replayed = collapse([initial.name] + [st for _, st in shown])
                found = _kernel_side(truth, local, remote, first, last, used)
                seen: list[dict[str, Any]] = []
                if found is not None:
                    used.add(found[0])
                    ep = found[1]
                    seen = [c for c in ep["changes"] if c["t"] <= horizon]
                    kernel = collapse(c["state"] for c in seen)
                    lenient = lenient_match(replayed, seen)
                    trimmed = collapse(c["state"] for c in ep["changes"] if c["t"] > horizon)
                    source = "socket"
                elif side is Side.SERVER and not (
                        any(e["local"] == local and e["active"] for e in truth["endpoints"])):
                    # no child socket: LISTEN, and a request sock if it sent a SYN+ACK
                    sent_synack = any(
                        f"{q['src']}:{q['sport']}" == local
                        and f"{q['dst']}:{q['dport']}" == remote
                        and q["flags"] & (SYN | ACK) == SYN | ACK and q["t"] <= horizon
                        for q in server_pkts)
                    kernel = ["LISTEN", "SYN_RECEIVED"] if sent_synack else ["LISTEN"]
                    lenient = replayed == kernel
                    trimmed = []
                    source = "no child socket" + (" (request sock)" if sent_synack else "")
                else:
                    kernel, trimmed, source = [], [], "no kernel socket found"
                    lenient = replayed == kernel
                case[side.value] = {
                    "replay": replayed, "kernel": kernel, "match": replayed == kernel,
                    "near": near(info, cap, local),
                    "dt": time_errors(shown, seen) if replayed == kernel else [],
                    "lenient": lenient,
                    "illegal": illegal_steps(replayed), "kernel_illegal": illegal_steps(kernel),
                    "trimmed": trimmed, "kernel_source": source}
            case["match"] = case["client"]["match"] and case["server"]["match"]
            case["lenient"] = case["client"]["lenient"] and case["server"]["lenient"]
            cases.append(case)
    (run_dir / "score.json").write_text(json.dumps(cases, indent=1))
    return cases

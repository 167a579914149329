"""Summary of scored cases: a table per scenario and capture point, the distinct
mismatches with both sequences, and the JSON written next to the runs."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


def _arrow(states: list[str]) -> str:
    return " > ".join(states) if states else "(none)"


def summarize(cases: list[dict[str, Any]]) -> dict[str, Any]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    patterns: dict[tuple[str, ...], dict[str, Any]] = {}
    for c in cases:
        key = (c["scenario"], c["capture"])
        row = rows.setdefault(key, {"scenario": key[0], "capture": key[1], "runs": set(),
                                    "cases": 0, "exact": 0, "lenient": 0, "client_mismatch": 0,
                                    "server_mismatch": 0, "illegal": 0, "errors": 0})
        row["runs"].add(c["run"])
        row["cases"] += 1
        if "error" in c:
            row["errors"] += 1
            pk: tuple[str, ...] = (c["scenario"], c["capture"], "error", c["error"][:160])
            pat = patterns.setdefault(pk, {"count": 0, "runs": []})
            pat["count"] += 1
            pat["runs"].append(f"{c['run']} stream {c['stream']}")
            continue
        row["exact"] += bool(c["match"])
        row["lenient"] += bool(c.get("lenient"))
        for side in ("client", "server"):
            s = c[side]
            if not s["match"]:
                row[f"{side}_mismatch"] += 1
                pk = (c["scenario"], c["capture"], side, _arrow(s["replay"]), _arrow(s["kernel"]),
                      "lenient match" if s.get("lenient") else "")
                pat = patterns.setdefault(pk, {"count": 0, "runs": [], "with_drops": 0})
                pat["count"] += 1
                pat["with_drops"] += c.get("wire_drops", 0) > 0
                pat["runs"].append(f"{c['run']} stream {c['stream']}")
            if s["illegal"]:
                row["illegal"] += 1
                pk = (c["scenario"], c["capture"], side, "illegal", ", ".join(s["illegal"]))
                pat = patterns.setdefault(pk, {"count": 0, "runs": []})
                pat["count"] += 1
                pat["runs"].append(f"{c['run']} stream {c['stream']}")
    table = []
    for key in sorted(rows):
        row = rows[key]
        table.append({**row, "runs": len(row["runs"])})
    total = Counter[str]()
    total["distinct_runs"] = len({c["run"] for c in cases})
    for c in cases:
        for side in ("client", "server"):
            if "error" not in c and not c[side]["lenient"]:
                total["beyond_transient"] += 1
                total["beyond_transient_no_drop"] += c.get("wire_drops", 0) == 0
    for row in table:
        for k in ("runs", "cases", "exact", "lenient", "client_mismatch", "server_mismatch",
                  "illegal", "errors"):
            total[k] += row[k]
    pats = [{"scenario": k[0], "capture": k[1], "side": k[2], "what": list(k[3:]), **v}
            for k, v in sorted(patterns.items(), key=lambda kv: (kv[0][0], -kv[1]["count"]))]
    by_capture: dict[str, Counter[str]] = defaultdict(Counter)
    for row in table:
        for k in ("cases", "exact", "lenient", "client_mismatch", "server_mismatch", "illegal",
                  "errors"):
            by_capture[row["capture"]][k] += row[k]
    return {"table": table, "total": dict(total), "patterns": pats, "timing": timing(cases),
            "by_capture": {k: dict(v) for k, v in sorted(by_capture.items())}}


def timing(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """|replayed - kernel| time of each state change in exactly matched sequences, per
    capture point and near/far side (milliseconds)."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for c in cases:
        if "error" in c:
            continue
        for side in ("client", "server"):
            s = c[side]
            where = "near" if s.get("near") else "far"
            for _, dt in s.get("dt", []):
                groups[(c["capture"], where)].append(abs(dt) * 1000)
    rows = []
    for (cap, where), values in sorted(groups.items()):
        values.sort()
        n = len(values)
        rows.append({"capture": cap, "side": where, "changes": n,
                     "median_ms": round(values[n // 2], 3),
                     "p95_ms": round(values[min(n - 1, int(n * 0.95))], 3),
                     "max_ms": round(values[-1], 3),
                     "within_1ms": sum(v <= 1 for v in values)})
    return rows


def render(summary: dict[str, Any], max_runs: int = 2, root: str = "") -> str:
    """Markdown: the table, then each distinct mismatch with up to ``max_runs`` examples
    (run directories relative to ``root``)."""
    head = ("| scenario | capture | runs | cases | exact | lenient | client mismatch "
            "| server mismatch | illegal | errors |")
    lines = [head, "|" + "---|" * 10]
    for r in summary["table"]:
        lines.append(f"| {r['scenario']} | {r['capture']} | {r['runs']} | {r['cases']} | "
                     f"{r['exact']} | {r['lenient']} | {r['client_mismatch']} | "
                     f"{r['server_mismatch']} | {r['illegal']} | {r['errors']} |")
    t = summary["total"]
    lines.append(f"| **total** | | {t.get('distinct_runs', 0)} | {t.get('cases', 0)} | "
                 f"{t.get('exact', 0)} | {t.get('lenient', 0)} | {t.get('client_mismatch', 0)} | "
                 f"{t.get('server_mismatch', 0)} | {t.get('illegal', 0)} | "
                 f"{t.get('errors', 0)} |")
    lines += ["", "| capture point | cases | exact | lenient | client mismatch | server mismatch "
              "| illegal | errors |", "|" + "---|" * 8]
    for cap, v in summary.get("by_capture", {}).items():
        lines.append(f"| {cap} | {v['cases']} | {v['exact']} | {v['lenient']} | "
                     f"{v['client_mismatch']} | {v['server_mismatch']} | {v['illegal']} | "
                     f"{v['errors']} |")
    lines += ["", f"Side mismatches beyond a transient kernel state: "
              f"{t.get('beyond_transient', 0)}, of which "
              f"{t.get('beyond_transient_no_drop', 0)} in runs where the wire dropped no frame "
              "(no loss to excuse them)."]
    lines += ["", "When a side matched exactly: |replayed time - kernel time| of its state changes "
              "(near: the side on the capture's host; far: the other end):", "",
              "| capture | side | changes | median ms | p95 ms | max ms | within 1 ms |",
              "|---|---|---|---|---|---|---|"]
    for r in summary.get("timing", []):
        lines.append(f"| {r['capture']} | {r['side']} | {r['changes']} | {r['median_ms']} | "
                     f"{r['p95_ms']} | {r['max_ms']} | {r['within_1ms']} |")
    lines += ["", "Distinct mismatches (replay vs kernel), illegal replayed sequences and errors:",
              ""]
    by_scenario: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in summary["patterns"]:
        by_scenario[p["scenario"]].append(p)
    for sc, pats in sorted(by_scenario.items()):
        lines.append(f"### {sc}")
        for p in pats:
            what = p["what"]
            ex = "; ".join(r.removeprefix(root) for r in p["runs"][:max_runs])
            if what[0] == "illegal":
                lines.append(f"- {p['capture']} capture, {p['side']}: ILLEGAL step "
                             f"{what[1]} (x{p['count']}) e.g. {ex}")
            elif p["side"] == "error":
                lines.append(f"- {p['capture']} capture: ERROR {what[0]} (x{p['count']}) "
                             f"e.g. {ex}")
            else:
                tag = " [only a transient kernel state differs]" if what[2] else ""
                tag += f" [{p.get('with_drops', 0)} in runs where the wire dropped frames]"
                lines.append(f"- {p['capture']} capture, {p['side']} (x{p['count']}){tag}:\n"
                             f"  - replay: {what[0]}\n  - kernel: {what[1]}\n  - e.g. {ex}")
        lines.append("")
    return "\n".join(lines)

"""Every corpus capture against tshark's truth.json and against the scapy reference path.

Known, deliberate differences from tshark: none in the current corpus. In general we do
not reassemble IP fragments (tshark reads TCP in the reassembled datagram), do not
decode tunnels (IP-in-IP, GRE, MPLS, PPPoE) and do not number TCP headers quoted inside
ICMP errors; any of these could shift tshark's stream numbers relative to ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.capture import CaptureIndex, read_capture
from core.capture.reference import read_capture_scapy, scapy_frames
from core.capture.segments import segment_at
from tests.conftest import CORPUS

FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.pcap*")) \
    if CORPUS.is_dir() else ["(corpus absent)"]
LETTERS = [(0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"),
           (0x40, "E"), (0x80, "W"), (0x100, "e")]
#: Files that read with warnings: (offset, words) of each. tshark agrees on both: it
#: reports the cut record (exit status 2) and calls beep-oobr's frame 1 malformed.
EXPECTED_WARNINGS = {
    "kernel/broken_truncated_midrecord.pcap": [(867, "ends inside record 11")],
    "public/beep-oobr.pcap": [(24, "1 frame with broken link or IP headers;")],
}


def flag_text(value: int) -> str:
    return "[" + ("".join(c for bit, c in LETTERS if value & bit) or "none") + "]"


def truth_of(corpus: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus / name).with_suffix(".truth.json").read_text())
    return data


def relative(ix: CaptureIndex) -> tuple[list[int], list[int], list[int]]:
    """Relative seq/ack per stream and direction, with tshark's base_seq rule, and the
    base of the other direction (SACK blocks are relative to it)."""
    base: dict[tuple[int, int, int], int] = {}
    rel_seq, rel_ack, rev_base = [], [], []
    for row in ix.packets:
        stream = int(row["stream"])
        fwd = (stream, int(row["src"]), int(row["sport"]))
        rev = (stream, int(row["dst"]), int(row["dport"]))
        seq, ack, flags = int(row["seq"]), int(row["ack"]), int(row["flags"])
        if flags & 0x12 == 0x12 and fwd in base and base[fwd] != seq:
            base[fwd] = seq                       # a SYN/ACK moves its direction's base
        base.setdefault(fwd, seq if flags & 0x02 else (seq - 1) % 2**32)
        if flags & 0x10:
            base.setdefault(rev, (ack - 1) % 2**32)
        rel_seq.append((seq - base[fwd]) % 2**32)
        rel_ack.append((ack - base[rev]) % 2**32 if flags & 0x10 else -1)
        rev_base.append(base.get(rev, 0))
    return rel_seq, rel_ack, rev_base


def options_of(ix: CaptureIndex, i: int, rev_base: int) -> dict[str, Any]:
    """The options of packet i in truth.json's vocabulary."""
    o = segment_at(ix, i).options
    out: dict[str, Any] = {}
    if o.mss is not None:
        out["mss"] = o.mss
    if o.wscale is not None:
        out["wscale"] = o.wscale
    if o.timestamp is not None:
        out["tsval"], out["tsecr"] = o.timestamp
    if o.sack_permitted:
        out["sack_perm"] = True
    if o.sack_blocks:
        out["sack_blocks"] = [[(le - rev_base) % 2**32, (re - rev_base) % 2**32]
                              for le, re in o.sack_blocks]
    return out


@pytest.mark.corpus
@pytest.mark.parametrize("name", FILES)
def test_index_matches_tshark_truth(corpus: Path, name: str) -> None:
    truth = truth_of(corpus, name)
    ix = read_capture(corpus / name)
    tcp = [p for p in truth["packets"] if p.get("tcp")]
    assert ix.frames == truth["packet_count"]
    assert len(ix) == truth["tcp_packet_count"] == len(tcp)
    assert ix.non_tcp + ix.fragments + ix.malformed + ix.truncated + ix.unsupported == \
        truth["packet_count"] - truth["tcp_packet_count"]
    rel_seq, rel_ack, rev_base = relative(ix)
    for i, (row, p) in enumerate(zip(ix.packets, tcp, strict=True)):
        ns = int(row["time_ns"])
        got = {"frame": int(row["frame"]), "stream": int(row["stream"]),
               "src": ix.addresses[row["src"]], "dst": ix.addresses[row["dst"]],
               "sport": int(row["sport"]), "dport": int(row["dport"]),
               "flags": flag_text(int(row["flags"])), "seq_raw": int(row["seq"]),
               "ack_raw": int(row["ack"]), "len": int(row["payload_len"]),
               "win_raw": int(row["window"]), "time_epoch": f"{ns // 10**9}.{ns % 10**9:09d}",
               "seq": rel_seq[i], "ack": rel_ack[i] if p["ack"] is not None else None,
               "ip_version": int(row["ip_version"])}
        want = {key: p[key] for key in got}
        got["options"], want["options"] = options_of(ix, i, rev_base[i]), p.get("options", {})
        if "interface_id" in p:
            got["interface_id"], want["interface_id"] = int(row["interface"]), p["interface_id"]
        assert got == want, f"frame {p['frame']}"
    assert sorted(set(ix.packets["stream"].tolist())) == truth["tcp_streams"]
    expected = EXPECTED_WARNINGS.get(name, [])
    assert [w.offset for w in ix.warnings] == [offset for offset, _ in expected]
    for warning, (_, words) in zip(ix.warnings, expected, strict=True):
        assert words in warning.message
    if name == "kernel/broken_truncated_midrecord.pcap":
        assert truth["tshark_rc"] != 0 and "cut short" in truth["tshark_stderr"]


@pytest.mark.corpus
@pytest.mark.parametrize("name", FILES)
def test_fast_path_matches_scapy_reference(corpus: Path, name: str) -> None:
    path = str(corpus / name)
    fast = read_capture(path)
    slow = read_capture_scapy(path)
    skip = {"interface"} | ({"data_offset"} if fast.format == "pcapng" else set())
    assert len(fast) == len(slow)
    for field in fast.packets.dtype.names or ():
        if field not in skip:
            assert np.array_equal(fast.packets[field], slow.packets[field]), field
    assert fast.addresses == slow.addresses
    assert (fast.non_tcp, fast.fragments, fast.truncated, fast.malformed) == \
        (slow.non_tcp, slow.fragments, slow.truncated, slow.malformed)
    frames = scapy_frames(path)
    assert fast.frames == len(frames)
    for i, frame in enumerate(fast.packets["frame"].tolist()):
        assert fast.record_bytes(i) == frames[frame - 1][0]

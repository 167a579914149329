"""SynAck's verdict on the shared corpus: specific frames, and why each verdict holds.

The kernel captures hold none of the cases the verdict corrects (no simultaneous open, no
repeated FIN, no D-SACK, no spurious retransmission: the wire log shows every original
dropped), so on them the verdict must agree with tshark's labels everywhere; the frames
below are the ones where a careless rule would fire.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.analysis import analyze_stream
from core.analysis.verdict import Verdict, is_dsack, judge_stream, packets_of
from core.capture import read_capture
from core.replay import replay_stream

pytestmark = pytest.mark.corpus


def replayed(corpus: Path, name: str) -> tuple[Verdict, list[int]]:
    """The verdict (with the replay's fates, as the app computes it) and the frames."""
    index = read_capture(str(corpus / "kernel" / name))
    replay = replay_stream(index, 0)
    return replay.verdict, index.packets["frame"][replay.rows].tolist()


def at(verdict: Verdict, frames: list[int], frame: int) -> tuple[tuple[str, ...], ...]:
    k = frames.index(frame)
    return verdict.tshark[k], verdict.labels[k]


@pytest.mark.parametrize("side", ["client", "server"])
def test_loss5_no_retransmission_is_spurious(corpus: Path, side: str) -> None:
    # 86 data segments were dropped by the wire (its log), and each was resent: every
    # retransmission was needed, and the verdict proves none spurious. Linux's 829 SACK
    # options there report holes above the ACK number only (no D-SACK), and an
    # original's TSval is shared by other segments (1 ms clock) or never echoed.
    name = f"loss5_delay20_bulk_{side}.pcap"
    index = read_capture(str(corpus / "kernel" / name))
    analysis = analyze_stream(index, 0)
    verdict = judge_stream(index, analysis)
    assert not verdict.changes
    assert verdict.labels == analysis.labels
    assert not any("spurious_retransmission" in labels for labels in verdict.labels)
    pk = packets_of(index, analysis)
    sacks = np.flatnonzero(pk.sack_blocks > 0).tolist()
    assert len(sacks) == 829
    assert not any(is_dsack(int(pk.ack[a]), [
        (int(pk.sack_edges[a, b, 0]), int(pk.sack_edges[a, b, 1]))
        for b in range(int(pk.sack_blocks[a]))]) for a in sacks)
    replay_verdict, _ = replayed(corpus, name)    # the replay's fates change nothing
    assert not replay_verdict.changes


def test_loss5_client_first_retransmission_stays_one(corpus: Path) -> None:
    # frame 44 resends frame 15's bytes; the wire log dropped frame 15 after the client's
    # capture point, so it is a plain retransmission; frame 15's TSval is shared by ten
    # other segments, so no echo could prove it arrived
    verdict, frames = replayed(corpus, "loss5_delay20_bulk_client.pcap")
    assert at(verdict, frames, 44) == (("retransmission",), ("retransmission",))
    index = read_capture(str(corpus / "kernel" / "loss5_delay20_bulk_client.pcap"))
    seq = int(index.packets["seq"][frames.index(15)])
    log = json.loads((corpus / "kernel" / "loss5_delay20_bulk.wire.json").read_text())
    assert seq in {e["seq_abs"] for e in log["events"] if e["kind"] == "loss_drop"}


@pytest.mark.parametrize("side", ["client", "server"])
def test_simultaneous_close_final_acks_are_no_fin_reacks(corpus: Path, side: str) -> None:
    # frames 8 and 9 acknowledge FINs each sent once: the first ACK of each FIN, so
    # neither is a fin_reack (and tshark rightly says nothing of them)
    verdict, frames = replayed(corpus, f"simultaneous_close_{side}.pcap")
    assert at(verdict, frames, 8) == ((), ())
    assert at(verdict, frames, 9) == ((), ())
    assert not verdict.changes


def test_simultaneous_close_both_sides_copies_stay_unlabelled(corpus: Path) -> None:
    # each packet appears twice (both capture points): frame 6 is frame 5's SYN seen at
    # the server, frame 15 the client's FIN arriving; tshark calls such copies
    # retransmissions, core.analysis gives them no labels, and so does the verdict. The
    # FINs of frames 12 and 15 are one FIN seen twice, not a repeated FIN.
    verdict, frames = replayed(corpus, "simultaneous_close_both_sides.pcapng")
    for frame in (6, 15, 16, 17, 18):
        assert at(verdict, frames, frame) == ((), ())
    assert not verdict.changes


def test_keepalive_probes_and_handshake_ack(corpus: Path) -> None:
    # frame 3 is the handshake's last ACK: tshark gives it no window update (the SYN's
    # ACK field was empty), so nothing to correct; the probes and their ACKs stand
    verdict, frames = replayed(corpus, "keepalive.pcap")
    assert at(verdict, frames, 3) == ((), ())
    for frame in (8, 10, 12, 14):
        assert at(verdict, frames, frame) == (("keep_alive",), ("keep_alive",))
        assert at(verdict, frames, frame + 1) == (("keep_alive_ack",), ("keep_alive_ack",))
    assert not verdict.changes


def test_zero_window_labels_stand(corpus: Path) -> None:
    # window_full (frame 7 fills the 1448-byte window) and zero_window (frame 9) are
    # right: the verdict keeps them; only the diagram's marks tell them apart (W and Z)
    verdict, frames = replayed(corpus, "zero_window.pcap")
    assert at(verdict, frames, 7) == (("window_full",), ("window_full",))
    assert at(verdict, frames, 9) == (("zero_window",), ("zero_window",))
    assert not verdict.changes

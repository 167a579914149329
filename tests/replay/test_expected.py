"""Every state sequence in the corpus's ``*.expected.md`` files, reproduced by the replay.

Each file states, per endpoint, the states it went through, often with the frame that
moved it ("FIN_WAIT_1 (f8)"). The test parses those lines, replays stream 0 of the
capture and compares the state sequence and, where a frame is named, the frame of the
change. Where we say more than the file, the reason is in ``MORE_PRECISE``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.capture import read_capture
from core.replay import replay_stream
from core.tcp.states import Side, TcpState
from tests.conftest import CORPUS

NAMES = sorted(p.name.removesuffix(".expected.md")
               for p in (CORPUS / "kernel").glob("*.expected.md")) if CORPUS.is_dir() else []
STATE = "|".join(s.value for s in TcpState)
STATE_RE = re.compile(rf"\b({STATE})\b")

#: The broken file's lines refer to another file's sequence; spelled out here.
#: md: client "as close_client_first_delayed up to f10 (FIN rcvd; final ACK missing)",
#:     server "as close_client_first_delayed, stuck in LAST_ACK as far as the file shows".
DERIVED = {
    ("broken_truncated_midrecord", Side.CLIENT):
        "CLOSED → SYN_SENT (f1) → ESTABLISHED (f2) → FIN_WAIT_1 (f8) → FIN_WAIT_2 (f9) "
        "→ TIME_WAIT (f10)",
    ("broken_truncated_midrecord", Side.SERVER):
        "LISTEN → SYN_RECEIVED (f1) → ESTABLISHED (f3) → CLOSE_WAIT (f8) → LAST_ACK (f10)",
}
#: States the replay shows that the file's summary skips, with the frame and the reason.
MORE_PRECISE = {
    ("loss5_delay20_bulk_client", Side.CLIENT): (
        TcpState.FIN_WAIT_2, 2328,
        "frame 2328 ACKs the client's FIN (ack 2000002) and the server's FIN follows "
        "separately in frame 2329: the client is in FIN_WAIT_2 for 90 us in between; the "
        "file's summary writes FIN_WAIT_1 -> TIME_WAIT"),
    ("loss5_delay20_bulk_server", Side.CLIENT): (
        TcpState.FIN_WAIT_2, 2242,
        "frame 2242 ACKs the client's FIN and the server's FIN is frame 2243, as in the "
        "client-side capture of the same connection"),
}


def expected_steps(text: str) -> list[tuple[TcpState, int | None]]:
    """``"CLOSED → SYN_SENT (f1) → ..."`` as (state, frame or None); each step's state is
    the first state name of its text, the frame the first ``fN`` in its note."""
    text = re.sub(r"\[[^\]]*\]", "", text)          # "[CLOSED after 2MSL, outside capture]"
    steps: list[tuple[TcpState, int | None]] = []
    for part in text.split("→"):
        m = STATE_RE.search(part)
        if m is None:
            continue
        state = TcpState(m.group(1))
        if steps and steps[-1][0] is state:           # "→ stays TIME_WAIT for 60 s"
            continue
        frame = re.search(r"\bf(\d+)", part[m.end():])
        steps.append((state, int(frame.group(1)) if frame else None))
    return steps


def expected_lines(path: Path) -> dict[Side, str]:
    lines = {}
    for side in Side:
        m = re.search(rf"^- \*\*{side.value}\*\*: (.*)$", path.read_text(), re.M)
        assert m, f"{path.name}: no line for the {side.value}"
        lines[side] = DERIVED.get((path.name.removesuffix(".expected.md"), side), m.group(1))
    return lines


def test_the_corpus_has_expected_files(corpus: Path) -> None:
    assert len(NAMES) >= 15


@pytest.mark.parametrize("name", NAMES)
def test_state_sequence(corpus: Path, name: str) -> None:
    capture = next(p for p in (corpus / "kernel").glob(f"{name}.pcap*"))
    replay = replay_stream(read_capture(str(capture)), 0)
    tl = replay.timeline
    for side, line in expected_lines(corpus / "kernel" / f"{name}.expected.md").items():
        steps = expected_steps(line)
        initial = tl.initial[0] if side is Side.CLIENT else tl.initial[1]
        ours = [(initial, None)] + [(c.new, tl.segments[c.segment].frame)
                                    for c in tl.state_changes(side) if c.segment is not None]
        extra = MORE_PRECISE.get((name, side))
        if extra is not None:
            state, frame, _reason = extra
            assert (state, frame) in ours, f"{name} {side.value}: expected {state} at f{frame}"
            ours.remove((state, frame))
        if steps[0][0] not in (TcpState.CLOSED, TcpState.LISTEN):
            # the file starts its account at this state (the handshake is left out)
            start = next(i for i, (s, _) in enumerate(ours) if s is steps[0][0])
            ours = ours[start:]
        assert [s for s, _ in ours] == [s for s, _ in steps], (
            f"{name} {side.value}: ours {[s.value for s, _ in ours]}, "
            f"expected {[s.value for s, _ in steps]} ({line})")
        if "both_sides" in name:
            continue                                  # fN numbers the single-side files
        for (state, frame), (_, our_frame) in zip(steps, ours, strict=True):
            if frame is not None:
                assert our_frame == frame, f"{name} {side.value}: {state.value} at " \
                    f"frame {our_frame}, expected f{frame}"

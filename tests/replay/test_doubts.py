"""What the replay cannot decide is said, and what it can is not doubted.

Simulations written at each capture point (``core.capture.taps``) are replayed; the
simulator's own truth says what happened, so each doubt is checked to name the real
alternative, and captures that decide are checked to carry no doubt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture import read_capture
from core.capture.taps import TapPoint, write_capture
from core.details import ReplaySource, segment_details
from core.replay import Replay, replay_stream
from core.replay.report import trace_lines, trace_to_dict
from core.simulate.params import parse_assignment
from core.simulate.scenarios import get
from core.tcp.segment import Flag
from core.tcp.states import Side, TcpState
from core.trace import Timeline, Uncertainty

S = TcpState


def replayed(tmp_path: Path, scenario: str, tap: str, **overrides: object) -> Replay:
    sim = get(scenario).run(dict(parse_assignment(f"{k}={v}") for k, v in overrides.items()))
    path = tmp_path / ("cap.pcapng" if tap == "both" else "cap.pcap")
    write_capture(sim, str(path), TapPoint.parse(tap))
    return replay_stream(read_capture(str(path)), 0)


def states(tl: Timeline, side: Side) -> list[TcpState]:
    return [tl.initial[0] if side is Side.CLIENT else tl.initial[1]] + [
        c.new for c in tl.state_changes(side)]


def fin_doubt(tl: Timeline) -> Uncertainty:
    """The one doubt about a FIN (others, such as the ACK before the FIN, may be said)."""
    (doubt,) = [u for u in tl.uncertain if u.text.startswith("either this FIN")]
    return doubt


def test_the_fin_or_its_ack_is_said_next_to_the_server(tmp_path: Path) -> None:
    """The issue's example: the last ACK is lost, captured next to the server, without
    timestamps. The FIN's resend is all the capture shows: either the FIN or the client's
    ACK of it was lost. The replay shows one and says both."""
    r = replayed(tmp_path, "time_wait_lost_ack", "server", timestamps="off")
    tl = r.timeline
    doubt = fin_doubt(tl)
    assert doubt.text.startswith("either this FIN was lost (shown), or it arrived and the "
                                 "client's ACK of it was lost before the capture point")
    assert "no timestamps" in doubt.text
    first_fin, resent = doubt.segments
    assert tl.segments[first_fin].lost and not tl.segments[resent].lost
    assert doubt.side is Side.CLIENT
    # both readings end the same way; the states never go back
    assert states(tl, Side.CLIENT)[-1] is S.TIME_WAIT
    lines = list(trace_lines(read_capture(str(tmp_path / "cap.pcap")), r))
    assert any(line.strip().startswith("? uncertain: either this FIN") for line in lines)
    data = trace_to_dict(read_capture(str(tmp_path / "cap.pcap")), r)
    frames = [tl.segments[i].frame for i in doubt.segments]
    assert frames in [u["frames"] for u in data["uncertain"]]
    flagged = {s["frame"] for s in data["segments"] if s["uncertain"]}
    assert set(frames) <= flagged
    index = read_capture(str(tmp_path / "cap.pcap"))
    details = segment_details(tl, first_fin, capture=ReplaySource(index=index, replay=r))
    assert details.doubts == (doubt.text,)


def test_timestamps_decide_the_lost_last_ack(tmp_path: Path) -> None:
    """The issue's example with timestamps: Linux's time-wait socket answers the resent
    FIN with the TSval of the first (the simulator does the same), so the client's
    re-ACK proves the first FIN arrived: no doubt about it, and the client's ACK of it
    is drawn, lost (a ghost)."""
    tl = replayed(tmp_path, "time_wait_lost_ack", "server").timeline
    assert not [u for u in tl.uncertain if u.text.startswith("either this FIN")]
    fins = [r for r in tl.segments if r.sender is Side.SERVER and r.segment.has(Flag.FIN)]
    assert len(fins) == 2 and not any(f.lost for f in fins)
    (ghost,) = [g for g in tl.ghosts if g.sender is Side.CLIENT]
    assert ghost.lost and ghost.segment.flags == Flag.ACK
    assert ghost.segment.ack == fins[0].segment.end
    assert states(tl, Side.CLIENT)[-1] is S.TIME_WAIT


def test_the_ack_before_the_fin_is_said_away_from_its_receiver(tmp_path: Path) -> None:
    """The server ACKs the client's FIN, then sends its own FIN carrying the same
    acknowledgment. Captured next to the server, the ACK may have been lost on its way
    to the client with nothing to show for it (a pure ACK is not resent): the client
    then went from FIN_WAIT_1 straight to TIME_WAIT. Next to the client, it is decided."""
    tl = replayed(tmp_path, "close_client_first", "server").timeline
    (doubt,) = [u for u in tl.uncertain if u.text.startswith("either this ACK")]
    (k,) = doubt.segments
    ack = tl.segments[k]
    assert ack.sender is Side.SERVER and not ack.lost
    assert doubt.side is Side.CLIENT and doubt.alternative_lost == (k,)
    assert states(tl, Side.CLIENT)[-3:] == [S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT]
    alternative = dict(doubt.alternative)[Side.CLIENT]
    assert list(alternative[-2:]) == [S.FIN_WAIT_1, S.TIME_WAIT]
    near = replayed(tmp_path, "close_client_first", "client").timeline
    assert not [u for u in near.uncertain if u.text.startswith("either this ACK")]


def test_captures_at_both_ends_decide(tmp_path: Path) -> None:
    """Seen at both ends, every send and arrival is measured: nothing is in doubt, and
    the lost ACK is the one lost."""
    tl = replayed(tmp_path, "time_wait_lost_ack", "both").timeline
    assert tl.uncertain == ()
    assert states(tl, Side.CLIENT) == [S.CLOSED, S.SYN_SENT, S.ESTABLISHED, S.FIN_WAIT_1,
                                       S.FIN_WAIT_2, S.TIME_WAIT]
    assert states(tl, Side.SERVER)[-2:] == [S.LAST_ACK, S.CLOSED]


@pytest.mark.parametrize("tap", ["client", "server", "mid", "both"])
def test_simultaneous_open_is_crossing_syns(tmp_path: Path, tap: str) -> None:
    """Both SYNs arrive: SYN_SENT -> SYN_RECEIVED -> ESTABLISHED on both sides, no SYN
    drawn lost, and the SYN+ACKs are not retransmissions for SynAck."""
    r = replayed(tmp_path, "simultaneous_open", tap)
    tl = r.timeline
    for side in Side:
        assert states(tl, side) == [S.CLOSED, S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED]
    assert not any(rec.lost for rec in tl.segments)
    for rec in tl.segments:
        if rec.segment.flags.value & 0x12 == 0x12:
            assert "retransmission" not in rec.labels
    assert tl.uncertain == ()


def test_an_rst_nobody_answers_is_in_doubt(tmp_path: Path) -> None:
    """An abort captured next to the client: the RST's arrival can never be confirmed."""
    tl = replayed(tmp_path, "abort", "client").timeline
    (doubt,) = tl.uncertain
    assert doubt.side is Side.SERVER and "RST was lost" in doubt.text
    assert dict(doubt.alternative)[Side.SERVER][-1] is S.ESTABLISHED
    assert states(tl, Side.SERVER)[-1] is S.CLOSED
    # next to the server, the RST is seen arriving: no doubt
    assert replayed(tmp_path, "abort", "server").timeline.uncertain == ()


def test_a_forgotten_connection_is_closed_or_listening(tmp_path: Path) -> None:
    """Half-open: the restarted server answers with an RST without ACK. The connection
    is gone on its side (CLOSED, shown), or its service listens again: the capture
    cannot tell, and says so, at every capture point."""
    for tap in ("client", "server", "both"):
        tl = replayed(tmp_path, "half_open", tap).timeline
        forgotten = [u for u in tl.uncertain if "lost the connection" in u.text]
        assert len(forgotten) == 1, tap
        assert forgotten[0].side is Side.SERVER
        assert dict(forgotten[0].alternative)[Side.SERVER][-2:] == (S.CLOSED, S.LISTEN)
        assert states(tl, Side.SERVER)[-1] is S.CLOSED


def test_a_closed_side_resending_its_syn_never_got_the_rst(tmp_path: Path) -> None:
    """closed_port with the first RST lost: the client's SYN is resent with the same ISN,
    which a CLOSED side cannot do, so the RST before it was lost."""
    for seed in range(1, 40):
        r = replayed(tmp_path, "closed_port", "server", loss=0.3, seed=seed)
        tl = r.timeline
        resent = [rec for rec in tl.segments if rec.sender is Side.CLIENT]
        if len(resent) < 2:
            continue
        assert states(tl, Side.CLIENT) == [S.CLOSED, S.SYN_SENT, S.CLOSED]
        assert any("lost" in a for a in r.anomalies)
        return
    pytest.fail("no seed resent the SYN")


def test_an_old_duplicate_is_not_a_resend(tmp_path: Path) -> None:
    """TIME_WAIT reason 2: the link holds a copy of the server's data for seconds. Seen
    late, it is that copy (the same TSval, and an ACK number the server had passed), so
    the server's LAST_ACK -> CLOSED on the client's last ACK stands. The client then
    opens the same ports again just as its 2MSL runs out: it ignored the RST that came
    in TIME_WAIT (RFC 1337), and stays in TIME_WAIT to the end (explain rule 1c)."""
    for tap in ("client", "server", "mid"):
        r = replayed(tmp_path, "time_wait_old_duplicate", tap, delay=0.01, seed=485204404)
        tl = r.timeline
        assert not [a for a in r.anomalies if "lost" in a], tap
        assert states(tl, Side.SERVER)[-2:] == [S.LAST_ACK, S.CLOSED]
        assert states(tl, Side.CLIENT)[-1] is S.TIME_WAIT, tap
        assert [a for a in r.anomalies if "ignored (RFC 1337)" in a], tap
        assert not any("RFC 1337" in u.text for u in tl.uncertain), tap


def test_a_reordered_original_is_no_ghost(tmp_path: Path) -> None:
    """Captured next to the server, the first data segment overtaken on the way comes
    after the ones sent with it, with their TSval: it is the original, not a resend of
    a segment the tap never saw."""
    tl = replayed(tmp_path, "out_of_order", "server", delay=0.08, seed=885750239).timeline
    assert tl.ghosts == ()
    # without TSval too: it came before any ACK could have reached the sender, well
    # within the shortest RTO, so nothing could have made the sender resend it
    bare = replayed(tmp_path, "out_of_order", "server", delay=0.08, seed=885750239,
                    timestamps="off").timeline
    assert bare.ghosts == () and bare.uncertain == ()


def test_a_lost_first_syn_ack_seen_next_to_the_server(tmp_path: Path) -> None:
    """The server's tap sees the lost SYN+ACK and its resend: the client's delay is
    measured from the resend its ACK answers, and no SYN+ACK is invented."""
    r = replayed(tmp_path, "handshake", "server", delay=0.005, drop="server:1",
                 seed=886191111)
    assert r.point.delta_client == pytest.approx(0.005)
    assert r.timeline.ghosts == ()
    assert states(r.timeline, Side.CLIENT) == [S.CLOSED, S.SYN_SENT, S.ESTABLISHED]


def test_a_link_copy_seen_only_at_its_receiver_arrived(tmp_path: Path) -> None:
    """At both ends, a copy the link made after the sender's tap is seen once, at the
    receiver's end: it arrived there, it was not lost."""
    r = replayed(tmp_path, "fast_retransmit", "both", delay=0.01, duplicate=0.3,
                 seed=1044088414)
    once = [rec for rec in r.timeline.segments if rec.lost]
    sim = get("fast_retransmit").run(
        dict(parse_assignment(a) for a in ("delay=0.01", "duplicate=0.3", "seed=1044088414")))
    truly_lost = sum(1 for rec in sim.segments if rec.arrived is None)
    assert len(once) <= truly_lost


def test_a_syn_ack_from_an_ephemeral_port_may_be_a_simultaneous_open(tmp_path: Path) -> None:
    """Captured next to 10.0.0.2:5000 in a simultaneous open whose other SYN was lost on
    the way: the capture shows an ordinary open by port 5000, answered from the
    ephemeral port 34694. The replay draws a listener and says the other reading; an
    ordinary handshake to port 5000 gets no such doubt."""
    tl = replayed(tmp_path, "simultaneous_open", "server", delay=0.005,
                  drop="client:1").timeline
    (doubt,) = [u for u in tl.uncertain if "simultaneous open" in u.text]
    assert doubt.text.startswith("either the server was listening (shown)")
    assert dict(doubt.alternative)[Side.SERVER][:3] == (S.CLOSED, S.SYN_SENT,
                                                        S.SYN_RECEIVED)
    plain = replayed(tmp_path, "handshake", "client", delay=0.005).timeline
    assert not [u for u in plain.uncertain if "simultaneous open" in u.text]

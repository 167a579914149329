"""core.simulate.truth: the normalisations, the losses, and the comparison's verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture import read_capture, segment_at
from core.replay import replay_stream
from core.simulate.scenarios import get
from core.simulate.truth import Truth, captured_truth, compare, state_sequence
from core.tcp.states import Side, TcpState
from core.trace import Timeline
from tests.fidelity.harness import Case, run_case, write_capture

T = TcpState


def _truth(timeline: Timeline, tap: str, folder: Path) -> tuple[Truth, Timeline]:
    path = str(folder / f"{tap}.pcap")
    frames = write_capture(timeline, path, tap)
    index = read_capture(path)
    shown = [f for f, stream in zip(frames, index.packets["stream"].tolist(), strict=True)
             if stream == 0]
    return captured_truth(timeline, shown, tap), replay_stream(index, 0).timeline


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def test_the_adapter_writes_frame_k_as_sighting_k(folder: Path) -> None:
    timeline = get("close_client_first").run({"loss": 0.2, "seed": 3})
    for tap in ("client", "server"):
        path = str(folder / f"{tap}.pcap")
        frames = write_capture(timeline, path, tap)
        index = read_capture(path)
        assert len(index) == len(frames)
        for k, sighting in enumerate(frames):
            assert sighting.frame == k + 1 == int(index.packets["frame"][k])
            assert segment_at(index, k).seq == timeline.segments[sighting.index].segment.seq


@pytest.mark.parametrize("tap", ["client", "server"])
def test_listen_before_the_capture_is_folded(tap: str, folder: Path) -> None:
    timeline = get("handshake").run()
    assert state_sequence(timeline, Side.SERVER)[:2] == (T.CLOSED, T.LISTEN)
    truth, _ = _truth(timeline, tap, folder)
    assert truth.server == (T.LISTEN, T.SYN_RECEIVED, T.ESTABLISHED)
    assert truth.client == (T.CLOSED, T.SYN_SENT, T.ESTABLISHED)   # the SYN shows connect()
    assert any(n.startswith("N1 server: CLOSED -> LISTEN") for n in truth.notes)


@pytest.mark.parametrize("tap", ["client", "server"])
def test_after_the_capture(tap: str, folder: Path) -> None:
    """TIME_WAIT -> CLOSED at 2MSL is dropped; the far side's last change is kept."""
    timeline = get("close_client_first").run()
    truth, _ = _truth(timeline, tap, folder)
    assert truth.client[-1] is T.TIME_WAIT
    assert truth.server[-2:] == (T.LAST_ACK, T.CLOSED)
    assert any(n.startswith("N2 client: TIME_WAIT -> CLOSED") for n in truth.notes)
    assert not any(n.startswith("N2 server") for n in truth.notes)


def test_a_listener_no_packet_shows_is_removed(folder: Path) -> None:
    timeline = get("half_open").run()
    assert state_sequence(timeline, Side.SERVER)[-2:] == (T.CLOSED, T.LISTEN)
    truth, _ = _truth(timeline, "client", folder)
    assert truth.server == (T.LISTEN, T.SYN_RECEIVED, T.ESTABLISHED, T.CLOSED)
    assert any(n.startswith("N3 server: CLOSED -> LISTEN") for n in truth.notes)


def test_a_later_connection_on_the_same_ports_is_another_streams(folder: Path) -> None:
    timeline = get("time_wait_old_duplicate").run()
    assert state_sequence(timeline, Side.CLIENT)[-3:] == (T.CLOSED, T.SYN_SENT,
                                                          T.ESTABLISHED)
    truth, _ = _truth(timeline, "client", folder)
    # stream 0 is the first connection: the reconnection after 2MSL is stream 1's, and
    # the server's listen() in between leads only to stream 1's SYN
    assert truth.server[-1] is T.CLOSED and truth.client[-1] is T.TIME_WAIT
    assert any(n.startswith("N2 client: TIME_WAIT -> CLOSED") for n in truth.notes)
    assert any(n.startswith("N3 server: CLOSED -> LISTEN") for n in truth.notes)


def test_losses_on_either_side_of_the_tap(folder: Path) -> None:
    timeline = get("retransmission").run()          # "hello" is dropped once
    hello = next(r for r in timeline.segments if r.segment.length == 5 and r.lost)
    near, _ = _truth(timeline, "client", folder)
    assert near.lost_seen == {near.frame_of[hello.index]} and near.unseen_lost == 0
    far, _ = _truth(timeline, "server", folder)
    assert far.lost_seen == frozenset() and hello.index not in far.frame_of
    assert far.unseen_lost == 1 and far.unseen == (hello,)


def test_arrival_order_follows_the_true_arrivals(folder: Path) -> None:
    timeline = get("out_of_order").run()
    truth, _ = _truth(timeline, "client", folder)
    order = truth.arrivals[Side.CLIENT]
    assert list(order) != sorted(order)              # the delayed segment arrives late
    far, _ = _truth(timeline, "server", folder)      # seen where they arrive: in order
    assert list(far.arrivals[Side.CLIENT]) == sorted(far.arrivals[Side.CLIENT])


@pytest.mark.parametrize("tap", ["client", "server"])
def test_a_clean_exchange_matches(tap: str, folder: Path) -> None:
    truth, replayed = _truth(get("close_client_first").run(), tap, folder)
    result = compare(truth, replayed)
    assert result.matches and result.order_ok, result.details


def test_a_different_exchange_does_not_match(folder: Path) -> None:
    truth, _ = _truth(get("close_client_first").run(), "client", folder)
    _, other = _truth(get("close_server_first").run(), "client", folder)
    result = compare(truth, other)
    assert not result.matches and not result.states_ok
    assert ("states [client tap]: client after ESTABLISHED: truth FIN_WAIT_1, replay "
            "CLOSE_WAIT") in result.kinds
    assert any(d.startswith("client states: truth [CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1")
               for d in result.details)


def test_a_simultaneous_open_compares_endpoints_not_names(folder: Path) -> None:
    truth, replayed = _truth(get("simultaneous_open").run(), "server", folder)
    assert truth.both_opened
    assert replayed.client.label != truth.client_label    # the replay names the other one
    assert not any(k.startswith("roles") for k in compare(truth, replayed).kinds)


def test_a_mismatch_report_reproduces_the_case(tmp_path: Path) -> None:
    case = Case("time_wait_lost_ack", ("delay=0.08",), 7)
    report = run_case(case, str(tmp_path)).report()
    assert "synack simulate time_wait_lost_ack --set delay=0.08 --set seed=7" in report
    assert "tap client:" in report and "tap server:" in report


def _abort_with_losses() -> Timeline:
    """SYN+ACK lost, "hello" and its ACK lost, the client's RST lost (loss 20%)."""
    return get("abort").run({"delay": 0.005, "loss": 0.2, "seed": 829483102})


def test_a_change_after_the_sides_last_captured_segment_is_dropped(folder: Path) -> None:
    timeline = _abort_with_losses()
    assert state_sequence(timeline, Side.CLIENT)[-1] is T.CLOSED     # abort(): RST lost
    truth, _ = _truth(timeline, "server", folder)                     # ... before this tap
    assert truth.client == (T.CLOSED, T.SYN_SENT, T.ESTABLISHED)
    assert any(n.startswith("N2 client: ESTABLISHED -> CLOSED") for n in truth.notes)
    near, _ = _truth(timeline, "client", folder)                      # the RST is captured
    assert near.client[-1] is T.CLOSED


def test_an_unrevealed_lost_ack_may_be_either(folder: Path) -> None:
    truth, _ = _truth(_abort_with_losses(), "server", folder)
    # the server's ACK of "hello" (frame 8) is lost and the client resends "hello": strict;
    # its ACK of the resent "hello" (frame 11) is lost and nothing shows it: either
    assert {8, 11} <= truth.lost_seen
    assert 8 not in truth.either and 11 in truth.either
    assert "L2 frame 11: [.] lost, nothing captured later reveals it" in truth.notes


def test_identical_twins_count_not_which(folder: Path) -> None:
    truth, _ = _truth(_abort_with_losses(), "both", folder)
    # the client ACKs two copies of the SYN+ACK at once; one ACK is lost
    assert truth.twin[10] == truth.twin[11] == 10
    assert 10 in truth.lost_seen and 11 not in truth.lost_seen

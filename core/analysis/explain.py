"""One sentence on what each segment label means: the analysis labels and simulator notes.

Rules:
- ``EXPLANATIONS`` is the one table of sentences: every name of ``VERDICT_LABELS``
  (tshark's vocabulary, as :mod:`core.analysis` applies it, SynAck's documented
  differences included, and the verdict's own labels), the D-SACK, and every note the
  simulator records on a segment (:mod:`core.simulate.pair`, :mod:`core.simulate.engine`).
  tests/core/test_details.py checks that it covers them.
- ``explain(label)`` never fails: a note the table does not list by name is matched by
  its suffix (the accept-queue drops name what they dropped), and anything else gets
  :data:`UNKNOWN`, a sentence that says so.
- Each sentence is one plain sentence for a student: what the label says happened, and
  why TCP (or the capture) shows it.
"""

from __future__ import annotations

from core.simulate.pair import LINK_COPY

#: The note of a segment the simulated listener dropped: "SYN dropped: accept queue full".
ACCEPT_QUEUE_DROP = " dropped: accept queue full"
#: The name of a duplicate SACK (RFC 2883) in the table (not a label: a SACK block kind).
DSACK = "d_sack"
#: The note of a hand-made segment delivered by the simulation (``Pair.inject``).
INJECTED = "injected"

EXPLANATIONS: dict[str, str] = {
    # tshark's tcp.analysis.* labels, in LABELS order
    "retransmission":
        "This segment repeats sequence numbers the sender had already sent, usually "
        "because its retransmission timer (RTO) expired before an ACK covered them.",
    "fast_retransmission":
        "The sender resent this data as soon as duplicate ACKs (usually three) showed "
        "the receiver was missing it, without waiting for its retransmission timer "
        "(fast retransmit, RFC 5681).",
    "spurious_retransmission":
        "Sending this data again was unnecessary: the receiver already had it (it had "
        "acknowledged it, reported it arriving twice in a D-SACK, or echoed the "
        "original's timestamp), so the original or its ACK was only late, not lost.",
    "duplicate_ack":
        "This ACK repeats the previous ACK number and window without new data: the "
        "receiver is still waiting for the bytes at that number, usually because a "
        "later segment arrived first (lost or reordered data).",
    "out_of_order":
        "This segment fills a gap below data already seen in its direction: it was "
        "sent earlier but arrived after later segments (reordering on the path).",
    "lost_segment":
        "The sequence number jumps past the next expected byte: a segment before this "
        "one never reached the capture point (lost on the way, or missed by the "
        "capture).",
    "ack_lost_segment":
        "This ACK covers bytes the capture never saw: the receiver got a segment that "
        "did not pass the capture point (or the capture missed it).",
    "zero_window":
        "The sender of this segment advertises a receive window of zero: its buffer is "
        "full and the peer must stop sending data until the window opens again.",
    "zero_window_probe":
        "The peer's window is zero, so the sender probes it (one new byte, or as Linux "
        "does an empty segment just below SND.UNA) to learn when it reopens; the "
        "persist timer paces these probes.",
    "zero_window_probe_ack":
        "The reply to a zero-window probe: it repeats the ACK number and, while the "
        "buffer is still full, the zero window.",
    "window_update":
        "An ACK that only changes the advertised window (same ACK number, no data): the "
        "receiver tells the sender it has more room since its application read data.",
    "window_full":
        "This segment fills the receiver's advertised window exactly: the sender may "
        "send no more until an ACK or a window update arrives.",
    "keep_alive":
        "An empty segment (or one old byte) just below the next sequence number, sent "
        "on an idle connection to check that the peer is still there (the keep-alive "
        "timer).",
    "keep_alive_ack":
        "The peer's reply to a keep-alive: an ACK restating its ACK number, which shows "
        "the connection is still alive at that end.",
    "reused_ports":
        "A new SYN uses the same addresses and ports as an earlier connection in the "
        "capture (for instance one still in TIME_WAIT at the other end): a new "
        "connection reuses the port pair.",
    "tfo_syn":
        "A TCP Fast Open SYN: it carries a Fast Open cookie (or asks for one) and may "
        "carry data before the handshake completes (RFC 7413).",
    "tfo_ack":
        "This SYN+ACK acknowledges the data sent in a Fast Open SYN, so that data "
        "reached the server's application one round trip early.",
    # SynAck's own labels (core.analysis.verdict), where tshark's mislead
    "simultaneous_open":
        "Both sides sent a SYN at once, and each answers the other's SYN with a SYN+ACK "
        "that repeats its own SYN's sequence number (RFC 9293, figure 8): tshark may call "
        "it a retransmission, but it is the handshake's answer.",
    "fin_reack":
        "The peer sent its FIN again although it had been acknowledged (that ACK was "
        "lost or late), so this side acknowledges it again, as TIME_WAIT exists to do "
        "(RFC 9293): tshark may call it a duplicate ACK, but no bytes are missing.",
    # what a SACK option says (core.details)
    DSACK:
        "A D-SACK (RFC 2883): the first SACK block lies below the ACK number (or inside "
        "the next block), so it reports bytes that arrived twice, such as an unneeded "
        "retransmission; it is not data received beyond the ACK number.",
    # notes the simulator records on a segment
    LINK_COPY:
        "The simulated link delivered this segment twice: this arrow is the extra "
        "copy, made by the network, not something the sender's TCP chose to send.",
    INJECTED:
        "A hand-made segment delivered by the simulation (an old duplicate from an "
        "earlier connection, for instance), not sent by either endpoint's TCP.",
    "SYN" + ACCEPT_QUEUE_DROP:
        "The listener's accept queue was full, so the server silently dropped this SYN "
        "(as Linux does) and the client will send it again when its timer expires.",
    "handshake ACK" + ACCEPT_QUEUE_DROP:
        "The listener's accept queue was full, so the server dropped this last ACK of "
        "the handshake and stays in SYN_RECEIVED; it will resend its SYN+ACK.",
}

_GENERIC_ACCEPT_QUEUE_DROP = (
    "The listener's accept queue was full, so the server dropped this segment without "
    "answering; the other side will have to send it again.")

UNKNOWN = ("A label recorded with this segment by its source; SynAck has no explanation "
           "for it.")


def explain(label: str) -> str:
    """One sentence on what ``label`` means (see the module rules; never raises)."""
    sentence = EXPLANATIONS.get(label)
    if sentence is not None:
        return sentence
    if label.endswith(ACCEPT_QUEUE_DROP):
        return _GENERIC_ACCEPT_QUEUE_DROP
    return UNKNOWN

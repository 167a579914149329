"""TCP sequence analysis per segment, in tshark's vocabulary (Wireshark 4.0 rules).

Public API::

    LABELS                                   # label names, in the order packets list them
    StreamAnalysis                           # one stream's per-packet results
    analyze_stream(index, stream) -> StreamAnalysis
    analyze_capture(index) -> list[StreamAnalysis]   # every stream, in stream order
    analyze_streams(index, streams, rows, reused) -> list[StreamAnalysis]  # some, rows given

The rules are those of Wireshark 4.0's ``tcp_analyze_sequence_number`` and the code
around it in ``dissect_tcp`` (epan/dissectors/packet-tcp.c, 4.0.17), as tshark shows them
after two passes (``-2``): relative seq/ack/next seq, calculated window and scale,
retransmission / fast / spurious, duplicate ACK (number and first frame), out-of-order,
lost and ACKed-unseen segments, zero window, probes and their ACKs, window update and
full, keep-alive and its ACK, reused ports, TFO SYN/SYN-ACK, the frame an ACK acknowledges
with its RTT, bytes in flight (SACK blocks included) and the RTO of a retransmission.
``core.analysis.reference`` is the literal port; ``core.analysis.fast`` gives the same
results without walking the unacked lists (tests/analysis compares the two and both with
the corpus truth).

Where SynAck disagrees with tshark (each case is checked by tests/analysis on the corpus):

1. Linux zero-window probes. Linux probes a zero window with seq = SND.UNA - 1 and no
   data; tshark 4.0 only knows one-byte probes at the next sequence number and calls
   these ``keep_alive``. A segment of that shape sent while the peer's last window was 0
   is a ``zero_window_probe`` here, and the peer's reply that repeats its ACK and its zero
   window is a ``zero_window_probe_ack`` (tshark's own rule for the ACK of a probe, which
   it then applies; it keeps its ``zero_window`` label). A keep-alive sent into a zero
   window looks the same on the wire and is read as a probe.
2. Retransmissions that tshark calls out-of-order. tshark calls a segment below the
   highest sequence number "out-of-order" when it comes within one RTT of that highest
   segment. At the sender's capture point a resent segment always does so. Here a
   segment with any byte already captured in its direction is a ``retransmission``
   (tshark's fast-retransmission rule still comes first); out-of-order is left to
   segments that fill a hole never seen at this capture point.
3. The same packet captured at two points (pcapng with an interface per side):
   ``core.analysis.duplicates`` pairs each copy with its first sighting (same stream,
   direction, seq, ack, flags, length, window; another interface; within 1 s). The
   analysis runs on first sightings only; copies get ``duplicate_of`` and no labels,
   where tshark calls them retransmissions and duplicate ACKs.

Conventions of ``StreamAnalysis`` are in ``core.analysis.result``. A packet whose TCP
options were cut by the snap length shows no analysis, as in tshark (whose dissection
stops inside them); a packet whose segment length is unknown shows raw numbers.
"""

from core.analysis.api import analyze_capture, analyze_stream, analyze_streams
from core.analysis.labels import LABELS
from core.analysis.result import StreamAnalysis

__all__ = ["LABELS", "StreamAnalysis", "analyze_capture", "analyze_stream", "analyze_streams"]

"""Reading captures: pcap/pcapng -> a compact numpy index of every TCP packet.

Public API::

    read_capture(path, *, max_bytes=DEFAULT_MAX_BYTES) -> CaptureIndex
    list_streams(index) -> numpy array of STREAM_DTYPE (one row per tcp.stream)
    stream_label(index, row) -> "10.0.0.1:40000 <-> 10.0.0.2:80"
    segment_at(index, i) -> core.tcp.segment.Segment   (raw numbers, options, captured payload)
    tcp_options(header_bytes) -> core.tcp.segment.Options
    read_capture_scapy(path) -> CaptureIndex      # slow reference (scapy), for tests

``CaptureIndex`` fields: ``packets`` (numpy array of ``PACKET_DTYPE``, 64 bytes a row),
``addresses`` (list[str], indexed by ``packets["src"]``/``["dst"]``), ``warnings``
(``CaptureWarning(offset, message)``), ``link_types`` (per interface), ``interfaces``,
``frames``, ``non_tcp``, ``fragments``, ``truncated``, ``malformed``, ``unsupported``,
``start_ns``, ``path``, ``format``; ``record_bytes(i)`` and ``tcp_header_bytes(i)``.

Errors and warnings (decided here, checked by tests/capture):

* ``CaptureError(path, offset, problem)`` -- the file cannot be indexed at all: it cannot
  be opened, is empty or over ``max_bytes``, has no pcap/pcapng magic, a file or section
  header that is cut or invalid (version, byte-order magic), an unknown pcap link type,
  a pcap record longer than the snap length or 256 KiB, pcapng framing that does not add
  up (length not a multiple of 4 or under 12, over 16 MiB, trailing length mismatch, fixed
  fields that do not fit, a captured length over the block or 256 KiB, a packet naming an
  undescribed interface, an interface option running past its block, over 65535
  interfaces).
* Warning, and everything before it is kept -- the file ends inside a record or block
  (the offset where the cut record starts is given), or stray bytes after the last one.
* Counted on the index, summarized in one warning each, never an error -- frames that are
  not TCP (``non_tcp``), IP fragments (``fragments``: neither reassembled nor misread as
  TCP), broken link/IP headers (``malformed``), TCP frames whose 20-byte header was not
  captured (``truncated``), frames of pcapng interfaces with an unknown link type
  (``unsupported``; one warning per such interface).

Link types: Ethernet (802.1Q/QinQ tags 0x8100/0x88a8/0x9100, LLC/SNAP), Linux SLL and
SLL2, raw IP (101, 12, 14), IPv4 (228), IPv6 (229), BSD NULL (0), OpenBSD LOOP (108) and
ARCNET (Linux, 129). Stream ids follow Wireshark 4.0 (see ``core.capture.streams``).
This package is the only part of core that may import scapy, and only in ``reference``.
"""

from core.capture.index import (
    INFO_BAD_DOFF,
    INFO_NO_SEGLEN,
    INFO_OPTIONS_CUT,
    INFO_PAYLOAD_CUT,
    PACKET_DTYPE,
    CaptureIndex,
    CaptureWarning,
    Interface,
)
from core.capture.reader import read_capture
from core.capture.segments import segment_at, tcp_options
from core.capture.source import DEFAULT_MAX_BYTES
from core.capture.summary import STREAM_DTYPE, list_streams, stream_label

__all__ = [
    "DEFAULT_MAX_BYTES", "INFO_BAD_DOFF", "INFO_NO_SEGLEN", "INFO_OPTIONS_CUT",
    "INFO_PAYLOAD_CUT", "PACKET_DTYPE", "STREAM_DTYPE", "CaptureIndex", "CaptureWarning",
    "Interface", "list_streams", "read_capture", "read_capture_scapy", "segment_at",
    "stream_label", "tcp_options",
]


def read_capture_scapy(path: str) -> CaptureIndex:
    """The same index built with scapy (slow; the reference the fast path is tested on)."""
    from core.capture.reference import read_capture_scapy as _slow
    return _slow(path)

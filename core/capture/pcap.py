"""Classic pcap files: microsecond and nanosecond magic, both byte orders.

Invariants:
- The 24-byte file header must be whole and valid (magic, version 2.x, a link type we
  read); otherwise one ``CaptureError``.
- A record claiming more captured bytes than the snap length (or 256 KiB) is corrupt:
  ``CaptureError`` at that record's offset. A record cut by the end of the file is
  dropped with a warning naming its offset; every whole record before it is kept.
- ``caplen > len`` is tolerated (the wire length is then taken as ``caplen``).
"""

from __future__ import annotations

import struct

import numpy as np

from core.capture import linktypes
from core.capture.index import MAX_RECORD, CaptureWarning, Interface
from core.capture.records import Records
from core.capture.source import Source, gather_rows, u32
from core.capture.speculate import walk_pcap
from core.progress import Progress, ignore
from core.text import counted

HEADER = 24
#: magic bytes -> (big endian, nanosecond timestamps)
MAGICS: dict[bytes, tuple[bool, bool]] = {
    b"\xd4\xc3\xb2\xa1": (False, False),
    b"\xa1\xb2\xc3\xd4": (True, False),
    b"\x4d\x3c\xb2\xa1": (False, True),
    b"\xa1\xb2\x3c\x4d": (True, True),
}
_LINKTYPE_MASK = 0x03FFFFFF     # upper bits: FCS length information


def read_pcap(src: Source, progress: Progress = ignore) -> Records:
    """Walk every record of a pcap file (see module invariants); ``progress(bytes
    walked, size)`` as :func:`core.capture.speculate.walk_pcap` tells it."""
    big, nano = MAGICS[bytes(src.raw[:4])]
    if src.size < HEADER:
        raise src.error(src.size, f"the file ends inside the pcap file header "
                                  f"({src.size} of {counted(HEADER, 'byte')})")
    order = ">" if big else "<"
    major, minor, _zone, _sigfigs, snaplen, network = struct.unpack(
        order + "HHiIII", src.raw[4:HEADER])
    if major != 2:
        raise src.error(4, f"unsupported pcap version {major}.{minor}")
    link = network & _LINKTYPE_MASK
    if link not in linktypes.SUPPORTED:
        raise src.error(20, f"unknown link type {link} (0x{network:08x})")
    limit = snaplen if 0 < snaplen < MAX_RECORD else MAX_RECORD
    iface = Interface(link_type=link, snaplen=snaplen,
                      ts_resolution="1e-9" if nano else "1e-6")

    offsets, stop = walk_pcap(src.raw, src.buf, HEADER, src.size, big, nano, limit, progress)

    def check() -> None:
        progress(src.size, src.size)
    head = gather_rows(src.buf, offsets, 16, check)
    caplen = u32(head, 8, big).astype(np.int64)
    wirelen = u32(head, 12, big).astype(np.int64)

    bad = np.flatnonzero(caplen > limit)
    if bad.size:
        i = int(bad[0])
        what = f"the snap length {snaplen}" if limit == snaplen else f"{MAX_RECORD} bytes"
        raise src.error(int(offsets[i]), f"record {i + 1} claims "
                                         f"{counted(int(caplen[i]), 'captured byte')}, "
                                         f"more than {what}")
    warnings: list[CaptureWarning] = []
    n = offsets.shape[0]
    if n and int(offsets[-1]) + 16 + int(caplen[-1]) > src.size:
        last = int(offsets[-1])
        warnings.append(CaptureWarning(last, (
            f"the file ends inside record {n}: it needs {counted(16 + int(caplen[-1]), 'byte')} "
            f"from byte {last}, the file has {src.size - last}; "
            f"{counted(n - 1, 'whole record')} read")))
        n -= 1
    elif stop < src.size:
        warnings.append(CaptureWarning(stop, (
            f"the file ends inside a record header ({counted(src.size - stop, 'stray byte')} "
            f"after record {n})")))
    offsets, caplen, wirelen, head = offsets[:n], caplen[:n], wirelen[:n], head[:n]

    check()
    seconds = u32(head, 0, big).astype(np.int64)
    fraction = u32(head, 4, big).astype(np.int64)
    time_ns = seconds * 1_000_000_000 + (fraction if nano else fraction * 1000)
    return Records(format="pcap", block=offsets, data=offsets + 16, caplen=caplen,
                   wirelen=np.maximum(wirelen, caplen), time_ns=time_ns,
                   iface=np.zeros(n, np.uint16), interfaces=(iface,), big_endian=(big,),
                   warnings=warnings)

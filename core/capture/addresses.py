"""The small table of distinct addresses that packet rows point into.

Invariants:
- IPv4 addresses get ids ``0..n4-1`` in numeric order, IPv6 ``n4..`` in byte order, so
  comparing ids compares addresses the way Wireshark's ``cmp_address`` does.
- Strings are the forms tshark prints (dotted quad; RFC 5952 IPv6 via ``inet_ntop``).
"""

from __future__ import annotations

import socket
from typing import Any

import numpy as np

Arr = np.ndarray[Any, np.dtype[Any]]


def address_table(version: Arr, src4: Arr, dst4: Arr, src6: Arr,
                  dst6: Arr) -> tuple[Arr, Arr, list[str]]:
    """Address ids of every packet's source and destination, and the id -> text table."""
    n = version.shape[0]
    src = np.zeros(n, np.uint32)
    dst = np.zeros(n, np.uint32)
    names: list[str] = []
    v4 = np.flatnonzero(version == 4)
    if v4.size:
        table, inverse = np.unique(np.concatenate([src4[v4], dst4[v4]]), return_inverse=True)
        src[v4] = inverse[:v4.size]
        dst[v4] = inverse[v4.size:]
        names.extend(socket.inet_ntoa(int(a).to_bytes(4, "big")) for a in table.tolist())
    v6 = np.flatnonzero(version == 6)
    if v6.size:
        both = np.ascontiguousarray(np.concatenate([src6[v6], dst6[v6]]))
        keys = both.view("V16").ravel()
        table6, inverse = np.unique(keys, return_inverse=True)
        base = len(names)
        src[v6] = inverse[:v6.size] + base
        dst[v6] = inverse[v6.size:] + base
        names.extend(socket.inet_ntop(socket.AF_INET6, bytes(a)) for a in table6.tolist())
    return src, dst, names

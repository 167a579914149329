"""Addresses: comparable numbers per packet, and the small table rows point into.

Invariants:
- ``address_numbers`` maps every address to a uint64 that sorts like Wireshark's
  ``cmp_address``: IPv4 as its 32-bit value, IPv6 as ``2**32 +`` its rank in byte order.
- ``address_table`` turns the distinct numbers into ids ``0..k-1`` in that same order and
  the strings tshark prints (dotted quad; RFC 5952 IPv6 via ``inet_ntop``).
"""

from __future__ import annotations

import socket
from typing import Any

import numpy as np

Arr = np.ndarray[Any, np.dtype[Any]]
V6_BASE = 1 << 32


def address_numbers(version: Arr, src4: Arr, dst4: Arr, src6: Arr,
                    dst6: Arr) -> tuple[Arr, Arr, Arr]:
    """Comparable numbers for every packet's source and destination, plus the IPv6 table."""
    src = src4.astype(np.uint64)
    dst = dst4.astype(np.uint64)
    table6 = np.zeros(0, "V16")
    v6 = np.flatnonzero(version == 6)
    if v6.size:
        both = np.ascontiguousarray(np.concatenate([src6[v6], dst6[v6]]))
        table6, inverse = np.unique(both.view("V16").ravel(), return_inverse=True)
        numbers = inverse.astype(np.uint64) + np.uint64(V6_BASE)
        src[v6] = numbers[:v6.size]
        dst[v6] = numbers[v6.size:]
    return src, dst, table6


def address_names(numbers: Arr, table6: Arr) -> list[str]:
    """The text of each (sorted, distinct) address number."""
    out = []
    for value in numbers.tolist():
        if value < V6_BASE:
            out.append(socket.inet_ntoa(int(value).to_bytes(4, "big")))
        else:
            out.append(socket.inet_ntop(socket.AF_INET6, bytes(table6[value - V6_BASE])))
    return out

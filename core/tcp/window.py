"""Send and receive buffers behind SND.* and RCV.* (RFC 9293 3.3.1), window scaling.

Invariants:
- ``SendBuffer`` holds the octets from SND.UNA on: in flight first, then not yet sent.
- ``ReceiveBuffer`` holds octets delivered in order but not yet read by the
  application; RCV.WND is its free space.
- Window fields on the wire are 16 bits; with scaling (RFC 7323) the value is shifted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_WSCALE = 14
WINDOW_FIELD_MAX = 0xFFFF


def scale_window(field_value: int, shift: int) -> int:
    """The window a header field advertises, after the peer's scale shift."""
    return field_value << shift


def window_field(window: int, shift: int) -> int:
    """The 16-bit header value advertising ``window`` octets with ``shift``."""
    return min(window >> shift, WINDOW_FIELD_MAX)


@dataclass(slots=True)
class SendBuffer:
    """Octets the application handed to TCP that the peer has not acknowledged."""

    data: bytearray = field(default_factory=bytearray)

    def queue(self, payload: bytes) -> None:
        self.data.extend(payload)

    def acknowledge(self, octets: int) -> None:
        del self.data[:octets]

    def chunk(self, offset: int, size: int) -> bytes:
        return bytes(self.data[offset:offset + size])

    def __len__(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class ReceiveBuffer:
    """In-order octets waiting for the application's read()."""

    capacity: int
    data: bytearray = field(default_factory=bytearray)

    @property
    def free(self) -> int:
        return max(0, self.capacity - len(self.data))

    def push(self, payload: bytes) -> int:
        """Store as much of ``payload`` as fits; return how many octets were taken."""
        taken = payload[:self.free]
        self.data.extend(taken)
        return len(taken)

    def read(self, size: int | None = None) -> bytes:
        size = len(self.data) if size is None else size
        out = bytes(self.data[:size])
        del self.data[:size]
        return out

    def __len__(self) -> int:
        return len(self.data)

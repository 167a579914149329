"""Endpoint parameters and their presets (RFC 9293's numbers, Linux's numbers).

Invariant: a constructed :class:`EndpointConfig` is valid; a bad value raises
:class:`core.errors.ParameterError` naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ParameterError
from core.tcp.segment import SEQ_MOD
from core.tcp.window import MAX_WSCALE


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointConfig:
    """Parameters of one endpoint. Times in seconds, sizes in octets."""

    msl: float = 120.0
    time_wait: float | None = None
    mss: int = 1460
    recv_buffer: int = 65535
    wscale: int | None = None
    iss: int = 0
    rto_initial: float = 1.0
    rto_min: float = 0.2
    rto_max: float = 120.0
    user_timeout: float = 300.0
    auto_read: bool = True
    #: at most one re-ACK per interval in answer to out-of-window ACKs and SYNs, which
    #: stops ACK wars between desynchronized endpoints (Linux: tcp_invalid_ratelimit)
    ack_ratelimit: float = 0.5
    #: delay an ACK of in-order data up to this long (Linux: 40 ms); None: ACK at once
    delayed_ack: float | None = None
    #: at the start of a connection ACK this many data segments at once even with
    #: delayed ACKs (Linux's quick-ACK mode: up to 16); a FIN's ACK is still delayed
    quickack: int = 0
    #: Nagle's algorithm: hold small segments while data is unacknowledged (RFC 896)
    nagle: bool = False
    #: keep-alive: first probe after this idle time (Linux: 7200 s); None: off
    keepalive_idle: float | None = None
    keepalive_interval: float = 75.0
    keepalive_probes: int = 9
    #: RFC 1337: ignore RST in TIME_WAIT, so a stray RST cannot cut TIME_WAIT short
    #: (Linux: net.ipv4.tcp_rfc1337, off by default)
    rfc1337: bool = False
    #: listen(2)'s backlog: completed connections the application has not accepted yet
    #: (Linux's default cap, net.core.somaxconn, is 4096)
    backlog: int = 4096
    #: the send buffer: octets sent and not acknowledged plus octets not yet sent;
    #: send() takes only what fits (None: no limit)
    send_buffer: int | None = None
    #: the application reads at most this many octets per second, in reads
    #: ``read_every`` seconds apart (None: reads come from the program, or at once)
    read_rate: float | None = None
    read_every: float = 0.1
    #: RFC 7323 timestamps: offered in the SYN, on every segment when both SYNs had them
    #: (Linux: net.ipv4.tcp_timestamps, on)
    timestamps: bool = False
    #: RFC 2018 selective acknowledgements and RFC 2883 D-SACK: SACK-permitted offered in
    #: the SYN, SACK blocks in ACKs when both SYNs had it (Linux: net.ipv4.tcp_sack, on)
    sack: bool = False
    #: added to the millisecond clock for TSval (Linux draws one per connection)
    ts_offset: int = 0

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.msl > 0, f"msl must be > 0 s, got {self.msl}"),
            (self.time_wait is None or self.time_wait > 0,
             f"time_wait must be > 0 s, got {self.time_wait}"),
            (1 <= self.mss <= 65495, f"mss must be in 1..65495, got {self.mss}"),
            (0 <= self.recv_buffer < 1 << 30, f"recv_buffer out of range: {self.recv_buffer}"),
            (self.wscale is None or 0 <= self.wscale <= MAX_WSCALE,
             f"wscale must be in 0..{MAX_WSCALE}, got {self.wscale}"),
            (0 <= self.iss < SEQ_MOD, f"iss must be in [0, 2**32), got {self.iss}"),
            (0 < self.rto_min <= self.rto_initial <= self.rto_max,
             "need 0 < rto_min <= rto_initial <= rto_max"),
            (self.user_timeout > 0, f"user_timeout must be > 0 s, got {self.user_timeout}"),
            (self.delayed_ack is None or 0 < self.delayed_ack <= 0.5,
             f"delayed_ack must be in (0, 0.5] s, got {self.delayed_ack}"),
            (self.keepalive_idle is None or self.keepalive_idle > 0,
             f"keepalive_idle must be > 0 s, got {self.keepalive_idle}"),
            (self.keepalive_interval > 0 and self.keepalive_probes >= 1,
             "keepalive_interval must be > 0 s and keepalive_probes >= 1"),
            (self.ack_ratelimit >= 0, f"ack_ratelimit must be >= 0 s, got {self.ack_ratelimit}"),
            (0 <= self.backlog <= 1 << 16, f"backlog must be in 0..65536, got {self.backlog}"),
            (self.send_buffer is None or 1 <= self.send_buffer < 1 << 30,
             f"send_buffer must be in 1..2**30-1 octets, got {self.send_buffer}"),
            (self.read_rate is None or self.read_rate > 0,
             f"read_rate must be > 0 octets/s, got {self.read_rate}"),
            (self.read_every > 0, f"read_every must be > 0 s, got {self.read_every}"),
            (0 <= self.ts_offset < SEQ_MOD, f"ts_offset must be in [0, 2**32), got "
             f"{self.ts_offset}"),
            (self.read_rate is None or self.read_rate * self.read_every >= 1,
             "read_rate * read_every must be at least 1 octet per read"),
        ]
        for ok, message in checks:
            if not ok:
                raise ParameterError(message)

    @property
    def time_wait_length(self) -> float:
        """How long TIME_WAIT lasts: 2*MSL, or a fixed length (Linux: 60 s)."""
        return 2 * self.msl if self.time_wait is None else self.time_wait

    @classmethod
    def rfc(cls, **overrides: object) -> EndpointConfig:
        """RFC 9293's numbers: MSL 2 minutes, so TIME_WAIT lasts 4 minutes; neither
        timestamps nor SACK (both optional extensions, off as in RFC 9293's own TCP)."""
        return cls(**{"msl": 120.0, **overrides})  # type: ignore[arg-type]

    @classmethod
    def linux(cls, **overrides: object) -> EndpointConfig:
        """Linux's numbers: TIME_WAIT fixed at 60 s, window scale 7, RTO min 200 ms,
        delayed ACK 40 ms after 16 quick ACKs, timestamps and SACK on."""
        base: dict[str, object] = {"msl": 30.0, "time_wait": 60.0, "wscale": 7,
                                   "recv_buffer": 65483 * 2, "user_timeout": 924.6,
                                   "delayed_ack": 0.040, "quickack": 16,
                                   "timestamps": True, "sack": True}
        return cls(**{**base, **overrides})  # type: ignore[arg-type]

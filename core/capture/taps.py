"""A simulation written as the capture taps on its path would record, with its truth.

    TapPoint.client() | TapPoint.server() | TapPoint.mid(0.5) | TapPoint.both()
    TapPoint.parse("client" | "server" | "mid" | "mid:0.3" | "both")
    write_capture(timeline, path, tap=TapPoint.client(), *, snaplen=None,
                  pcapng=None) -> CaptureTruth
    capture_truth(timeline, tap, *, pcapng=None) -> CaptureTruth   # without writing

    CaptureTruth(tap, pcapng, frames: tuple[TapFrame, ...], segments: tuple[SegmentTruth,
                 ...]); .interfaces -> ("client", "server"); .seen(interface) -> [index]
    TapFrame(number, interface, index, time)          # frame `number` (1-based) of the file
    SegmentTruth(index, sender, outcome: Outcome, lost_at, copied_at,
                 frames: tuple[int | None, ...]); .arrived, .copy, .seen_by,
                 .loss(interface) -> LossPlace.BEFORE_TAP | AFTER_TAP | None

The path runs from the client (0) to the server (1); a tap sits at a fraction ``f`` of
it and is one interface of the file: client (f=0), server (f=1) and mid(f) write a pcap
file with one interface; both writes pcapng with interface 0 the client tap (f=0) and
interface 1 the server tap (f=1). ``pcapng=True`` writes pcapng for one tap too.

Rules, with ``d`` the tap's distance from a segment's sender (``f`` for the client's
segments, ``1 - f`` for the server's):
1. A segment that arrived passes the tap at ``sent + d * (arrived - sent)`` (exactly
   ``sent`` at d=0, ``arrived`` at d=1), so reordering and jitter come out as they
   happened at that point of the path.
2. A lost segment (its ``SegmentLost`` event says ``lost_at``, a fraction from its
   sender, and ``due``, when it would have arrived) passes the tap iff
   ``lost_at >= d``, at ``sent + d * (due - sent)``; else it was lost before the tap.
   Unknown ``lost_at``: halfway (0.5); unknown ``due``: twice the time to the loss.
3. A copy the link made (label ``LINK_COPY``; its ``SegmentSent`` event says
   ``copied_at``) passes the tap iff ``copied_at < d``, by rule 1 on its own times;
   unknown ``copied_at``: 0 (made just after the sender).
4. A segment still in flight when the run stopped passed only a tap at its sender
   (d=0).
5. Frames are in time order, then segment index, then interface; times are written in
   microseconds (``core.capture.writer``), which keeps that order.
6. Hence the client tap writes exactly :func:`core.capture.writer.write_pcap`'s file
   (``at=Side.CLIENT``), the server tap exactly ``write_pcap(at=Side.SERVER)``'s.

The truth (:class:`CaptureTruth`): ``frames[k - 1]`` is frame ``k`` of the file (its
interface, Timeline segment index and time); ``segments[i]`` is Timeline segment ``i``:
its outcome (arrived, lost, in flight), where it was lost or copied, and per interface
the frame number the tap recorded it as (None: not seen) and, if it was lost, whether
that was before the tap (between the sender and the tap) or after it (between the tap
and the receiver).
"""

from __future__ import annotations

import enum
import math
import os
from dataclasses import dataclass

from core.capture.writer import write_pcap, write_pcapng
from core.errors import ParameterError
from core.simulate.pair import LINK_COPY
from core.tcp.states import Side
from core.trace import SegmentLost, SegmentRecord, SegmentSent, Timeline

_NAMES = {0.0: "client", 1.0: "server"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TapPoint:
    """Where the capture is taken: one fraction of the path per interface (client 0,
    server 1), in interface order."""

    fractions: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.fractions:
            raise ParameterError("a capture needs at least one tap")
        for f in self.fractions:
            if not (isinstance(f, int | float) and math.isfinite(f) and 0.0 <= f <= 1.0):
                raise ParameterError(f"a tap sits at a fraction of the path in [0, 1], "
                                     f"got {f!r}")
        if len(set(self.fractions)) != len(self.fractions):
            raise ParameterError(f"two taps at the same place: {self.fractions}")

    @classmethod
    def client(cls) -> TapPoint:
        return cls(fractions=(0.0,))

    @classmethod
    def server(cls) -> TapPoint:
        return cls(fractions=(1.0,))

    @classmethod
    def mid(cls, fraction: float = 0.5) -> TapPoint:
        return cls(fractions=(float(fraction),))

    @classmethod
    def both(cls) -> TapPoint:
        return cls(fractions=(0.0, 1.0))

    @classmethod
    def parse(cls, text: str) -> TapPoint:
        """``client``, ``server``, ``both``, ``mid`` (halfway) or ``mid:FRACTION``."""
        word, _, number = text.strip().lower().partition(":")
        simple = {"client": cls.client, "server": cls.server, "both": cls.both}
        if word in simple and not number:
            return simple[word]()
        if word == "mid":
            try:
                fraction = float(number) if number else 0.5
            except ValueError:
                fraction = math.nan
            if not 0.0 <= fraction <= 1.0:
                raise ParameterError(f"bad tap {text!r}: mid:FRACTION takes a number in "
                                     "[0, 1], e.g. mid:0.25")
            return cls.mid(fraction)
        raise ParameterError(f"bad tap {text!r}: use client, server, mid[:FRACTION] or both")

    @property
    def name(self) -> str:
        """``client``, ``server``, ``both``, ``mid:0.5`` or the fractions joined by ``+``."""
        if self.fractions == (0.0, 1.0):
            return "both"
        return "+".join(interface_name(f) for f in self.fractions)

    def distance(self, interface: int, sender: Side) -> float:
        """How far along the path from ``sender`` the tap of ``interface`` sits."""
        f = self.fractions[interface]
        return f if sender is Side.CLIENT else 1.0 - f


def interface_name(fraction: float) -> str:
    """``client``, ``server`` or ``mid:FRACTION``: the name of a tap (and interface)."""
    return _NAMES.get(fraction) or f"mid:{fraction:g}"


class Outcome(enum.StrEnum):
    ARRIVED = "arrived"
    LOST = "lost"
    IN_FLIGHT = "in flight"  # still on its way when the run stopped


class LossPlace(enum.StrEnum):
    BEFORE_TAP = "before the tap"  # between the sender and the tap: the tap missed it
    AFTER_TAP = "after the tap"  # between the tap and the receiver: the tap saw it


@dataclass(frozen=True, slots=True, kw_only=True)
class TapFrame:
    """One frame of the file."""

    number: int  # 1-based, in file order
    interface: int  # the tap that recorded it (index into TapPoint.fractions)
    index: int  # the Timeline segment it is
    time: float  # simulated seconds, when the segment passed the tap


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentTruth:
    """What happened to one Timeline segment, and what each tap made of it."""

    index: int
    sender: Side
    outcome: Outcome
    lost_at: float | None  # lost: where, as a fraction of the path from the sender
    copied_at: float | None  # a copy the link made: where, from the sender; else None
    frames: tuple[int | None, ...]  # per interface: its frame number there, None: unseen

    @property
    def arrived(self) -> bool:
        return self.outcome is Outcome.ARRIVED

    @property
    def copy(self) -> bool:
        return self.copied_at is not None

    @property
    def seen_by(self) -> tuple[int, ...]:
        """The interfaces whose tap recorded it."""
        return tuple(i for i, frame in enumerate(self.frames) if frame is not None)

    def loss(self, interface: int) -> LossPlace | None:
        """For a lost segment, whether it was lost before or after the tap of
        ``interface``; None if it was not lost."""
        if self.outcome is not Outcome.LOST:
            return None
        return LossPlace.BEFORE_TAP if self.frames[interface] is None else LossPlace.AFTER_TAP


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureTruth:
    """A written capture and the simulator's truth about it (see the module docstring)."""

    tap: TapPoint
    pcapng: bool
    frames: tuple[TapFrame, ...]
    segments: tuple[SegmentTruth, ...]

    @property
    def interfaces(self) -> tuple[str, ...]:
        """Each interface's name (``client``, ``server``, ``mid:0.5``)."""
        return tuple(interface_name(f) for f in self.tap.fractions)

    def seen(self, interface: int) -> list[int]:
        """The Timeline indices of the frames of ``interface``, in file order (a copy
        the link made is its own index)."""
        return [fr.index for fr in self.frames if fr.interface == interface]


@dataclass(frozen=True, slots=True)
class _Path:
    """One segment's journey: its times and where it was lost or copied."""

    rec: SegmentRecord
    end: float | None  # arrival, or when a lost segment was due; None: in flight
    lost_at: float | None
    copied_at: float | None

    def passes(self, d: float) -> float | None:
        """When it passes a tap ``d`` of the way from its sender (None: never)."""
        rec = self.rec
        if self.copied_at is not None and not self.copied_at < d:
            return None
        if self.lost_at is not None and not self.lost_at >= d:
            return None
        if d == 0.0:
            return rec.sent
        if self.end is None:
            return None
        if d == 1.0:
            return self.end
        return rec.sent + d * (self.end - rec.sent)


def _paths(timeline: Timeline) -> list[_Path]:
    lost: dict[int, SegmentLost] = {}
    copied: dict[int, float] = {}
    for ev in timeline.events:
        if isinstance(ev, SegmentLost):
            lost[ev.index] = ev
        elif isinstance(ev, SegmentSent) and ev.copied_at is not None:
            copied[ev.index] = ev.copied_at
    out = []
    for rec in timeline.segments:
        copied_at = copied.get(rec.index, 0.0 if LINK_COPY in rec.labels else None)
        loss = lost.get(rec.index)
        if rec.arrived is not None or loss is None:
            out.append(_Path(rec, rec.arrived, None, copied_at))
            continue
        lost_at = 0.5 if loss.lost_at is None else loss.lost_at
        due = loss.due if loss.due is not None else rec.sent + 2 * (loss.time - rec.sent)
        out.append(_Path(rec, due, lost_at, copied_at))
    return out


def capture_truth(timeline: Timeline, tap: TapPoint, *, pcapng: bool | None = None
                  ) -> CaptureTruth:
    """What a capture at ``tap`` holds, frame by frame, and each segment's truth."""
    paths = _paths(timeline)
    sightings: list[tuple[float, int, int]] = []  # time, index, interface
    for path in paths:
        for interface in range(len(tap.fractions)):
            time = path.passes(tap.distance(interface, path.rec.sender))
            if time is not None:
                sightings.append((time, path.rec.index, interface))
    sightings.sort()
    frames = tuple(TapFrame(number=n, interface=interface, index=index, time=time)
                   for n, (time, index, interface) in enumerate(sightings, 1))
    numbers: dict[tuple[int, int], int] = {(fr.index, fr.interface): fr.number
                                           for fr in frames}
    segments = []
    for path in paths:
        rec = path.rec
        outcome = (Outcome.ARRIVED if rec.arrived is not None else
                   Outcome.IN_FLIGHT if path.end is None else Outcome.LOST)
        segments.append(SegmentTruth(
            index=rec.index, sender=rec.sender, outcome=outcome, lost_at=path.lost_at,
            copied_at=path.copied_at,
            frames=tuple(numbers.get((rec.index, i)) for i in range(len(tap.fractions)))))
    return CaptureTruth(tap=tap, pcapng=len(tap.fractions) > 1 if pcapng is None else pcapng,
                        frames=frames, segments=tuple(segments))


def write_capture(timeline: Timeline, path: str | os.PathLike[str],
                  tap: TapPoint | None = None, *, snaplen: int | None = None,
                  pcapng: bool | None = None) -> CaptureTruth:
    """Write the capture ``tap`` (the client's by default) records to ``path``: pcap for
    one tap, pcapng for several (or with ``pcapng=True``); returns its truth."""
    tap = TapPoint.client() if tap is None else tap
    truth = capture_truth(timeline, tap, pcapng=pcapng)
    if not truth.pcapng and len(tap.fractions) > 1:
        raise ParameterError(f"a pcap file has one interface; tap {tap.name} needs pcapng")
    records = timeline.segments
    if truth.pcapng:
        write_pcapng(timeline, path, [(fr.time, fr.interface, records[fr.index])
                                      for fr in truth.frames],
                     interfaces=truth.interfaces, snaplen=snaplen)
    else:
        write_pcap(timeline, path, snaplen=snaplen,
                   view=[(fr.time, records[fr.index]) for fr in truth.frames])
    return truth


__all__ = ["CaptureTruth", "LossPlace", "Outcome", "SegmentTruth", "TapFrame", "TapPoint",
           "capture_truth", "interface_name", "write_capture"]

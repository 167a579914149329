"""The ``synack`` command: the desktop app and its headless sub-commands.

Rules:
1. ``--help``, ``--version``, ``streams``, ``trace``, ``states``, ``scenarios`` and ``simulate``
   never import Qt;
   the app and ``export`` import it only after choosing a platform, so a machine without
   a display never meets a Qt abort.
2. Errors the project raises on purpose (:class:`SynAckError`) end in one line
   ``synack: <message>`` and exit status 1; bad arguments exit 2 (argparse).
3. A sub-command is one ``_add_<name>`` function that registers its parser and handler.
4. Output never fails on a file name: names that are not valid in the locale's encoding
   (bytes that are not UTF-8 reach Python as surrogate escapes) print with ``\\xNN``
   for each such byte (``DISPLAY_ERRORS``), on stdout and stderr alike.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from core import __version__
from core.errors import SynAckError
from core.text import counted

if TYPE_CHECKING:
    from core.capture.index import CaptureIndex
    from core.replay import Replay
    from core.trace import Timeline
from gui.app.display import display_problem

Handler = Callable[[argparse.Namespace], int]
#: The codec error handler of stdout and stderr (rule 4).
DISPLAY_ERRORS = "synack-display"
DEMO_PNG = "synack-demo.png"
DEMO_SCENARIO = "close_client_first"   # core.demo runs it


def _load_capture(path: str) -> CaptureIndex:
    """Read a capture; warnings (a cut file, skipped frames) go to stderr, one line each."""
    from core.capture import read_capture
    index = read_capture(path)
    for warning in index.warnings:
        print(f"synack: warning: {path}: {warning}", file=sys.stderr)
    return index


def _open_stream(path: str, stream: int) -> tuple[CaptureIndex, Replay]:
    from core.replay import replay_stream
    index = _load_capture(path)
    if stream < 0:
        raise SynAckError(f"{path}: stream numbers start at 0, not {stream}")
    return index, replay_stream(index, stream)


def _display_escape(exc: UnicodeError) -> tuple[str, int]:
    """``\\xNN`` for a surrogate-escaped byte, ``\\uNNNN`` for other unprintables."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for char in exc.object[exc.start:exc.end]:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), exc.end


codecs.register_error(DISPLAY_ERRORS, _display_escape)


def _safe_output() -> None:
    """stdout and stderr print any file name (rule 4)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            try:
                stream.reconfigure(errors=DISPLAY_ERRORS)
            except (ValueError, OSError):     # detached or closed: nothing to print to
                pass


def _check_source(args: argparse.Namespace) -> None:
    """A capture or a scenario, not both; ``--set`` only with a scenario; a file name
    given must not be empty (``""`` would otherwise fall back to the demo)."""
    if getattr(args, "file", None) == "":
        raise SynAckError("the file name is empty: give a capture file, or none for the demo")
    if getattr(args, "file", None) and getattr(args, "scenario", None):
        raise SynAckError("give a capture file or --scenario, not both")
    if getattr(args, "set", None) and not getattr(args, "scenario", None):
        raise SynAckError("--set needs --scenario")


def _source_timeline(args: argparse.Namespace) -> Timeline:
    """The Timeline a command works on: a scenario, a capture, or the demo."""
    _check_source(args)
    if getattr(args, "file", None):
        return _open_stream(args.file, args.stream)[1].timeline
    if getattr(args, "scenario", None):
        from core.simulate.scenarios import get
        overrides = dict(_assignment(item, getattr(args, "force", False))
                         for item in args.set or [])
        return get(args.scenario).run(overrides)
    from core.demo import demo_timeline
    return demo_timeline()


def _assignment(item: str, force: bool) -> tuple[str, object]:
    """One ``--set`` value; a bare number that looks like a unit mistake names --force."""
    from core.errors import ImplausibleParameter
    from core.simulate.params import parse_assignment
    try:
        return parse_assignment(item, force=force)
    except ImplausibleParameter as exc:
        raise ImplausibleParameter(f"{exc} (or add --force)") from None


SET_HELP = ("a scenario parameter, with its unit: delay=50ms, loss=5%%, server.mss=536 "
            "(repeatable); a bare number is in seconds or a fraction 0..1 (synack simulate "
            "--help lists every parameter and its unit)")
FORCE_HELP = ("accept a bare number that looks like a unit mistake (delay=50 is 50 seconds, "
              "more than a one-way delay plausibly is; delay=50s says so without --force)")


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="a pcap/pcapng capture (default: the demo)")
    parser.add_argument("--stream", type=int, default=0, metavar="N",
                        help="which TCP stream of the capture (tshark's tcp.stream; default 0)")
    parser.add_argument("--scenario", metavar="NAME", help="run a simulated scenario instead")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)


def _render_png(timeline: Timeline, path: str, *, scale: float = 1.0,
                compact: bool = False, absolute: bool = False) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.export.export import export_png
    for name, width, height in export_png(timeline, path, scale=scale, compact=compact,
                                          absolute=absolute):
        print(f"wrote {Path(name).resolve()} ({width}x{height})")
    return 0


# ----- gui (the default) ---------------------------------------------------------------
def _run_gui(args: argparse.Namespace) -> int:
    problem = display_problem()
    if problem is not None:
        print(f"synack: {problem}; rendering the diagram to PNG instead", flush=True)
        return _render_png(_source_timeline(args), args.png)
    from gui.app.app import run_app
    _check_source(args)
    if args.file:
        if not os.path.exists(args.file):
            raise SynAckError(f"{args.file}: no such file")
        # the window opens at once and reads the capture in the background
        return run_app(None, path=args.file, stream=args.stream)
    # the simulation panel shows the scenario at its defaults, so not one run with --set
    picked = DEMO_SCENARIO if not args.scenario else None if args.set else args.scenario
    return run_app(_source_timeline(args), scenario=picked)


def _add_gui(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("gui", help="open the desktop app (the default command)")
    _add_source_options(parser)
    parser.add_argument("--png", default=DEMO_PNG, metavar="PATH",
                        help=f"where to render when there is no display (default {DEMO_PNG})")
    parser.set_defaults(handler=_run_gui)


# ----- export ----------------------------------------------------------------------------
def _run_export(args: argparse.Namespace) -> int:
    if not 25 <= args.scale <= 400:
        raise SynAckError(f"--scale {args.scale:g} is outside 25..400 (percent)")
    return _render_png(_source_timeline(args), args.output, scale=args.scale / 100,
                       compact=args.compact, absolute=args.absolute)


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("export", help="render the whole diagram to a PNG, no display needed")
    _add_source_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png",
                        help="the image to write, PNG (.png) or JPEG (.jpg, .jpeg); a "
                             "diagram taller than 30,000 px continues in OUT-2.png, "
                             "OUT-3.png, ...")
    parser.add_argument("--scale", type=float, default=100.0, metavar="PERCENT",
                        help="size of everything, 25 to 400 (default 100)")
    parser.add_argument("--compact", action="store_true",
                        help="evenly spaced rows, one per segment (as a flow graph)")
    parser.add_argument("--absolute", action="store_true",
                        help="raw sequence numbers instead of relative ones")
    parser.set_defaults(handler=_run_export)


# ----- streams and trace -----------------------------------------------------------------
def _run_streams(args: argparse.Namespace) -> int:
    from core.streams.stream_output import TABLE_NOTE, row_json, table_lines
    from core.streams.stream_table import stream_table
    index = _load_capture(args.file)
    table = stream_table(index)
    outcomes = None
    if args.states:
        from core.replay.report import stream_outcomes
        outcomes = stream_outcomes(index)
    out = sys.stdout
    if args.json:
        # one stream a line, written as made: the C encoder (json's indent is pure
        # Python), constant memory, and greppable
        out.write(json.dumps({"file": args.file, "states": args.states})[:-1]
                  + ', "streams": [\n')
        rows, separator = row_json(table, outcomes), ""
        while chunk := list(islice(rows, 4096)):
            out.write(separator + ",\n".join(chunk))
            separator = ",\n"
        out.write("\n]}\n")
        return 0
    if not table:
        print(f"{args.file}: no TCP streams ({counted(index.frames, 'frame')}, "
              f"{index.non_tcp} not TCP)")
        return 0
    if not args.states:
        print(TABLE_NOTE)
    lines = table_lines(table, outcomes)
    while chunk := list(islice(lines, 4096)):
        out.write("\n".join(chunk) + "\n")
    return 0


STREAMS_DESCRIPTION = (
    "The TCP streams of a capture, one line each: tcp.stream number (as tshark's), "
    "client and server (the client sent the SYN; without one, received the SYN+ACK; "
    "without either, has the port that is not well-known, or sent the first packet), "
    "packets, TCP payload bytes, times of the first and last packet (seconds since the "
    "first frame), duration, and the flags each side sent (S SYN, SA SYN+ACK, F FIN, "
    "R RST). All of it comes from the capture index at once. --states also replays "
    "every stream for each side's final state and tshark's analysis label counts "
    "(slower: a replay per stream). --json: one object per stream (one a line), with "
    "packets and bytes per side, client_by (syn, syn_ack, port or first: how the client "
    "was told), flags per side and reused_ports; --states adds final and analysis.")


def _add_streams(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("streams", help="list the TCP streams of a capture",
                            description=STREAMS_DESCRIPTION)
    parser.add_argument("file", help="a pcap/pcapng capture")
    parser.add_argument("--states", action="store_true",
                        help="also replay every stream: final states and analysis labels")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_run_streams)


def _run_trace(args: argparse.Namespace) -> int:
    """The stream's lines (or JSON) written as they are made; the cyclic garbage
    collector is off meanwhile: the command makes millions of small objects, keeps them
    to the end and makes no cycles, so each collection would only scan them again."""
    from core.gcpause import paused
    from core.replay.trace_stream import write_trace, write_trace_json
    with paused():
        index, replay = _open_stream(args.file, args.stream)
        (write_trace_json if args.json else write_trace)(sys.stdout, index, replay)
    return 0


def _add_trace(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from core.replay.report import ROW_STATES
    parser = sub.add_parser(
        "trace", help="print one stream's segments with labels and states",
        description="One stream of a capture, a tcpdump-style line per packet with its "
        "analysis labels and both sides' states. " + ROW_STATES + ". A line ending in ? "
        "is in doubt: the capture cannot decide, and the line after it says "
        "'either ... or ...'. --json adds 'events' (each side's state changes in time "
        "order: time, side, from, to, the frame that caused it, null for a timer) and "
        "'uncertain'.")
    parser.add_argument("file", help="a pcap/pcapng capture")
    parser.add_argument("--stream", type=int, default=0, metavar="N",
                        help="tshark's tcp.stream number (default 0)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_run_trace)


# ----- states ----------------------------------------------------------------------------
def _run_states(args: argparse.Namespace) -> int:
    from core.tcp.table import table_text, to_dot
    print(to_dot(every_edge=args.all) if args.dot else table_text())
    return 0


def _add_states(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("states", help="print the TCP state transition table")
    parser.add_argument("--dot", action="store_true", help="as Graphviz source (dot -Tsvg)")
    parser.add_argument("--all", action="store_true",
                        help="with --dot: also draw abort/RST/user-timeout edges to CLOSED")
    parser.set_defaults(handler=_run_states)


# ----- scenarios and simulate ------------------------------------------------------------
def _run_scenarios(args: argparse.Namespace) -> int:
    from core.simulate.scenarios import SCENARIOS
    if args.json:
        print(json.dumps([{"name": s.name, "summary": s.summary, "explanation": s.explanation}
                          for s in SCENARIOS], indent=1, ensure_ascii=False))
    else:
        width = max(len(s.name) for s in SCENARIOS)
        for s in SCENARIOS:
            print(f"{s.name:<{width}}  {s.summary}")
    return 0


def _add_scenarios(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("scenarios", help="list the simulated scenarios")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_run_scenarios)


def _run_simulate(args: argparse.Namespace) -> int:
    from core.report import timeline_to_dict
    args.scenario = args.name
    if args.at is not None and not args.pcap:
        raise SynAckError("--at needs --pcap")
    from core.capture.taps import TapPoint
    tap = TapPoint.parse(args.at or "client")  # a bad tap fails before the run
    timeline = _source_timeline(args)
    if args.pcap:
        from core.capture.taps import write_capture
        truth = write_capture(timeline, args.pcap, tap)
        where = {"client": "client-side capture", "server": "server-side capture",
                 "both": "pcapng, interface 0 at the client, 1 at the server"}.get(
                     tap.name, f"mid-path capture, {tap.name.removeprefix('mid:')} of the "
                     "way from the client")
        packets = counted(len(truth.frames), "packet")
        print(f"wrote {Path(args.pcap).resolve()} ({packets}, {where})",
              file=sys.stderr if args.json else sys.stdout)
        if not args.json:
            return 0
    if args.json:
        data = {"scenario": args.name, **timeline_to_dict(timeline, events=True)}
        print(json.dumps(data, indent=1))
        return 0
    from core.report import initial_numbers
    iss = initial_numbers(timeline)
    print(timeline.title)
    for rec in timeline.segments:
        peer = timeline.peer(rec.sender)
        other = timeline.peer(rec.receiver)
        fate = "lost" if rec.arrived is None else f"arrives {rec.arrived:.6f}"
        client, server = timeline.states_after(rec.index)
        print(f"{rec.sent:.6f} {peer.label} > {other.label}: "
              f"{rec.segment.describe(iss=iss.get(rec.sender, 0), irs=iss.get(rec.receiver, 0))}"
              f"  [{fate}; client {client.value}, server {server.value}]")
    return 0


SIMULATE_EPILOG = """\
parameters for --set KEY=VALUE (* : also per side, as client.KEY or server.KEY):
  Times take a unit: 500us, 40ms, 2s, 1min, 1h; probabilities take %: loss=5%.
  A bare number is in the unit listed (s: seconds; 0..1: a fraction), so delay=50 means
  50 seconds: a bare time above the 'bare <=' limit is refused as a likely unit mistake
  (write 50ms, or 50s, or add --force), and loss=5 is refused (write 5%).
  Optional keys take off (or none); iss and ts_offset take random.
  example: synack simulate fast_retransmit --set delay=20ms --set loss=5% --set seed=4

"""


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from core.simulate.params import parameter_lines
    parser = sub.add_parser(
        "simulate", help="run a scenario and print its segments",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a scenario and print its segments (or write them as a capture).",
        epilog=SIMULATE_EPILOG + "\n".join("  " + line for line in parameter_lines()))
    parser.add_argument("name", help="scenario name (see synack scenarios)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)
    parser.add_argument("--json", action="store_true", help="the Timeline as JSON")
    parser.add_argument("--pcap", metavar="OUT.pcap",
                        help="also write the exchange as a capture (seen at the client "
                        "unless --at says otherwise)")
    parser.add_argument("--at", metavar="TAP",
                        help="where the --pcap capture is taken: client (default), server, "
                        "mid[:FRACTION] (that fraction of the way to the server, 0.5 by "
                        "default) or both (pcapng, one interface per end)")
    parser.set_defaults(handler=_run_simulate)


COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_gui, _add_export, _add_streams, _add_trace, _add_states, _add_scenarios,
    _add_simulate]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or only the sub-command ``only`` (what ``main`` runs: the
    others' help texts import modules a command such as ``streams`` never needs)."""
    parser = argparse.ArgumentParser(
        prog="synack", description="Animated TCP sequence diagrams from captures and "
        "simulations. Without a command, opens the desktop app on the demo.")
    parser.add_argument("--version", action="version", version=f"synack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        if only is None or add.__name__ == f"_add_{only}":
            add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _safe_output()
    args_list = list(sys.argv[1:] if argv is None else argv)
    commands = {"gui", "export", "streams", "trace", "states", "scenarios", "simulate"}
    if not args_list or (args_list[0] not in commands and args_list[0] not in
                         ("-h", "--help", "--version")):
        args_list.insert(0, "gui")  # `synack` and `synack FILE` open the app
    parser = build_parser(args_list[0] if args_list[0] in commands else None)
    args = parser.parse_args(args_list)
    handler: Handler = args.handler
    try:
        return handler(args)
    except SynAckError as exc:
        print(f"synack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C: quiet, with the shell's usual status
        return 130
    except BrokenPipeError:  # `synack scenarios | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

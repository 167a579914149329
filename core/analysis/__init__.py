"""TCP sequence analysis per segment, in tshark's vocabulary (Wireshark 4.0 rules)."""

from core.analysis.api import analyze_capture, analyze_stream
from core.analysis.labels import LABELS
from core.analysis.result import StreamAnalysis

__all__ = ["LABELS", "StreamAnalysis", "analyze_capture", "analyze_stream"]

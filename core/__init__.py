"""SynAck core: TCP segments, the RFC 9293 state machine and the trace model.

Rule: core is pure Python. It imports no Qt, no pyqtgraph and nothing from ``gui``;
only ``core.capture`` (the capture edge) may import scapy. Time is always a number
passed in as ``now``; nothing here reads a clock, sleeps or opens a socket.
"""

__version__ = "0.1.0"

"""Make the example captures of ``resources/examples`` (File > Open Example).

    python resources/make_examples.py [CORPUS]      # CORPUS: ../shared/corpus by default

Three are real Linux captures copied unchanged from the shared corpus (its README has
their ground truth); the lossy transfer is simulated, because the corpus's real lossy
capture (2,330 packets, 300 KB) is too big to ship: the project's simulator with
5% loss on a 20 ms link, seen at the client, 128 bytes kept per frame. The same
seed gives the same file. Run from the repository root with the project importable.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"
#: example file -> the corpus file it is a copy of
FROM_CORPUS = {
    "handshake_and_close.pcap": "kernel/close_client_first_delayed.pcap",
    "simultaneous_close.pcap": "kernel/simultaneous_close_client.pcap",
    "zero_window.pcap": "kernel/zero_window.pcap",
}
LOSSY = "lossy_transfer.pcap"
LOSSY_BYTES = 24_000
LOSSY_PARAMS: dict[str, object] = {"mss": 1000, "delay": 0.02, "loss": 0.05, "seed": 3}
SNAPLEN = 128


def simulate_lossy(path: Path) -> None:
    from core.capture.taps import write_capture
    from core.simulate.program import PEER_CLOSED, accept, close, connect, listen, read, send
    from core.simulate.scenarios import Scenario
    from core.tcp.payload import text

    scenario = Scenario(
        name="lossy_transfer", summary="24 kB over a link that loses 5% of segments",
        explanation="", defaults=LOSSY_PARAMS,
        client=(connect(), send(text(LOSSY_BYTES)), close()),
        server=(listen(), accept(), read(LOSSY_BYTES), close(when=PEER_CLOSED, after=0.01)))
    write_capture(scenario.run(), path, snaplen=SNAPLEN)


def main(corpus: Path) -> None:
    EXAMPLES.mkdir(exist_ok=True)
    for name, source in FROM_CORPUS.items():
        shutil.copyfile(corpus / source, EXAMPLES / name)
        print(f"{EXAMPLES / name} <- {corpus / source}")
    simulate_lossy(EXAMPLES / LOSSY)
    print(f"{EXAMPLES / LOSSY} <- simulated {LOSSY_PARAMS}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "corpus")

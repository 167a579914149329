"""One exchange in fresh namespaces: captures at both ends, the kernel's state changes,
the wire's log, the applications' results, all kept in one run directory.

``Run`` is a context manager; a scenario (:mod:`bench.kernel_lab.scenarios`) calls
``wire()`` or ``loopback()``, then starts the applications. On exit the captures, wire
and trace are stopped, the namespaces deleted and ``run.json`` / ``trace.txt`` written::

    runs/NAME/NNNN/client.pcap server.pcap   (wire runs; a loopback run has lo.pcap)
                   trace.txt                  tracefs lines (options/fields, clock mono)
                   wire.json                  the wire's drops and reorders
                   run.json                   scenario, parameters, ports, apps' results,
                                              clock offset (wall = trace + offset)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess as sp
import sys
import time
from pathlib import Path
from typing import Any

from bench.kernel_lab.ftrace import TraceInstance

HERE = Path(__file__).resolve().parent
PY = sys.executable
CLIENT_IP, SERVER_IP = "10.9.0.1", "10.9.0.2"


def sh(cmd: list[str], check: bool = True) -> sp.CompletedProcess[str]:
    return sp.run(cmd, check=check, capture_output=True, text=True)


def netns_ok() -> str | None:
    """``None`` when namespaces can be created here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, TAP devices and tracefs)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    if shutil.which("tcpdump") is None:
        return "tcpdump is missing (apt-get install tcpdump)"
    name = f"klprobe{os.getpid()}"
    r = sh(["ip", "netns", "add", name], check=False)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    sh(["ip", "netns", "del", name], check=False)
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (TAP devices)"
    return None


def parse_json_line(out: str) -> dict[str, Any]:
    for line in reversed(out.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {"raw_stdout": out[-2000:]}


class App:
    """A role of apps.py running in a namespace."""

    def __init__(self, ns: str, role: str, args: dict[str, Any]) -> None:
        cmd = ["ip", "netns", "exec", ns, PY, str(HERE / "apps.py"), role]
        for k, v in args.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        self.cmd = cmd
        self.proc = sp.Popen(cmd, stdout=sp.PIPE, stderr=sp.PIPE, text=True)

    def wait_listening(self, timeout: float = 5.0) -> None:
        assert self.proc.stdout is not None
        t0 = time.time()
        while time.time() - t0 < timeout:
            line = self.proc.stdout.readline()
            if not line or "listening" in line:
                return

    def wait(self, timeout: float = 30.0) -> dict[str, Any]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except sp.TimeoutExpired:
            self.kill()
            out, err = self.proc.communicate()
        res = parse_json_line(out)
        if err.strip():
            res["stderr"] = err[-1000:]
        return res

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)   # ip netns exec execs in place: this is python


class Run:
    """One exchange (see the module docstring)."""

    def __init__(self, out: Path, scenario: str, number: int, run_id: int,
                 params: dict[str, Any]) -> None:
        self.dir = out / "runs" / scenario / f"{number:04d}"
        self.scenario = scenario
        self.id = run_id
        self.params = params
        self.port = 20000 + run_id
        self.lport = 40000 + run_id
        self.ns_c = f"kl{run_id}c"
        self.ns_s = f"kl{run_id}s"
        self.mode = ""
        self.wire_proc: sp.Popen[str] | None = None
        self.wire_args: dict[str, Any] = {}
        self.captures: list[tuple[str, sp.Popen[str]]] = []
        self.apps: list[App] = []
        self.results: dict[str, Any] = {}
        self.trace = TraceInstance(f"synack_lab_{run_id}", [self.port, self.lport])
        self.t_start = 0.0

    # --- set-up -------------------------------------------------------------------
    def __enter__(self) -> Run:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self.t_start = time.time()
        self.trace.__enter__()
        return self

    def _mkns(self, *names: str) -> None:
        for n in names:
            sh(["ip", "netns", "del", n], check=False)
            sh(["ip", "netns", "add", n])
            sh(["ip", "-n", n, "link", "set", "lo", "up"])
            self.sysctl(n, {"net.ipv6.conf.all.disable_ipv6": 1,
                            "net.ipv6.conf.default.disable_ipv6": 1})

    def sysctl(self, ns: str, values: dict[str, Any]) -> None:
        for k, v in values.items():
            sh(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{k}={v}"])

    def _capture(self, name: str, ns: str, iface: str, snap: int) -> None:
        path = self.dir / f"{name}.pcap"
        p = sp.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-s", str(snap), "-U",
                      "--immediate-mode", "-nn", "-w", str(path), "tcp"],
                     stderr=sp.PIPE, stdout=sp.DEVNULL, text=True)
        assert p.stderr is not None
        t0 = time.time()
        while time.time() - t0 < 10:
            line = p.stderr.readline()
            if not line or "listening on" in line:
                break
        self.captures.append((name, p))

    def loopback(self, snap: int = 262144, sysctl: dict[str, Any] | None = None) -> None:
        """Both ends in one namespace on lo (no impairment); one capture, lo.pcap."""
        self.mode = "lo"
        self.ns_s = self.ns_c
        self._mkns(self.ns_c)
        if sysctl:
            self.sysctl(self.ns_c, sysctl)
        self._capture("lo", self.ns_c, "lo", snap)
        time.sleep(0.1)

    def wire(self, snap: int = 262144, client_sysctl: dict[str, Any] | None = None,
             server_sysctl: dict[str, Any] | None = None, **kw: Any) -> None:
        """Two namespaces joined by wire.py (``kw``: its options, e.g. ab_delay=20,
        drop=['ab:syn:1']); captures on both TAP devices."""
        self.mode = "wire"
        self._mkns(self.ns_c, self.ns_s)
        if client_sysctl:
            self.sysctl(self.ns_c, client_sysctl)
        if server_sysctl:
            self.sysctl(self.ns_s, server_sysctl)
        log = self.dir / "wire.json"
        self.wire_args = dict(kw)
        cmd = [PY, str(HERE / "wire.py"), "--nsa", self.ns_c, "--ipa", f"{CLIENT_IP}/24",
               "--nsb", self.ns_s, "--ipb", f"{SERVER_IP}/24", "--log", str(log),
               "--taps", f"kc{self.id},ks{self.id}"]
        for k, v in kw.items():
            if isinstance(v, list):
                for item in v:
                    cmd += ["--" + k.replace("_", "-"), str(item)]
            else:
                cmd += ["--" + k.replace("_", "-"), str(v)]
        self.wire_proc = sp.Popen(cmd, stdout=sp.DEVNULL, stderr=sp.PIPE, text=True)
        ready = Path(str(log) + ".ready")
        t0 = time.time()
        while not ready.exists() and time.time() - t0 < 10:
            if self.wire_proc.poll() is not None:
                raise RuntimeError(f"wire.py failed: {self.wire_proc.stderr.read()}"  # type: ignore[union-attr]
                                   )
            time.sleep(0.02)
        ready.unlink(missing_ok=True)
        self._capture("client", self.ns_c, f"kc{self.id}", snap)
        self._capture("server", self.ns_s, f"ks{self.id}", snap)
        time.sleep(0.1)

    @property
    def server_host(self) -> str:
        return SERVER_IP if self.mode == "wire" else "127.0.0.1"

    @property
    def client_host(self) -> str:
        return CLIENT_IP if self.mode == "wire" else "127.0.0.1"

    # --- applications --------------------------------------------------------------
    def server(self, role: str = "server", **kw: Any) -> App:
        args = {"host": self.server_host, "port": self.port, **kw}
        app = App(self.ns_s, role, args)
        app.wait_listening()
        self.apps.append(app)
        return app

    def client(self, role: str = "client", **kw: Any) -> App:
        args = {"host": self.server_host, "port": self.port, **kw}
        app = App(self.ns_c, role, args)
        self.apps.append(app)
        return app

    def app(self, ns: str, role: str, **kw: Any) -> App:
        app = App(ns, role, kw)
        self.apps.append(app)
        return app

    def cable(self, pulled: bool) -> None:
        assert self.wire_proc is not None
        os.kill(self.wire_proc.pid, signal.SIGUSR1 if pulled else signal.SIGUSR2)

    # --- tear-down -----------------------------------------------------------------
    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)
        for app in self.apps:
            app.kill()
        for _name, p in self.captures:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=5)
            except sp.TimeoutExpired:
                p.kill()
                p.wait()
        if self.wire_proc is not None:
            if self.wire_proc.poll() is None:
                self.wire_proc.send_signal(signal.SIGTERM)
            try:
                self.wire_proc.wait(timeout=5)
            except sp.TimeoutExpired:
                self.wire_proc.kill()
        self.trace.__exit__()
        for n in {self.ns_c, self.ns_s}:
            sh(["ip", "netns", "del", n], check=False)
        (self.dir / "trace.txt").write_text(self.trace.text)
        info = {
            "scenario": self.scenario, "run_id": self.id, "params": self.params,
            "mode": self.mode, "server_port": self.port, "client_lport": self.lport,
            "wire": self.wire_args, "clock_offset": self.trace.offset,
            "started": self.t_start, "duration": round(time.time() - self.t_start, 3),
            "apps": self.results, "captures": [name for name, _ in self.captures],
            "error": repr(exc[1]) if len(exc) > 1 and exc[1] is not None else None,
        }
        (self.dir / "run.json").write_text(json.dumps(info, indent=1, default=str))

"""Jetson power from ``tegrastats``: for boards whose sysfs sensors need root or are not exposed.

``tegrastats --interval MS`` prints one line per interval. Its power fields are ``RAIL cur/avg`` in mW
(JetPack 4: bare numbers; JetPack 5 and later: ``5100mW/5100mW``, and on recent releases a third value).
We take the *current* value: the second is a moving average, not an integral over our window. All
other fields (RAM, SWAP, CPU, GR3D_FREQ, EMC_FREQ, temperatures such as ``CPU@45C``) are ignored.

Design: the meter owns the subprocess and one reader thread, which turns each line into a ``Sample``
stamped on the harness clock when the line arrives — so every tegrastats line is one sample, neither
dropped nor repeated, which a poller of "the latest line" could not promise. ``start``/``stop`` are
overridden for that; ``read()`` returns the latest parsed sample for one-off use. The nominal rate is
``1000 / interval_ms``. A line's values were read by tegrastats shortly before it printed the line, so
the timestamps lag the truth by a little under one interval at most.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import Optional, Sequence

from onnxprof.meters.base import Meter, MeterUnavailable, Sample, clock
from onnxprof.meters.jetson import board_total, total_description

_NUMBER = r"(\d+(?:\.\d+)?)"
# NAME cur/avg or NAME cur/avg/peak, each value with an optional mW suffix; whole whitespace-separated
# tokens only, so "RAM 2100/7860MB" or "SWAP 0/3982MB" (a unit after the last number) never match.
_POWER = re.compile(rf"(?<!\S)([A-Za-z][A-Za-z0-9_]*) {_NUMBER}(?:mW)?/{_NUMBER}(?:mW)?(?:/{_NUMBER}(?:mW)?)?(?!\S)")


def parse_tegrastats_line(line: str) -> dict[str, float]:
    """Rail -> current watts for every power field of one tegrastats line (empty when it has none)."""
    return {m.group(1): float(m.group(2)) / 1000.0 for m in _POWER.finditer(line)}


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the process group we started (tegrastats, or a wrapper such as sudo, and its children)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass                        # already gone
    except PermissionError:         # a setuid wrapper (sudo) we may not signal: try the child alone
        try:
            proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass


class TegrastatsMeter(Meter):
    """Runs ``tegrastats --interval MS`` and samples each printed line."""

    name = "tegrastats"
    nominal_rate_hz = 10.0

    def __init__(self, interval_s: Optional[float] = None, command: Sequence[str] = ("tegrastats",),
                 startup_timeout_s: float = 5.0):
        self.interval_ms = max(1, round((interval_s if interval_s is not None else 0.1) * 1000))
        self.nominal_rate_hz = 1000.0 / self.interval_ms
        super().__init__(self.interval_ms / 1000.0)
        self.command = list(command)
        self.startup_timeout_s = startup_timeout_s
        self.rails: list[str] = []
        self.input_rail: Optional[str] = None
        self._proc: Optional[subprocess.Popen] = None
        self._stderr = None
        self._latest: Optional[Sample] = None
        self._first_line = threading.Event()          # set at the first line, or at end of output
        self._lines_seen = 0
        self._eof = False
        self._stopping = False

    # -- life cycle --------------------------------------------------------------------------------
    def open(self) -> None:
        """Start tegrastats and wait for its first line with power fields."""
        if not self.command or shutil.which(self.command[0]) is None:
            raise MeterUnavailable(f"{self.command[0] if self.command else 'tegrastats'} not found "
                                   f"(not a Jetson, or not on PATH)")
        argv = self.command + ["--interval", str(self.interval_ms)]
        # stderr to a file, not a pipe: a chatty tegrastats must never block on a full pipe
        self._stderr = tempfile.TemporaryFile()
        try:
            # its own session: Ctrl-C reaches the harness, which stops the meter itself
            self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self._stderr.close()
            raise MeterUnavailable(f"cannot run {' '.join(argv)}: {exc.strerror or exc}") from None
        self._stopping = False
        self._latest = None
        self._lines_seen = 0
        self._eof = False
        self._first_line.clear()
        self._thread = threading.Thread(target=self._reader, name="onnxprof-tegrastats", daemon=True)
        self._thread.start()
        self._first_line.wait(max(self.startup_timeout_s, 3 * self.interval_s))   # a line, or EOF
        if self._latest is not None:
            return
        why = self._failure()
        self._shutdown()
        raise MeterUnavailable(why)

    def _failure(self) -> str:
        proc = self._proc
        assert proc is not None
        if self._lines_seen:
            return "tegrastats prints no power rails on this board (no INA3221 monitor: nothing to measure)"
        if self._eof:                              # its stdout closed: it is exiting, collect its status
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is not None:
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace").strip().splitlines()
            return f"tegrastats exited with status {proc.returncode}" + (f": {err[0]}" if err else "")
        return f"no output from tegrastats within {max(self.startup_timeout_s, 3 * self.interval_s):g} s"

    def start(self) -> None:
        self._stop.clear()
        self.open()

    def stop(self) -> None:
        self._stop.set()
        self._shutdown()
        self.close()

    def _shutdown(self) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass            # out of our hands; the reader is a daemon thread
        if self._thread is not None:
            self._thread.join(timeout=2)
        reading = self._thread is not None and self._thread.is_alive()
        if proc is not None and proc.stdout is not None and not reading:   # never close under a reader
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()

    # -- reading -------------------------------------------------------------------------------------
    def _reader(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            t = clock()
            self._lines_seen += 1
            rails_w = parse_tegrastats_line(raw.decode(errors="replace"))
            if not rails_w:
                with self._lock:
                    self.errors.append((t, "tegrastats line without power fields"))
                self._first_line.set()
                continue
            total, input_rail = board_total(rails_w)
            sample = Sample(t, total, rails_w)
            with self._lock:
                self.samples.append(sample)
                if self._latest is None:
                    self.rails, self.input_rail = list(rails_w), input_rail
                self._latest = sample
            self._first_line.set()
        self._eof = True
        self._first_line.set()
        if not self._stopping:
            with self._lock:
                self.errors.append((clock(), f"tegrastats stopped (status {proc.poll()})"))

    def read(self) -> Sample:
        """The latest line's sample (the reader thread does the sampling)."""
        with self._lock:
            latest = self._latest
        if latest is None:
            raise RuntimeError("no tegrastats line read yet")
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("tegrastats is not running")
        return latest

    def describe(self) -> str:
        if not self.rails:
            return f"tegrastats every {self.interval_ms} ms ({' '.join(self.command)})"
        return (f"tegrastats every {self.interval_ms} ms: rails {', '.join(self.rails)}; "
                f"{total_description(self.rails, self.input_rail)}")

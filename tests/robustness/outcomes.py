"""Running a hostile file through the CLI and sorting what happened into outcome classes."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass

from typer.testing import CliRunner

from onnxprof.cli.main import app

# Outcome classes, in the order a report lists them: the first two are the only acceptable ones.
ANALYSED, REFUSED, TRACEBACK, BAD_REFUSAL, BAD_JSON, HANG, MEMORY = (
    "analysed", "refused", "traceback", "refusal not one line", "json not standard", "hang", "memory")

_runner = CliRunner()


@dataclass(frozen=True)
class Outcome:
    kind: str
    exit_code: int
    stdout: str
    stderr: str
    detail: str = ""


class _Deadline(BaseException):
    """Raised by SIGALRM in the analysed command: a BaseException, so no ``except Exception`` hides it."""


def analyse_in_process(path, fmt: str = "json", args=(), timeout_s: int = 60) -> Outcome:
    """``onnxprof analyze PATH --format FMT [ARGS]`` in this process; a hang is cut at ``timeout_s``
    (where the wait is in Python or a blocking system call: signals reach neither inside a C loop)."""

    def expire(*_):
        raise _Deadline()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(timeout_s)
    try:
        result = _runner.invoke(app, ["analyze", str(path), "--format", fmt, *args], env={"COLUMNS": "100"})
    except _Deadline:
        return Outcome(HANG, -1, "", "", f"still running after {timeout_s} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if isinstance(result.exception, _Deadline):
        return Outcome(HANG, -1, result.stdout, result.stderr, f"still running after {timeout_s} s")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return Outcome(TRACEBACK, -1, result.stdout, result.stderr, f"{type(result.exception).__name__}: "
                                                                      f"{result.exception}")
    return classify(result.exit_code, result.stdout, result.stderr, fmt)


def analyse_in_child(path, fmt: str = "json", args=(), timeout_s: float = 60, memory_bytes: int = 3 << 30) -> Outcome:
    """The same, as its own process with its address space capped: for inputs whose danger is memory."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    try:
        done = subprocess.run([sys.executable, "-m", "onnxprof", "analyze", str(path), "--format", fmt, *args],
                              capture_output=True, text=True, timeout=timeout_s, preexec_fn=cap,
                              env={**os.environ, "COLUMNS": "100"})
    except subprocess.TimeoutExpired:
        return Outcome(HANG, -1, "", "", f"still running after {timeout_s:g} s")
    if "MemoryError" in done.stderr or "bad_alloc" in done.stderr:
        return Outcome(MEMORY, done.returncode, done.stdout, done.stderr)
    return classify(done.returncode, done.stdout, done.stderr, fmt)


def classify(exit_code: int, stdout: str, stderr: str, fmt: str) -> Outcome:
    if "Traceback (most recent call last)" in stdout + stderr:
        return Outcome(TRACEBACK, exit_code, stdout, stderr)
    if exit_code != 0:
        lines = stderr.strip().splitlines()
        if exit_code != 2 or len(lines) != 1 or not lines[0].startswith("onnxprof: error: "):
            return Outcome(BAD_REFUSAL, exit_code, stdout, stderr)
        return Outcome(REFUSED, exit_code, stdout, stderr)
    if fmt == "json":
        try:
            json.loads(stdout, parse_constant=_reject_constant)
        except ValueError as exc:
            return Outcome(BAD_JSON, exit_code, stdout, stderr, str(exc))
    return Outcome(ANALYSED, exit_code, stdout, stderr)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not standard JSON")

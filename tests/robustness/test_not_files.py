"""Every file a user names, whatever the command, is refused in one line when it is not a regular file:
a FIFO would block `open()` forever, a device would never end."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import onnx
import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from tests.robustness.hostile_models import small_cnn

# Each command line with FILE where a user names a file to read.
READERS = [
    ["analyze", "FILE"],
    ["analyze", "MODEL", "--device", "FILE"],
    ["measure", "FILE"],
    ["measure", "MODEL", "--inputs", "FILE"],
    ["measure", "MODEL", "--meter", "replay", "--replay", "FILE"],
    ["results", "import-trtexec", "--model", "MODEL", "--times", "FILE"],
    ["results", "import-trtexec", "--model", "FILE", "--times", "FILE"],
]


@contextmanager
def _deadline(seconds: int):
    def expire(*_):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c))
def test_a_named_file_that_is_not_a_regular_file_is_refused_in_one_line(tmp_path, command, kind):
    model = tmp_path / "m.onnx"
    onnx.save(small_cnn(), model)
    target = {"fifo": tmp_path / "fifo", "device": "/dev/zero", "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    args = [str(target) if a == "FILE" else str(model) if a == "MODEL" else a for a in command]
    with _deadline(20):
        result = CliRunner().invoke(app, [*args, "--db", str(tmp_path / "runs.sqlite")] if command[0] != "analyze"
                                    else args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("onnxprof: error: "), result.stderr
    assert str(target) in lines[0]

"""measure's Ctrl-C: the first stops the sweep, except inside a write to the store, where it waits for the
write to finish; later ones are ignored."""

from __future__ import annotations

import os
import signal

import pytest

from onnxprof.cli.measure import first_interrupt_only


def test_a_ctrl_c_during_a_store_write_is_raised_when_the_write_is_done():
    written = []
    with first_interrupt_only() as interrupts:
        with pytest.raises(KeyboardInterrupt):
            with interrupts.writing_store():
                os.kill(os.getpid(), signal.SIGINT)     # delivered here, in the middle of the write
                written.append("batch")                 # the write goes on to its end
        os.kill(os.getpid(), signal.SIGINT)             # a second Ctrl-C: ignored while saving
    assert written == ["batch"]
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN   # and after: the process is on its way out
    signal.signal(signal.SIGINT, signal.default_int_handler)


def test_outside_a_write_the_first_ctrl_c_stops_at_once():
    with pytest.raises(KeyboardInterrupt):
        with first_interrupt_only():
            os.kill(os.getpid(), signal.SIGINT)
            pytest.fail("not stopped")
    signal.signal(signal.SIGINT, signal.default_int_handler)

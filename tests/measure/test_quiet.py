"""The machine probe that tells a quiet machine from a busy one, run for real with ONNX Runtime, and
the choice of the round a calibration point keeps."""

from __future__ import annotations

from onnxprof.cost.analysis import analyze_model
from onnxprof.measure.quiet import DISTURBED, MEASURE_AGAIN, MachineProbe, Round, fastest_round, probe_model


def test_the_probe_is_six_pointwise_and_depthwise_blocks():
    report = analyze_model(probe_model())
    pixels = 28 * 28
    assert report.totals.macs == 6 * (64 * 64 * pixels + 64 * 9 * pixels)
    assert sorted({n.op_type for n in report.nodes}) == ["Conv", "Relu"] and len(report.nodes) == 24


def test_readings_are_judged_against_the_quietest_of_the_collection():
    with MachineProbe() as probe:
        readings = [probe() for _ in range(3)]
        assert probe.readings == readings and all(r > 0 for r in readings)
        assert probe.quietest_ms == min(readings)
        assert probe.is_quiet(probe.quietest_ms * DISTURBED)
        assert not probe.is_quiet(probe.quietest_ms * DISTURBED * 1.01)
        # no time to wait: one more reading, returned as it is
        last = probe.wait_for_quiet(0.0)
        assert probe.readings[-1] == last and len(probe.readings) == 4


def test_a_point_keeps_its_fastest_round_and_knows_whether_any_was_quiet():
    def quiet(ms):
        return ms <= DISTURBED * 0.27

    # the 4.0 ms round is kept although the probe after it read 0.60 ms: load only adds time, so no
    # round is faster for having been disturbed; the 5.0 ms round had both readings quiet
    rounds = [Round(5.0, (0.30, 0.31)), Round(4.0, (0.30, 0.60)), Round(4.5, (0.27, 0.40))]
    assert fastest_round(rounds, quiet) == (rounds[1], True)
    busy = [Round(6.0, (0.5, 0.3)), Round(5.5, (0.3, 0.5))]
    assert fastest_round(busy, quiet) == (busy[1], False)


def test_only_points_with_no_quiet_round_are_measured_again():
    calls = []
    with MachineProbe() as probe:
        quietest = probe()
        disturbed = Round(1.0, (quietest * 10, quietest * 10))

        def measure_disturbed_again(key):
            # the probe reads as if the machine stayed busy: every extra round is disturbed too
            calls.append(key)
            rounds[key].append(disturbed)

        rounds = {"quiet": [Round(2.0, (quietest, quietest))], "busy": [disturbed, disturbed]}
        probe.measure_again(rounds, measure_disturbed_again, rounds_took_s=3600.0)
        assert calls == ["busy"] * MEASURE_AGAIN and len(rounds["busy"]) == 2 + MEASURE_AGAIN
        # no time left for it: the rounds took no time, so neither does measuring again
        calls.clear()
        probe.measure_again({"busy": [disturbed]}, measure_disturbed_again, rounds_took_s=0.0)
        assert calls == []


def test_a_point_whose_measurement_fails_is_not_measured_again_and_again():
    calls = []
    with MachineProbe() as probe:
        quietest = probe()
        rounds = {"fails": [Round(1.0, (quietest * 10, quietest * 10))]}
        probe.measure_again(rounds, calls.append, rounds_took_s=3600.0)    # appends no round: it failed
        assert calls == ["fails"] and len(rounds["fails"]) == 1

"""Predictions of run-time figures from the static analysis (refined by the calibration issue)."""

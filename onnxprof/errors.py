"""Errors a user can cause. The CLI prints them as one line and exits non-zero; anything else is a bug."""


class OnnxprofError(Exception):
    """A problem with the user's input, stated with what to do about it."""

    exit_code = 2


class ModelError(OnnxprofError):
    """The model file cannot be read or is not a valid ONNX model."""


class UsageError(OnnxprofError):
    """A flag or argument does not fit the model (unknown input, wrong rank, bad syntax)."""

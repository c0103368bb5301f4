"""Errors a user can cause. The CLI prints them as one line and exits non-zero; anything else is a bug."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what a one-line
    error report quotes."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OnnxprofError(Exception):
    """A problem with the user's input, stated with what to do about it."""

    exit_code = 2


class ModelError(OnnxprofError):
    """The model file cannot be read or is not a valid ONNX model."""


class UsageError(OnnxprofError):
    """A flag or argument does not fit the model (unknown input, wrong rank, bad syntax)."""

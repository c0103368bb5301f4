"""onnxprof: predict what an ONNX model costs, then measure it."""

__version__ = "0.1.0"

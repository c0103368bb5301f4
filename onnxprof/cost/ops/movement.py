"""Ops that move, select or describe data without arithmetic: 0 FLOPs, but bytes moved.

Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout at inference) share their input's
buffer and move nothing; Shape and Size read only metadata.
"""

from __future__ import annotations

from onnxprof.cost.registry import CONSTANT, METADATA, OPAQUE, VIEW, register, zero_cost

register(["Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND", "Pad",
          "ConstantOfShape", "Cast", "CastLike", "Expand", "Tile", "ScatterND", "ScatterElements", "Scatter",
          "DepthToSpace", "SpaceToDepth", "Where", "Equal", "Less", "Greater", "LessOrEqual",
          "GreaterOrEqual", "Not", "And", "Or", "Xor", "Range", "NonZero", "OneHot", "ArgMax",
          "ArgMin", "TopK", "Trilu", "Compress", "CenterCropPad", "EyeLike", "ReverseSequence", "Unique",
          "BitCast", "TensorScatter", "IsInf", "IsNaN", "Hardmax", "MaxUnpool"],
         flops="0 (data movement, selection, comparison)")(zero_cost)
register(["SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
          "SequenceLength", "SplitToSequence", "ConcatFromSequence", "Optional", "OptionalGetElement",
          "OptionalHasElement", "StringConcat", "StringNormalizer", "StringSplit", "RegexFullMatch"],
         flops="0 (sequences, optionals, strings: sizes not static)", moves=OPAQUE)(zero_cost)
register(["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"],
         flops="0 (view of the input's buffer)", moves=VIEW)(zero_cost)
register(["Shape", "Size"], flops="0 (reads the shape only)", moves=METADATA)(zero_cost)
register("Constant", flops="0 (stored in the model)", moves=CONSTANT)(zero_cost)

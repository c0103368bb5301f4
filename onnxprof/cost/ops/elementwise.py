"""Broadcasting arithmetic: one operation per output element per extra operand."""

from __future__ import annotations

from onnxprof.cost.ops.factories import variadic_elementwise

variadic_elementwise(["Add", "Sub", "Mul", "Div", "Pow", "Mod", "Sum", "Max", "Min", "BitShift", "BitwiseAnd",
                      "BitwiseOr", "BitwiseXor"])
variadic_elementwise("Mean", extra_per_element=1, words="(inputs - 1) adds + 1 divide per output element")

"""Write docs/ops.md from the cost registry. Run after adding or changing a formula."""

from pathlib import Path

from onnxprof.report.ops_table import ops_markdown

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "ops.md"
    target.write_text(ops_markdown())
    print(f"wrote {target}")

"""Fuzz `onnxprof analyze` with hostile model files and print counts per outcome class.

Run: python scripts/fuzz.py [--damaged 2000] [--edited 2000] [--seed 1] [--show traceback] [--keep DIR]
The same generators as tests/robustness (each class of defect, random damage to real models and
protobuf field edits of them, half of them with --no-check so damage reaches past the checker); the
explosion class runs each file as its own process with a 3 GB address-space cap. Only "analysed" and
"refused" (exit 2, one line) are acceptable; every other outcome is listed with its file.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.robustness import hostile_models as hostile  # noqa: E402
from tests.robustness.outcomes import ANALYSED, REFUSED, analyse_in_child, analyse_in_process  # noqa: E402


def main() -> int:
    import resource

    # an input that blew past this in-process would be a finding, reported as a MemoryError one-liner
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--damaged", type=int, default=1000, help="randomly damaged models to try")
    parser.add_argument("--edited", type=int, default=1000, help="models with protobuf fields edited to try")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", default="", help="print the stderr of cases with this outcome")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them (default: a temporary folder)")
    args = parser.parse_args()
    counts: Counter = Counter()
    bad = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temporary:
        scratch = args.keep or temporary
        rng = random.Random(args.seed)
        for generator, extra, runner in [*((g, (), analyse_in_process) for g in hostile.FIXED_CLASSES),
                                         (hostile.damaged_bytes, (args.damaged,), analyse_in_process),
                                         (hostile.edited_fields, (args.edited,), analyse_in_process),
                                         (hostile.explosions, (), analyse_in_child)]:
            folder = Path(scratch) / generator.__name__
            folder.mkdir(parents=True, exist_ok=True)
            for case in generator(folder, rng, *extra):
                outcome = runner(case.path, args=case.args)
                counts[(case.kind, outcome.kind)] += 1
                if outcome.kind not in (ANALYSED, REFUSED):
                    bad.append((case, outcome))
                if args.show and outcome.kind == args.show:
                    print(f"{case.kind} / {case.name}: {outcome.stderr.strip()[:300]}")
    width = max(len(k) for k, _ in counts) + 2
    print(f"{'class':<{width}}{'outcome':<24}{'cases':>6}")
    for (kind, outcome), n in sorted(counts.items()):
        print(f"{kind:<{width}}{outcome:<24}{n:>6}")
    print(f"{sum(counts.values())} cases in {time.perf_counter() - started:.0f} s; {len(bad)} unacceptable")
    for case, outcome in bad:
        print(f"  {outcome.kind}: {case.kind} / {case.name} ({case.path.name}) {outcome.detail[:200]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

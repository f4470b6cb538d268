"""Run every benchmark: `python -m benchmarks [NAME...]` (what `make bench` does).

Each `benchmarks/bench_*.py` module is imported and its `main()` called, in file-name order. Give
names (`diff` or `bench_diff`) to run only some. A failing benchmark is reported and the others
still run; the exit status is 1 if any failed.
"""
from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path


def modules(names: list[str]) -> list[str]:
    found = sorted(p.stem for p in Path(__file__).resolve().parent.glob("bench_*.py"))
    if not names:
        return found
    wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in names}
    unknown = wanted - set(found)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))} "
                         f"(have: {', '.join(found)})")
    return [m for m in found if m in wanted]


def main(argv: list[str] | None = None) -> int:
    failed: list[str] = []
    for name in modules(sys.argv[1:] if argv is None else argv):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"{__package__ or 'benchmarks'}.{name}")
            module.main()
        except Exception:  # noqa: BLE001 - report and go on with the other benchmarks
            traceback.print_exc()
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks [--quick] [NAME ...]``: run the benchmarks, print their tables, log RESULTS.md rows."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

# Benchmarks by name, in the order they run: those reading the shared `sweep run` first, so that it
# runs before this process starts a Ray of its own.
NAMES = (
    "first_step",
    "cold_start",
    "efficiency",
    "end_to_end",
    "pruning",
    "overhead",
    "depth_eval",
    "simulate",
    "ray_scale",
    "faults",
    "peer",
    "payload",
    "schedulers",
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(NAMES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="shrunk runs: the whole set in about 25 minutes")
    parser.add_argument(
        "--experiment",
        metavar="DIR",
        type=Path,
        help="read this finished `sweep run` of a recipe (e.g. search_spaces/minilm_cut_cpu.yaml) where a benchmark "
        "reads the recipe's sweep, instead of running minilm_cpu.yaml",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    from benchmarks.sweeps import use_private_ray

    use_private_ray()  # before anything imports Ray
    import importlib

    from benchmarks.record import append_row, load_average, print_outcome
    from benchmarks.session import Session

    session = Session(quick=args.quick, experiment=args.experiment)
    command = shlex.join(["python", "-m", "benchmarks", *argv])
    selected = [name for name in NAMES if not args.names or name in args.names]
    started = time.monotonic()
    try:
        for name in selected:
            load = load_average()
            outcome = importlib.import_module(f"benchmarks.{name}").run(session)
            print_outcome(outcome)
            append_row(outcome, session.mode, load, command)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    elapsed = time.monotonic() - started
    print(f"\n{len(selected)} benchmark(s) in {elapsed:.0f} s; rows appended to benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

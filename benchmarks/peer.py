"""10. Side by side with the peer: sentence-transformers' own ``hyperparameter_search`` against ``sweep run``.

Both search the learning rate and warm-up (what the peer's search can express beside the loss) on the same
model, rows, steps, batch, evaluation cadence and threads (``benchmarks/peer.yaml``), one after the
other, each in a fresh process launched the way a user launches it: the peer with
``benchmarks.peer_search``, this project with ``python -m sweep run``. Each side's wall time runs from its
launch to the moment its search has ended and its best config is known: the peer's
``hyperparameter_search`` returning, and the sweep's ``sweep finished`` line (its retrain, which the peer
has no counterpart for, is stopped there with Ctrl-C). Each side is held to the STS-dev of what it hands
over, on the same pairs: the peer's best trial's last evaluation (its objective: a trial's final weights),
the sweep's best evaluation of a completed trial (its ranking: the step its retrain delivers). Beside it,
``best_last_of_full_runs``: the best last evaluation of a trial that trained its whole budget, for both.

The sides run in the order peer, ours, ours, peer (quick mode: peer, ours). A shared machine's speed can
drift by a fifth or more within half an hour (on 2026-12-04 the same steps took 4.3 s, then 5.5–6.4 s),
which one side after the other reads as a difference between them; in this order a steady drift hits
both sides alike, and the ratio is that of the sums of each side's walls. Each ordered pair's own
ratio is printed beside it: their spread is what the drift alone would have made of one pair.

Quick mode shrinks the search (3 trials of 8 steps, evaluated every 4, 128 rows, 100 pairs).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.recipe import ROOT, RUNS_DIR
from benchmarks.record import Outcome
from benchmarks.session import Session
from sweep.store.folder import ExperimentFolder
from trainables.metrics import OBJECTIVE

CONFIG = ROOT / "benchmarks" / "peer.yaml"
QUICK = (
    "data.train.limit=128",
    "data.sts_dev.limit=100",
    "train.max_steps=8",
    "train.eval_steps=4",
    "search.num_samples=3",
)
TARGET = 0.9  # this project's wall time over the peer's, at an equal best score
EQUAL_SCORE = 0.005  # STS-dev Spearman: closer than this is the same score on a few hundred pairs
SWEEP_ENDED = "sweep finished at"  # the driver's line once every trial has ended, before its retrain


ORDER = ("peer", "ours", "ours", "peer")  # a steady drift in the machine's speed hits both sides alike
QUICK_ORDER = ("peer", "ours")


def run(session: Session) -> Outcome:
    folder = RUNS_DIR / f"peer-{session.mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    sides = {"peer": peer_side, "ours": sweep_side}
    rows: list[dict[str, Any]] = []
    configs: dict[str, Any] = {}
    for turn, side in enumerate(QUICK_ORDER if session.quick else ORDER, start=1):
        turn_folder = folder / f"{turn}-{side}"  # each turn its own config, results and logs
        turn_folder.mkdir(parents=True)
        result = sides[side](_write_config(turn_folder, QUICK if session.quick else ()), turn_folder)
        rows.append({"turn": turn, **result["row"]})
        configs.setdefault(side, result["configs"])
    table = pd.DataFrame(rows)
    # Where each side's wall time went: before the first step, inside steps and evaluations, the rest
    # (model loads and trainer set-up per trial, data handling between steps, scheduling).
    table["s_per_step"] = table["s_in_steps"] / table["steps"]
    table["s_per_eval"] = table["s_in_evals"] / table["evaluations"]
    table["s_other"] = table["wall_s"] - table["start_up_s"] - table["s_in_steps"] - table["s_in_evals"]
    found = summary(table)
    pairs = ", ".join(f"{ratio:.2f}" for ratio in found["pair_ratios"])
    return Outcome(
        name="10. peer",
        table=table,
        measured=(
            f"wall ours/peer {found['ratio']:.2f} ({found['ours_wall_s']:.0f} s vs {found['peer_wall_s']:.0f} s over "
            f"{len(found['pair_ratios'])} turn(s) each; each pair in turn {pairs}); steps per search "
            f"{found['ours_steps']:.0f} vs {found['peer_steps']:.0f}; best STS-dev {found['ours_best']:.4f} "
            f"vs {found['peer_best']:.4f}"
        ),
        target=f"≤ {TARGET}× the peer's wall, best STS-dev not lower by more than {EQUAL_SCORE}",
        met=found["ratio"] <= TARGET and found["equal"],
        notes=[
            "wall: launch to best known (the peer's search returning; the sweep's `sweep finished` line)",
            "start-up: launch to the first trial's first step",
            f"peer's trials: {configs['peer']}",
            f"our trials: {configs['ours']}",
            f"folders: {folder}",
        ],
    )


def summary(table: pd.DataFrame) -> dict:
    """The comparison of the sides' turns (rows with ``side``, ``turn``, ``wall_s``, ``steps``, ``best_sts_dev``).

    ``ratio``: the sum of our walls over the sum of the peer's. With the turns peer, ours, ours, peer a
    steady drift in the machine's speed cancels exactly where the sides take equal time, and nearly so
    where they differ by a few tenths. ``pair_ratios``: ours over peer for
    each pair of turns, first with first: what one side-after-the-other run would have reported.
    Best scores and steps are each side's mean over its turns (the searches are seeded alike).
    """
    ours = table[table["side"].str.startswith("ours")].sort_values("turn")
    peer = table[table["side"].str.startswith("peer")].sort_values("turn")
    if len(ours) != len(peer) or ours.empty:
        raise ValueError(f"every turn of ours needs one of the peer's; got {len(ours)} and {len(peer)}")
    ours_best, peer_best = float(ours["best_sts_dev"].mean()), float(peer["best_sts_dev"].mean())
    gap = ours_best - peer_best
    return {
        "ratio": float(ours["wall_s"].sum() / peer["wall_s"].sum()),
        "pair_ratios": [float(o / p) for o, p in zip(ours["wall_s"], peer["wall_s"], strict=True)],
        "ours_wall_s": float(ours["wall_s"].sum()),
        "peer_wall_s": float(peer["wall_s"].sum()),
        "ours_steps": float(ours["steps"].mean()),
        "peer_steps": float(peer["steps"].mean()),
        "ours_best": ours_best,
        "peer_best": peer_best,
        "equal": gap >= -EQUAL_SCORE,
    }


def _write_config(folder: Path, overrides: tuple[str, ...]) -> Path:
    """peer.yaml with ``overrides`` applied and its data paths made absolute, for both sides to read."""
    from sweep.config.experiment import load_config

    config = load_config(CONFIG, list(overrides))
    raw = config.model_dump(mode="json", exclude_none=True)
    raw["data"] = config.data.resolved().model_dump(mode="json", exclude_none=True)
    raw["results_dir"] = str(folder)
    import yaml

    path = folder / "peer.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def peer_side(config: Path, folder: Path) -> dict:
    """``benchmarks.peer_search`` in a fresh process; its trials as one table row."""
    out = folder / "peer.json"
    log = folder / "peer.log"
    launched_at = time.time()
    command = [sys.executable, "-m", "benchmarks.peer_search", str(config), str(out), repr(launched_at)]
    print(f"[peer] {' '.join(command[1:])}  (log: {log})", flush=True)
    with log.open("w") as handle:
        code = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise RuntimeError(f"the peer's search exited with {code}; see {log}")
    result = json.loads(out.read_text())
    trials = result["trials"]
    completed = [t for t in trials if t["state"] == "complete"]
    best = max(completed, key=lambda t: t["value"])
    firsts = [t["first_step_at"] for t in trials if t["first_step_at"]]
    row = {
        "side": "peer: hyperparameter_search",
        "wall_s": result["wall_s"],
        "start_up_s": min(firsts) - launched_at,
        "trials": len(trials),
        "completed": len(completed),
        "pruned": sum(t["state"] == "pruned" for t in trials),
        "steps": int(sum(t["steps"] for t in trials)),
        "s_in_steps": sum(t["step_s"] for t in trials),
        "s_in_evals": sum(t["eval_s"] for t in trials),
        "evaluations": sum(len(t["intermediate"]) for t in trials),
        "best_sts_dev": float(best["value"]),
        "best_last_of_full_runs": float(best["value"]),  # a completed trial here ran its whole budget
    }
    configs = "; ".join(_config_words(t["params"], t["state"], t["steps"]) for t in trials)
    return {"row": row, "configs": configs}


def sweep_side(config: Path, folder: Path) -> dict:
    """``python -m sweep run`` in a fresh process, stopped with Ctrl-C once its sweep has ended."""
    log = folder / "sweep.log"
    command = [sys.executable, "-m", "sweep", "run", str(config)]
    print(f"[ours] {' '.join(command[1:])}  (log: {log})", flush=True)
    launched_at = time.time()
    ended_at = None
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        assert process.stdout is not None  # piped above
        for line in process.stdout:
            handle.write(line)
            if ended_at is None and SWEEP_ENDED in line:
                ended_at = time.time()
                process.send_signal(signal.SIGINT)  # the retrain is not part of the comparison
        process.wait()
    if ended_at is None:
        raise RuntimeError(f"`sweep run` exited with {process.returncode} before its sweep ended; see {log}")
    (experiment,) = [path for path in folder.iterdir() if path.is_dir()]
    trials, reports = ExperimentFolder(experiment).saved_results()
    row = {
        "side": "ours: sweep run",
        "wall_s": ended_at - launched_at,
        "start_up_s": float(reports["first_step_at"].min()) - launched_at,
        **sweep_figures(trials, reports),
    }
    searched = trials.sort_values("trial_index")
    configs = "; ".join(
        _config_words({key: t[key] for key in ("learning_rate", "warmup_ratio")}, t["status"], t["steps"])
        for t in searched.to_dict("records")
    )
    return {"row": row, "configs": configs}


def sweep_figures(trials: pd.DataFrame, reports: pd.DataFrame) -> dict:
    """The work and the scores of a sweep's saved ``trials`` and ``reports``, as the peer's are counted."""
    reports = reports.merge(trials[["trial_id", "status"]], on="trial_id")
    last = reports.sort_values("step").groupby("trial_id").tail(1)
    completed = last[last["status"] == "completed"]
    full_runs = completed[completed["step"] >= completed["total_steps"]]
    return {
        "trials": len(trials),
        "completed": len(completed),
        "pruned": int((trials["status"] == "pruned").sum()),
        "steps": int(last["step"].sum()),
        "s_in_steps": float(last["step_time_s"].sum()),
        "s_in_evals": float(last["eval_time_s"].sum()),
        "evaluations": len(reports),
        # peer.yaml ranks by full-depth STS-dev alone, so the sweep's winner is the completed trial with
        # the highest report of it (one that ended itself on patience included)
        "best_sts_dev": float(reports.loc[reports["status"] == "completed", OBJECTIVE].max()),
        "best_last_of_full_runs": float(full_runs[OBJECTIVE].max()) if len(full_runs) else float("nan"),
    }


def _config_words(params: dict, state: str, steps: int) -> str:
    values = " ".join(f"{key}={float(value):.3g}" for key, value in params.items())
    return f"{values} {state} at {steps}"

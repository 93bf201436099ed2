"""Writes this folder: a tiny Ray Tune experiment run with the installed Ray, so that ``tests/test_internals.py``
reads files Ray wrote rather than ones made to look like them. After a Ray upgrade, rerun it into an empty
folder and compare what the reader makes of both:

    python tests/data/tune_state_ray_2_60/make_experiment.py /tmp/tune-state

Three trials of two reports each, reported as the sweep's trainable reports; the third raises after its first
report, is started again once (``max_failures=1``), raises again and ends in ERROR with two failures. Copied
here: the experiment state and each trial's result.json and error.txt, not Ray's pickle files (the reader
never opens them). Two edits keep this machine out of the copy: a value of the state that names one of its
folders (the storage, the session folder, the checkout; all inside Ray's pickles) is left out, and the
tracebacks in error.txt name the checkout ``<repo>`` and the installed packages ``<site-packages>``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def trainable(config: dict) -> None:
    from ray import tune

    for step in (1, 2):
        score = config["kl_temperature"] / 10 + step / 100
        tune.report({"step": step, "total_steps": 2, "sts_dev_spearman_cosine": score, "completed": step == 2})
        if config["kl_temperature"] > 1.5:
            raise RuntimeError("the third trial fails after its first report")


def _without(values: dict[str, Any], folders: list[str]) -> dict[str, Any]:
    """``values`` less those naming one of ``folders``, in plain text or inside a pickle's hex."""
    marks = [mark for folder in folders for mark in (folder, folder.encode().hex())]
    return {key: value for key, value in values.items() if not any(mark in json.dumps(value) for mark in marks)}


def copy_state(source: Path, target: Path, folders: list[str]) -> None:
    state = json.loads(source.read_text())
    state["runner_data"] = _without(state["runner_data"], folders)
    state["trial_data"] = [
        [json.dumps(_without(json.loads(part), folders)) for part in trial] for trial in state["trial_data"]
    ]
    target.write_text(json.dumps(state))


def main(storage: Path) -> None:
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"  # result.json only: no tensorboardX, no torch
    os.environ["RAY_TMPDIR"] = session = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths
    import ray
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR")
    tuner = tune.Tuner(
        trainable,
        param_space={"kl_temperature": tune.grid_search([0.3, 1.0, 2.0])},
        tune_config=tune.TuneConfig(trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}"),
        run_config=tune.RunConfig(
            name="experiment",
            storage_path=str(storage),
            callbacks=[JsonLoggerCallback()],
            failure_config=tune.FailureConfig(max_failures=1),
            verbose=0,
        ),
    )
    tuner.fit()
    ray.shutdown()
    shutil.rmtree(session, ignore_errors=True)
    experiment = storage / "experiment"
    site_packages = sysconfig.get_paths()["purelib"]
    folders = [str(storage), session, str(REPO), site_packages, str(Path(site_packages).resolve())]
    for path in experiment.glob("experiment_state-*.json"):
        copy_state(path, HERE / path.name, folders)
    for trial in experiment.glob("trial_*"):
        (HERE / trial.name).mkdir(exist_ok=True)
        shutil.copy(trial / "result.json", HERE / trial.name / "result.json")
        if (trial / "error.txt").is_file():
            text = (trial / "error.txt").read_text()
            for folder, name in ((site_packages, "<site-packages>"), (str(REPO), "<repo>")):
                text = text.replace(folder, name)
            (HERE / trial.name / "error.txt").write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Reading Ray's experiment folder as JSON, on folders written the way Ray writes them."""

from __future__ import annotations

import json

from sweep.results import read_results
from sweep.search_space import reference_point
from sweep.storage import Folder
from sweep.tune_state import read_records
from trainables.train_config import TrainConfig


def _trial(trial_id: str, status: str, tag: int, error_file: str | None = None, failures: int = 0) -> list[str]:
    state = {
        "trial_id": trial_id,
        "status": status,
        "config": reference_point(TrainConfig().model_dump()),
        "relative_logdir": f"trial_{trial_id}",
        "experiment_tag": f"{tag}_kl_temperature=0.3",
        "storage": {"_type": "CLOUDPICKLE_FALLBACK", "value": "80054e2e"},  # stays a string: never unpickled
    }
    runtime = {"num_failures": failures, "error_filename": error_file}
    return [json.dumps(state), json.dumps(runtime)]


def _rows(folder, trial_id, steps, completed_at=None, total=12, scores=None):
    path = folder / f"trial_{trial_id}"
    path.mkdir()
    scores = scores or [0.5 + s / 100 for s in steps]
    lines = [
        {"step": s, "total_steps": total, "sts_dev_spearman_cosine": v, "completed": s == completed_at}
        for s, v in zip(steps, scores, strict=True)
    ]
    (path / "result.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_statuses_retries_and_errors_come_from_the_json_state(tmp_path):
    trials = [
        _trial("done", "TERMINATED", 1),
        _trial("cut", "TERMINATED", 2),
        _trial("late", "RUNNING", 3),  # finished after Ray last saved its state
        _trial("live", "RUNNING", 4),
        _trial("broke", "ERROR", 5, error_file="error.txt", failures=2),
    ]
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": trials}))
    _rows(tmp_path, "done", [4, 8, 12], completed_at=12)
    _rows(tmp_path, "cut", [4])
    _rows(tmp_path, "late", [4, 8, 12], completed_at=12)
    _rows(tmp_path, "live", [4])
    broke = _rows(tmp_path, "broke", [4, 1])  # a retry starts again from step 1
    (broke / "error.txt").write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")

    records = {r.trial_id: r for r in read_records(Folder(tmp_path))}
    assert records["late"].status == "TERMINATED"
    assert records["live"].status == "RUNNING"
    assert records["broke"].num_failures == 2 and "out of memory" in records["broke"].error

    table, reports = read_results(Folder(tmp_path), superseded=["live"])
    by_id = table.set_index("trial_id")
    assert list(table["trial_id"]) == ["done", "cut", "late", "broke"]
    assert by_id.loc["done", "status"] == "completed" and by_id.loc["late", "status"] == "completed"
    assert by_id.loc["cut", "status"] == "pruned"
    assert by_id.loc["broke", "status"] == "errored" and by_id.loc["broke", "attempts"] == 3
    assert by_id.loc["broke", "error"] == "RuntimeError: CUDA out of memory"
    assert list(reports[reports["trial_id"] == "broke"]["step"]) == [1]  # only the last attempt's rows

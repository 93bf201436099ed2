"""Reading Ray's experiment folder as JSON, on folders written the way Ray writes them."""

from __future__ import annotations

import json

from sweep.store.files import Folder
from sweep.store.frames import read_results
from sweep.store.tune_state import read_records

from .conftest import result_rows, trial_state


def test_statuses_retries_and_errors_come_from_the_json_state(tmp_path):
    trials = [
        trial_state("done", "TERMINATED", 1),
        trial_state("cut", "TERMINATED", 2),
        trial_state("late", "RUNNING", 3),  # finished after Ray last saved its state
        trial_state("live", "RUNNING", 4),
        trial_state("broke", "ERROR", 5, error_file="error.txt", failures=2),
    ]
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": trials}))
    result_rows(tmp_path, "done", [4, 8, 12], completed_at=12)
    result_rows(tmp_path, "cut", [4])
    result_rows(tmp_path, "late", [4, 8, 12], completed_at=12)
    result_rows(tmp_path, "live", [4])
    broke = result_rows(tmp_path, "broke", [4, 1])  # a retry starts again from step 1
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

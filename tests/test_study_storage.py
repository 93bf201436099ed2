"""Where the Optuna study is kept (``search.storage``, ``search.study_name``), and what a resume does with
the trials a crash left running in it."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep.config.experiment import load_config
from sweep.config.study import redacted
from sweep.store.files import Folder
from sweep.store.folder import STUDY_FILE, ExperimentFolder
from sweep.tuning.searcher import build_searcher
from sweep.tuning.space import param_space
from sweep.tuning.study import RAY_TRIAL_ID, open_storage, study_exists, study_storage
from sweep.workflow.resume import plan_resume, settle_interrupted
from trainables.errors import InputError
from trainables.metrics import OBJECTIVE

from .conftest import SMOKE, result_rows, trial_state


def test_relative_journal_and_sqlite_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    journal = load_config(SMOKE, ["search.storage=studies/sweep.journal"]).search.resolved()
    assert journal.storage == str(tmp_path / "studies" / "sweep.journal")
    sqlite = load_config(SMOKE, ["search.storage=sqlite:///studies.db"]).search.resolved()
    assert sqlite.storage == f"sqlite:///{tmp_path / 'studies.db'}"
    assert load_config(SMOKE, ["search.storage=sqlite:////abs/s.db"]).search.resolved().storage == "sqlite:////abs/s.db"
    assert load_config(SMOKE).search.resolved().storage is None  # the folder's journal, decided with the folder


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("postgresql://sweeper:hunter2@db.example/sweeps", "carries a password"),
        ("postgresql://sweeper@db.example/sweeps?password=hunter2", "carries a password"),
        ("", "search.storage: empty"),
    ],
)
def test_a_storage_that_cannot_be_written_down_is_refused_without_echoing_its_secret(storage, message):
    with pytest.raises(InputError, match=message) as refused:
        load_config(SMOKE, [f"search.storage='{storage}'"])
    assert "hunter2" not in str(refused.value)


def test_a_study_name_must_be_a_plain_name():
    with pytest.raises(InputError, match="search.study_name: String should match pattern"):
        load_config(SMOKE, ["search.study_name='a b/c'"])


def test_storages_that_cannot_be_opened_name_the_key_and_why(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(InputError, match="search.storage: cannot write the journal"):
        open_storage(str(tmp_path / "a_file" / "study.journal"))
    with pytest.raises(InputError, match="is a folder; give a journal file path"):
        open_storage(str(tmp_path))
    with pytest.raises(InputError, match="needs the database driver psycopg.*, not installed"):
        open_storage("postgresql://sweeper@127.0.0.1:9/sweeps")
    with pytest.raises(InputError, match=r"cannot open nosuchdb://x \(Can't load plugin"):
        open_storage("nosuchdb://x")


def test_a_database_url_is_a_storage_and_shows_no_password(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'studies.db'}")
    optuna.create_study(storage=storage, study_name="kept")
    assert study_exists(storage, "kept") and not study_exists(storage, "other")
    assert redacted("postgresql://u:hunter2@h/db") == "postgresql://u:***@h/db"


def test_the_study_lives_in_the_folders_journal_unless_storage_names_one_and_in_memory_behind_a_uri(tmp_path):
    folder = ExperimentFolder(tmp_path)
    journal = folder.study_journal()
    assert journal == tmp_path / STUDY_FILE
    assert isinstance(study_storage(None, journal, str(tmp_path)), optuna.storages.JournalStorage)
    assert journal.is_file()
    elsewhere = study_storage(str(tmp_path / "other.journal"), journal, str(tmp_path))
    assert isinstance(elsewhere, optuna.storages.JournalStorage) and (tmp_path / "other.journal").is_file()
    assert ExperimentFolder(Folder("mock:///bucket/sweeps/run")).study_journal() is None
    assert study_storage(None, None, "s3://bucket/sweeps/run") is None


def _crashed(tmp_path: Path, reference: dict) -> None:
    """Ray's record of a sweep killed with one trial finished, one errored and one running."""
    trials = [trial_state("done", "TERMINATED", 1), trial_state("broke", "ERROR", 2), trial_state("cut", "RUNNING", 3)]
    for entry in trials:
        state = json.loads(entry[0])
        state["config"] = dict(reference)
        entry[0] = json.dumps(state)
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": trials}))
    result_rows(tmp_path, "done", [4, 8, 12], completed_at=12, scores=[0.60, 0.66, 0.63])
    result_rows(tmp_path, "broke", [4])
    result_rows(tmp_path, "cut", [4])


def test_a_resume_goes_on_with_the_stored_study_settling_what_the_crash_left_running(tmp_path):
    config = load_config(SMOKE, ["search.num_samples=5", "search.study_name=crashed"])
    storage = open_storage(str(tmp_path / STUDY_FILE))
    space = param_space(config.space, config.reference)
    # 1. The sweep before the crash: three trials proposed; Ray recorded "done" finished, but the driver
    #    died before it was told, and before "cut" ended.
    before = build_searcher(config, storage=storage).searcher  # past the concurrency limit: three at once
    before.set_search_properties(OBJECTIVE, "max", space)
    for trial_id in ("done", "broke", "cut"):
        before.suggest(trial_id)
        before.on_trial_result(trial_id, {OBJECTIVE: 0.6, "training_iteration": 1, "step": 4})
    before.on_trial_complete("broke", None, error=True)
    _crashed(tmp_path, config.reference)

    # 2. The resume: the stored study is settled, nothing is replayed into it, the cut config runs again.
    plan = plan_resume(Folder(tmp_path), config, superseded=[], stored=True)
    assert (plan.kept, plan.left, plan.warmstart.evaluated, len(plan.warmstart.rerun)) == (2, 3, [], 1)
    study = optuna.load_study(study_name="crashed", storage=storage)
    assert settle_interrupted(study, plan.outcomes) == [2]
    after = build_searcher(config, plan.warmstart, storage).searcher
    after.set_search_properties(OBJECTIVE, "max", space)
    after.suggest("rerun")

    assert optuna.get_all_study_names(storage) == ["crashed"]  # the same study, not a second one
    trials = {t.user_attrs[RAY_TRIAL_ID]: t for t in optuna.load_study(study_name="crashed", storage=storage).trials}
    assert list(trials) == ["done", "broke", "cut", "rerun"]
    assert (trials["done"].state, trials["done"].value) == (TrialState.COMPLETE, 0.66)  # its best report
    assert (trials["broke"].state, trials["cut"].state) == (TrialState.FAIL, TrialState.FAIL)
    assert trials["rerun"].state == TrialState.RUNNING and trials["rerun"].params == plan.warmstart.rerun[0]

"""What could only fail once Ray has started is checked before it starts: where the experiment folder
goes (read-only, under a file, a name too long for the file system), Ray's own temporary folder
(read-only, too long for its sockets), and the cluster named (an empty ``--address``, a ``RAY_ADDRESS``
where nothing answers). Each is exit status 2 and one line, with no Ray started and nothing written."""

from __future__ import annotations

import pytest
import ray

from sweep.cli import main

from .conftest import SMOKE, own_output
from .fault_injection import READ_ONLY_FIX, READ_ONLY_REASON, read_only, small_disk


@pytest.fixture
def no_ray_start(monkeypatch):
    """Ray must not start: the checks come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started before the check")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def _run(capsys, *argv: str) -> str:
    code = main(["run", str(SMOKE), *argv])
    err = own_output(capsys).err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("sweep: error: "), err
    return err.removeprefix("sweep: error: ").rstrip("\n")


def test_a_results_folder_under_a_file_is_refused(no_ray_start, capsys):
    line = _run(capsys, "--results-dir", "/dev/null/results")
    assert line == "results_dir: /dev/null/results is under /dev/null, a file; give a folder"


def test_a_read_only_results_folder_is_refused(no_ray_start, capsys, tmp_path):
    with read_only(tmp_path / "ro") as folder:
        line = _run(capsys, "--results-dir", str(folder / "results"))
    assert line == (
        f"results_dir: {folder}/results: cannot write there (in {folder}, where it would be made): {READ_ONLY_REASON}; "
        f"{READ_ONLY_FIX}, then run the command again"
    )


def test_an_experiment_name_too_long_for_the_file_system_is_refused(no_ray_start, capsys, tmp_path):
    line = _run(capsys, "--results-dir", str(tmp_path), "--set", f"name={'a' * 250}")
    assert line.startswith("name: the experiment folder's name (" + "a" * 250 + "-")
    assert line.endswith(") is 269 bytes, more than the 255 its file system allows; give a shorter one")
    assert list(tmp_path.iterdir()) == []


def test_a_results_folder_name_too_long_is_refused(no_ray_start, capsys, tmp_path):
    line = _run(capsys, "--results-dir", str(tmp_path / ("r" * 300)))
    assert (
        line == f"results_dir: {'r' * 300} is 300 bytes, more than the 255 its file system allows; give a shorter one"
    )


def test_a_read_only_ray_tmpdir_is_refused(no_ray_start, capsys, tmp_path, monkeypatch):
    with read_only(tmp_path / "ray-tmp") as folder:
        monkeypatch.setenv("RAY_TMPDIR", str(folder))
        line = _run(capsys, "--results-dir", str(tmp_path / "results"))
    assert line == (
        f"RAY_TMPDIR: {folder}: cannot write there: {READ_ONLY_REASON}; {READ_ONLY_FIX}, "
        "then run the command again (or set RAY_TMPDIR)"
    )
    assert not (tmp_path / "results").exists()


def test_a_ray_tmpdir_too_long_for_rays_sockets_is_refused(no_ray_start, capsys, tmp_path, monkeypatch):
    folder = tmp_path / ("t" * 60)
    folder.mkdir()
    monkeypatch.setenv("RAY_TMPDIR", str(folder))
    line = _run(capsys, "--results-dir", str(tmp_path / "results"))
    assert line.startswith(f"RAY_TMPDIR: {folder} is too long for Ray's sockets under it (")
    assert line.endswith("give a folder path of at most 39 bytes")


def test_an_empty_address_is_refused_rather_than_run_here(no_ray_start, capsys, tmp_path):
    line = _run(capsys, "--results-dir", str(tmp_path), "--address", "")
    assert line == (
        "--address '': empty (an unset shell variable?); give auto, HOST:PORT, ray://HOST:PORT or "
        "http://HOST:8265, or leave it out to start Ray here"
    )


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("http://127.0.0.1:9", "RAY_ADDRESS http://127.0.0.1:9: no Ray job API answers there ("),
        ("127.0.0.1:9", "RAY_ADDRESS 127.0.0.1:9: nothing answers at 127.0.0.1:9 (Connection refused)"),
    ],
)
def test_a_ray_address_where_nothing_answers_is_one_line(no_ray_start, capsys, tmp_path, monkeypatch, address, said):
    monkeypatch.setenv("RAY_ADDRESS", address)
    assert _run(capsys, "--results-dir", str(tmp_path)).startswith(said)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_results_dir_is_refused_rather_than_the_configs_used(no_ray_start, capsys):
    line = _run(capsys, "--results-dir", "")
    assert line == (
        "--results-dir '': empty (an unset shell variable?); give a folder or a URI, or leave it out for the "
        "config's results_dir"
    )


def test_a_results_folder_on_a_disk_with_no_room_is_refused(no_ray_start, capsys, tmp_path):
    with small_disk(tmp_path / "disk", 1024) as disk:
        line = _run(capsys, "--results-dir", str(disk / "results"))
    assert line == (
        f"results_dir: {disk}/results: 1024 KiB free on its file system, less than the smallest sweep writes "
        "(4 MiB); free some space, then run the command again"
    )

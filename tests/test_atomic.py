"""Files written whole (temporary name, then rename) get the modes of any new file: 0o666 and 0o777 less
the user's umask, so that under ``umask 002`` a team's group can read a report and load best_model/."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sweep.store.atomic import write_text

from .conftest import ROOT

# An experiment folder's files as the sweep writes them, in a process of its own: the umask belongs to the
# whole process, and the test's own (with a local Ray's threads) is left alone.
WRITER = """
import json, os, stat, sys
from pathlib import Path
os.umask(int(sys.argv[2], 8))
import pandas as pd
from sweep.store.files import Folder
folder = Folder(sys.argv[1])
folder.write_json("report.json", {"a": 1})
folder.write_parquet("trials.parquet", pd.DataFrame({"a": [1]}))
folder.write_bytes("depths.png", b"png")
folder.replace_folder("best_model", {"config.json": b"{}", "1_Pooling/config.json": b"{}"})
root = Path(sys.argv[1])
names = ["report.json", "trials.parquet", "depths.png", "best_model", "best_model/config.json",
         "best_model/1_Pooling", "best_model/1_Pooling/config.json"]
print(json.dumps({name: oct(stat.S_IMODE((root / name).stat().st_mode)) for name in names}))
"""


@pytest.mark.parametrize(
    ("umask", "file_mode", "folder_mode"),
    [("002", "0o664", "0o775"), ("022", "0o644", "0o755"), ("077", "0o600", "0o700")],
)
def test_reports_frames_plots_and_best_model_get_the_users_umask(tmp_path, umask, file_mode, folder_mode):
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path), umask], capture_output=True, text=True, cwd=ROOT, check=True
    )
    modes = json.loads(done.stdout)
    folders = {"best_model", "best_model/1_Pooling"}
    assert modes == {name: folder_mode if name in folders else file_mode for name in modes}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_model", "depths.png", "report.json", "trials.parquet"]


def test_a_rewrite_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "sub" / "report.json"
    write_text(target, "first")
    write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]

"""Progress reaches the terminal's stderr, never an executed page; logs get lines, not redraws."""

import io
import json
import subprocess
import sys

import pytest
import yaml

from vaecore import progress
from vaecore.errors import VaecoreError


def test_lines_mode_writes_each_redraw_as_a_line(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress, "_terminal", lambda: stream)
    monkeypatch.setenv("VAECORE_PROGRESS", "lines")
    with progress.progress_bar(total=3, desc="work", unit="step") as bar:
        for _ in range(3):
            bar.update()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and lines and all("work" in line for line in lines)
    assert "3/3" in lines[-1]


def test_off_and_disabled_write_nothing(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress, "_terminal", lambda: stream)
    for mode, enabled in (("off", True), ("bar", False)):
        monkeypatch.setenv("VAECORE_PROGRESS", mode)
        with progress.progress_bar(total=2, desc="work", unit="step", enabled=enabled) as bar:
            bar.update(2)
    assert stream.getvalue() == ""


def test_an_unknown_mode_is_named(monkeypatch):
    monkeypatch.setenv("VAECORE_PROGRESS", "loud")
    with pytest.raises(VaecoreError, match="VAECORE_PROGRESS .* 'loud'"):
        progress.progress_bar(total=1, desc="work", unit="step")


def test_a_run_folder_reports_its_latest_epoch(tmp_path):
    assert progress.read_epoch(tmp_path) is None
    progress.report_epoch(tmp_path, 3, 10, 150.5, 151.25)
    assert progress.read_epoch(tmp_path) == {"epoch": 3, "epochs": 10, "train": 150.5, "test": 151.25}


@pytest.mark.slow
def test_papermill_rerun_shows_epochs_on_its_stderr_and_none_in_the_page(repo_root, data_root, tmp_path):
    params = tmp_path / "tiny.yaml"
    values = yaml.safe_load((repo_root / "params" / "smoke.yaml").read_text())
    params.write_text(yaml.safe_dump(values | {"epochs": 3, "train_size": 500, "test_size": 100, "iwae_k": 4}))
    page = tmp_path / "page.ipynb"
    env = {"VAECORE_DATA": str(data_root), "VAECORE_RUNS": str(tmp_path / "runs"), "VAECORE_PROGRESS": "lines",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "papermill", str(repo_root / "book" / "experiment.ipynb"), str(page),
                           "-f", str(params), "--cwd", str(repo_root / "book")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3/3" in done.stderr and "epoch" in done.stderr and "IWAE" in done.stderr
    outputs = json.dumps([cell.get("outputs", []) for cell in json.loads(page.read_text())["cells"]])
    assert "epoch/s" not in outputs and "s/epoch" not in outputs and "IWAE, k" not in outputs

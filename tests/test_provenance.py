"""Provenance: the commit a result came from, and the hardware in words."""

import shutil
import subprocess
from pathlib import Path

import pytest

from vaecore import provenance
from vaecore.timings import cpu_words


def test_commit_is_the_checkouts_head(monkeypatch):
    monkeypatch.delenv("VAECORE_COMMIT", raising=False)
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(provenance.__file__).parent,
                          capture_output=True, text=True)
    if head.returncode:
        pytest.skip("vaecore is not in a git checkout here")
    assert provenance.commit().removesuffix("+dirty") == head.stdout.strip()


def test_a_copy_of_the_tree_names_its_commit_in_the_environment(monkeypatch):
    """A copy sent to another machine may lack .git, or carry an older one: $VAECORE_COMMIT wins."""
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setenv("VAECORE_COMMIT", "f0fb3da5c475")
    assert provenance.commit() == "f0fb3da5c475"
    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    assert provenance.commit() == "f0fb3da5c475"
    monkeypatch.delenv("VAECORE_COMMIT")
    assert provenance.commit() == "unknown"


def test_describe_names_the_gpu_else_the_cpu_threads():
    assert provenance.describe({"cpu": "AMD EPYC", "threads": 1, "gpu": "NVIDIA H200"}) == "NVIDIA H200"
    assert provenance.describe({"cpu": "AMD EPYC", "threads": 1}) == "AMD EPYC (1 CPU thread)"
    assert provenance.describe({"cpu": "AMD EPYC", "threads": 2}) == "AMD EPYC (2 CPU threads)"
    assert (provenance.describe({"cpu": "AMD EPYC", "threads": 1, "threads_raised_to": 2})
            == "AMD EPYC (1 CPU thread, 2 for its last epochs)")


def test_machine_names_the_slurm_job_it_ran_in_and_nothing_outside_slurm(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert provenance.machine()["slurm_job"] == "4242"
    monkeypatch.delenv("SLURM_JOB_ID")
    assert "slurm_job" not in provenance.machine()


def test_a_book_build_is_dirty_where_anything_the_repository_tracks_changed(monkeypatch, tmp_path):
    """A run's stamp looks at the code (vaecore/); a book build's at the whole repository, where a
    changed page or run outside the package makes it +dirty."""
    import build_stamp

    def git(args, cwd=None, **kwargs):
        if args[1] == "rev-parse":
            return subprocess.CompletedProcess(args, 0, stdout="abcdef123456\n")
        return subprocess.CompletedProcess(args, 0, stdout=" M book/results.ipynb\n" if cwd == tmp_path else "")

    monkeypatch.delenv("VAECORE_COMMIT", raising=False)
    monkeypatch.setattr(subprocess, "run", git)
    assert provenance.commit() == "abcdef123456"
    assert build_stamp.built_from(tmp_path) == "abcdef123456+dirty"


def test_a_processor_is_named_without_its_trademark_signs_in_the_cost_tables():
    assert cpu_words("Intel(R) Xeon(R) Processor") == "Intel Xeon Processor"
    assert cpu_words("Intel(R) Core(TM) i7-8700 CPU") == "Intel Core i7-8700 CPU"

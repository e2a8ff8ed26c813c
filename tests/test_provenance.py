"""Provenance: the commit a result came from, and the hardware in words."""

import shutil
import subprocess
from pathlib import Path

import pytest

from vaecore import provenance


def test_commit_is_the_checkouts_head():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(provenance.__file__).parent,
                          capture_output=True, text=True)
    if head.returncode:
        pytest.skip("vaecore is not in a git checkout here")
    assert provenance.commit().removesuffix("+dirty") == head.stdout.strip()


def test_outside_a_checkout_the_commit_comes_from_the_environment(monkeypatch):
    """A copy of the tree sent to another machine has no .git: it names the commit it was copied from."""
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    monkeypatch.delenv("VAECORE_COMMIT", raising=False)
    assert provenance.commit() == "unknown"
    monkeypatch.setenv("VAECORE_COMMIT", "2cd044a23b1f")
    assert provenance.commit() == "2cd044a23b1f"


def test_describe_names_the_gpu_else_the_cpu_threads():
    assert provenance.describe({"cpu": "AMD EPYC", "threads": 1, "gpu": "NVIDIA H200"}) == "NVIDIA H200"
    assert provenance.describe({"cpu": "AMD EPYC", "threads": 1}) == "AMD EPYC (1 CPU thread(s))"

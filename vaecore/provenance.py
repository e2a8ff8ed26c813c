"""Where a result came from: the code's commit and the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch


def commit() -> str:
    """The git commit of the vaecore checkout, ``+dirty`` if it has uncommitted changes.

    ``$VAECORE_COMMIT``, where set, names it instead: a copy of the tree sent to another
    machine may have no git metadata, or metadata older than its files. ``"unknown"``
    where neither tells.
    """
    if os.environ.get("VAECORE_COMMIT"):
        return os.environ["VAECORE_COMMIT"]
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "."], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine(device: torch.device | str = "cpu") -> dict:
    """A short description of the hardware a run used, and the Slurm job it ran in, if any."""
    device = torch.device(device)
    info = {"platform": platform.platform(), "cpu": cpu_name(),
            "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    if os.environ.get("SLURM_JOB_ID"):  # set by Slurm in every job's processes; `sacct` may be off
        info["slurm_job"] = os.environ["SLURM_JOB_ID"]
    return info


def cpu_name() -> str:
    """The processor's model name where Linux tells it, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def describe(info: dict) -> str:
    """A run's ``machine`` record in words: the GPU, else the processor and the threads used."""
    threads = info["threads"]
    words = f"{threads} CPU thread{'' if threads == 1 else 's'}"
    if "threads_raised_to" in info:  # given a finished sweep worker's cores (vaecore.sweep.share_idle_cores)
        words += f", {info['threads_raised_to']} for its last epochs"
    return info.get("gpu") or f"{info['cpu']} ({words})"

"""Will a run fit in memory? An estimate made before any work, so that too big a config fails at once."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import resource
from pathlib import Path

import torch

from vaecore.config import Config, ConfigError
from vaecore.data import PIXELS, images

FLOAT = 4  # bytes
IWAE_ROWS = 2**21 // PIXELS  # (sample, image) rows of one IWAE pass: see vaecore.evaluate.iwae_nll
EVAL_BATCH = 2000  # images per pass of vaecore.evaluate.elbo
SHRINK = {"n": 1, "hidden": (1,), "batch_size": 1, "train_size": 1, "test_size": 1}  # the keys that cost memory


def needed_bytes(config: Config) -> int:
    """About the most memory a run of ``config`` holds at once, in bytes.

    The weights with their gradients, Adam's two moments and a checkpoint's copy; the data;
    and the largest of a training batch's activations (kept for the backward pass), an
    evaluation batch and one IWAE pass.
    """
    encoder = [PIXELS, *config.hidden, 2 * config.n]
    decoder = [config.n, *reversed(config.hidden), PIXELS]
    params = sum(a * b + b for layers in (encoder, decoder) for a, b in zip(layers, layers[1:]))
    width = sum(encoder) + sum(decoder)  # floats per image through both MLPs
    train, test = images(config.train_size, train=True), images(config.test_size, train=False)
    data = (train + test) * PIXELS * (FLOAT + 1)  # floats, and torchvision's bytes while loading
    step = max(3 * min(config.batch_size, train), 2 * min(EVAL_BATCH, test), 2 * IWAE_ROWS) * width
    return 7 * params * FLOAT + data + step * FLOAT


def available(config: Config) -> tuple[int, str]:
    """The most memory in bytes a run of ``config`` can have, and what sets it, in words.

    On a GPU, its memory. On the CPU, the least of the machine's memory, this process's
    cgroup limit (:func:`cgroup_limit`; exceeding it gets the process killed without a word)
    and what its address-space and data rlimits leave (exceeding them fails an allocation).
    """
    if config.device == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory, "the GPU has"
    limits = [(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "this machine has")]
    if (cgroup := cgroup_limit()) is not None:
        limits.append((cgroup, "this process's cgroup allows"))
    for name, used in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        soft = resource.getrlimit(getattr(resource, name))[0]
        if soft != resource.RLIM_INFINITY:
            limits.append((max(0, soft - _status_bytes(used)), f"this process's {name} leaves"))
    return min(limits)


def cgroup_limit(proc: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The smallest memory limit in bytes of this process's cgroup and its ancestors, if any.

    cgroup v2's ``memory.max`` (mounted at ``root``, or at ``root/unified`` beside v1) and
    v1's ``memory.limit_in_bytes`` (at ``root/memory``); "max" and v1's huge default mean none.
    """
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    files = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            files += [(base, Path(path), "memory.max") for base in (root, root / "unified")]
        elif "memory" in controllers.split(","):
            files.append((root / "memory", Path(path), "memory.limit_in_bytes"))
    limits = []
    for base, path, name in files:
        for folder in (path, *path.parents):  # an ancestor's limit holds too
            try:
                text = (base / folder.relative_to("/") / name).read_text().strip()
            except (OSError, ValueError):
                continue
            if text.isdigit() and int(text) < 2**62:  # v1 writes "no limit" as about 2**63
                limits.append(int(text))
    return min(limits, default=None)


def _status_bytes(key: str) -> int:
    """A size in ``/proc/self/status`` (``VmSize``: the address space mapped now), in bytes; 0 if unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def check_fits(config: Config) -> None:
    """Raise :class:`ConfigError` naming the key to shrink if ``config`` cannot fit in memory.

    The key named is the one whose smallest value would make the run fit, else the one
    whose smallest value saves the most.
    """
    need, (have, where) = needed_bytes(config), available(config)
    if need <= have:
        return
    smaller = {key: needed_bytes(dataclasses.replace(config, **{key: value})) for key, value in SHRINK.items()}
    fits = [key for key in SHRINK if smaller[key] <= have]
    key = fits[0] if fits else min(smaller, key=smaller.get)
    value = getattr(config, key)
    raise ConfigError(f"config key {key!r} ({_short(value)}) makes the run need {_gib(need)} of memory, "
                      f"but {where} {have / 2**30:,.{1 if have < 10 * 2**30 else 0}f} GiB; make it smaller")


def _gib(size: int) -> str:
    gib = size / 2**30 if size < 2**80 else float("inf")  # a huge n overflows a float
    return f"about {gib:,.0f} GiB" if gib < 1e6 else "over a million GiB"


def _short(value: object) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def reuse_freed_blocks() -> None:
    """Have glibc keep freed blocks of up to 32 MiB for reuse instead of returning them to the OS.

    Otherwise each temporary of a few hundred kB or more (a batch's activations, an IWAE pass's
    6 MB logits) is mapped afresh and faulted in page by page: two training runs sharing a
    2-core machine spent 30% of it in the kernel (225,000 page faults a second, 160 with this),
    and the IWAE estimate a fifth of its time. Process-wide; a no-op where libc is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: blocks below it come from the heap
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: free heap kept up to 1 GiB

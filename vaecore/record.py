"""A sweep's timing record: its wall clock beside the matmul floor of what it ran, written as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from vaecore.cost import matmul_gflops
from vaecore.folder import write_atomically
from vaecore.provenance import commit
from vaecore.train import resolve_device


def write_record(path: Path, timing: dict, flops: int, device: str | None) -> None:
    """Write ``timing`` (wall-clock and per-configuration minutes, the cluster, the machine) to
    ``path`` atomically, with the commit and the matmul floor of the configurations that finished:
    their ``flops`` at the matmul speed measured now, on the device's idle cores."""
    wall, finished = timing["wall_minutes"], len(timing["minutes"])
    if flops:
        ceiling = matmul_gflops(resolve_device(device or "cpu"))
        floor = flops / ceiling / 1e9 / 60
        print(f"matmul floor of the {finished} configurations that finished: {floor:.1f} min at "
              f"{ceiling:.0f} GFLOP/s; the sweep took {wall / floor:.2f} times that")
        timing = timing | {"floor_minutes": floor, "wall_over_floor": wall / floor, "matmul_gflops": ceiling,
                           "flops": flops}
    else:
        print("no configuration finished: the record has no matmul floor")
    timing = timing | {"commit": commit()}
    write_atomically(path, lambda file: file.write(json.dumps(timing, indent=1).encode()))

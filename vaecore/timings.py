"""The book's tables of what the runs and sweeps cost, from their own records: the runs' timings,
the sweeps' records (``vaecore sweep --record``) and the benchmarks (``vaecore bench --json``)."""

from __future__ import annotations

import heapq
import json
import re
from pathlib import Path

from vaecore.config import Config
from vaecore.cost import IWAE_PROFILE, PROFILE, run_cost
from vaecore.runs import table1_runs
from vaecore.words import counted, markdown_row


def cpu_words(name: str) -> str:
    """A processor's model name as prose writes it: without the (R) and (TM) marks of /proc/cpuinfo
    ("Intel(R) Xeon(R) Processor" is "Intel Xeon Processor")."""
    return " ".join(re.sub(r"\((?:R|TM|tm)\)", "", name).split())


def makespan(minutes: list[float], workers: int) -> float:
    """Wall-clock of jobs started in the given order, each on the first free worker, as
    ``vaecore sweep`` starts them."""
    free = [0.0] * workers  # a min-heap of the times the workers come free
    for job in minutes:
        heapq.heapreplace(free, free[0] + job)
    return max(free)


def cost(runs: dict[str, dict]) -> dict[str, float | int | str]:
    """What the Table 1 runs cost, from their own timings.

    Returns:
        Runs, epochs, training and evaluation minutes in all, seconds per epoch, the machine,
        the workers that fit it at the runs' threads, and ``sweep_minutes``: the wall-clock of
        those runs as one sweep with that many workers, the longest (by matrix FLOPs) first.
    """
    table = table1_runs(runs)
    train = sum(m["train_seconds"] for m in table.values()) / 60
    evaluation = sum(m["eval_seconds"] for m in table.values()) / 60
    epochs = sum(len(m["history"]["epoch"]) for m in table.values())
    machines = {(m["machine"]["cpu"], m["machine"]["cores"], m["machine"]["threads"]) for m in table.values()}
    workers = min(cores // threads for _, cores, threads in machines) if machines else 1
    # as vaecore sweep starts them: the most matrix FLOPs first, in the order of the names among equals
    order = sorted(sorted(table), key=lambda name: -run_cost(Config.from_dict(table[name]["config"])))
    jobs = [(table[name]["train_seconds"] + table[name]["eval_seconds"]) / 60 for name in order]
    return {"runs": len(table), "epochs": epochs, "train_minutes": train, "eval_minutes": evaluation,
            "epoch_seconds": 60 * train / max(epochs, 1), "workers": workers,
            "sweep_minutes": makespan(jobs, workers),
            "machine": "; ".join(f"{cpu_words(cpu)}, {cores} cores, {counted(threads, 'thread')} per run"
                                 for cpu, cores, threads in sorted(machines))}


def total(runs: dict[str, dict]) -> dict[str, float | int]:
    """What every run of ``runs`` cost, each run's own time summed (not the wall clock of its sweep).

    Returns:
        ``runs``, ``train_hours`` and ``eval_hours``, and ``threads``: the most CPU threads a run used.
    """
    return {"runs": len(runs), "train_hours": sum(m["train_seconds"] for m in runs.values()) / 3600,
            "eval_hours": sum(m["eval_seconds"] for m in runs.values()) / 3600,
            "threads": max((m["machine"]["threads"] for m in runs.values()), default=0)}


def sweeps_table(records: dict[str, str | Path]) -> str:
    """The sweeps timed as one command (``vaecore sweep --record``), one row per record.

    Args:
        records: a label for each record (``"CPU"``, ``"GPU"``) and its path; missing
            records are left out.

    Returns:
        A markdown table: the hardware, how many configurations ran at once with how many
        threads each, the wall-clock minutes, the matmul floor of the same configurations in
        minutes and the ratio of the two where the record has them, and the code version that ran them.
    """
    lines = [markdown_row(["sweep", "hardware", "at once", "threads", "minutes", "floor", "ratio", "version"]),
             markdown_row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---"])]
    for label, path in records.items():
        path = Path(path)
        if not path.exists():
            continue
        timing = json.loads(path.read_text())
        machine = timing["machine"]
        where = machine.get("gpu") or f"{cpu_words(machine['cpu'])}, {machine['cores']} cores"
        floor = [f"{timing['floor_minutes']:.1f}", f"{timing['wall_over_floor']:.2f}"] if "floor_minutes" in timing else ["–"] * 2
        lines.append(markdown_row([label, where, timing["workers"], timing["threads_per_worker"],
                                   f"{timing['wall_minutes']:.1f}", *floor, timing["commit"][:7]]))
    if len(lines) == 2:
        return "*No sweep has been timed as one command yet.*"
    return "\n".join(lines)


def sweep_parts(paths: list[str | Path]) -> dict:
    """One sweep run as several commands, each with its own record: the parts summed.

    Returns:
        ``parts``, ``runs``, ``wall_minutes``, ``floor_minutes`` and ``wall_over_floor``.
    """
    records = [json.loads(Path(path).read_text()) for path in paths]
    wall, floor = (sum(record[key] for record in records) for key in ("wall_minutes", "floor_minutes"))
    return {"parts": len(records), "runs": sum(len(record["minutes"]) for record in records),
            "wall_minutes": wall, "floor_minutes": floor, "wall_over_floor": wall / floor}


def bench_table(records: dict[str, str | Path]) -> str:
    """``vaecore bench`` records side by side, one column each: the trainers' seconds per epoch,
    the matmul ceiling, the trainer's share of it and that of a step's products run alone, where
    a step's time goes, and the evaluation's parts.

    Args:
        records: a column label for each record (``"one thread"``) and its path.

    Returns:
        A markdown table; rows a record lacks (pythae not installed, no evaluation) show a dash.
    """
    benches = {label: json.loads(Path(path).read_text()) for label, path in records.items()}

    def cell(bench: dict, value) -> str:
        try:
            return value(bench)
        except (KeyError, TypeError):  # a record without this measurement
            return "–"

    rows = [
        ("vaecore, s per epoch", lambda b: f"{b['trainer_epoch_seconds']:.2f}"),
        ("pythae BaseTrainer, s per epoch", lambda b: f"{b['pythae_epoch_seconds']:.2f}"),
        ("pythae / vaecore", lambda b: f"{b['speedup_pythae']:.2f}"),
        ("PyTorch examples' loop, s per epoch", lambda b: f"{b['reference_epoch_seconds']:.2f}"),
        ("examples / vaecore", lambda b: f"{b['speedup']:.2f}"),
        ("matmul ceiling, GFLOP/s", lambda b: f"{b['matmul_gflops']:.0f}"),
        ("vaecore's share of the ceiling", lambda b: f"{b['trainer_gflops'] / b['matmul_gflops']:.0%}"),
        ("a step's products alone, share of the ceiling",
         lambda b: f"{b['matmuls_alone_gflops'] / b['matmul_gflops']:.0%}"),
        *[(f"a step's time: {group}", lambda b, g=group: f"{b['profile'][g]:.0%}")
          for group in PROFILE],
        ("IWAE k = 1000, s per 10,000 images", lambda b: f"{b['evaluation']['iwae_seconds']:.0f}"),
        ("IWAE's share of the ceiling", lambda b: f"{b['evaluation']['iwae_fraction']:.0%}"),
        *[(f"an IWAE's time: {group}", lambda b, g=group: f"{b['evaluation']['iwae_profile'][g]:.0%}")
          for group in IWAE_PROFILE],
        ("t-SNE map, s (codes)", lambda b: f"{b['evaluation']['tsne_seconds']:.0f} ({b['evaluation']['tsne_codes']:,})"),
        ("the other figures, s", lambda b: f"{b['evaluation']['figures_seconds']:.1f}"),
    ]
    lines = [markdown_row(["", *benches]), markdown_row(["---", *["---:"] * len(benches)])]
    lines += [markdown_row([label, *(cell(bench, value) for bench in benches.values())]) for label, value in rows]
    return "\n".join(lines)

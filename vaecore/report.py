"""Tables for the book, built from the runs' metrics.json files."""

from __future__ import annotations

import heapq
import json
import statistics
from pathlib import Path

from vaecore.bench import run_flops
from vaecore.config import Config

# Table 1 of the original report (test set, nats per image): (n, beta) -> (BCE, KL, total).
# The only numbers in the book typed by hand, and only to compare against.
ORIGINAL_TABLE1 = {
    (1, 1.0): (156.82, 4.22, 161.04),
    (2, 1.0): (137.70, 6.80, 144.49),
    (64, 1.0): (76.23, 23.80, 100.03),
    (64, 0.1): (59.18, 77.68, 66.94),
    (64, 0.5): (69.50, 34.30, 86.65),
    (64, 2.0): (87.29, 15.46, 118.20),
    (64, 10.0): (143.37, 3.69, 180.22),
}


def load_runs(folder: str | Path) -> dict[str, dict]:
    """Every ``<name>.json`` metrics file in ``folder``, by name."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(Path(folder).glob("*.json"))}


def _key(metrics: dict) -> tuple[int, float]:
    return metrics["config"]["n"], float(metrics["config"]["beta"])


def _like_report(metrics: dict) -> bool:
    """Trained on MNIST with the BCE loss, as the report's Table 1 was."""
    config = metrics["config"]
    return config.get("dataset", "mnist") == "mnist" and config.get("likelihood", "bernoulli") == "bernoulli"


def _row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table1(runs: dict[str, dict]) -> str:
    """Table 1 as markdown: ours beside the report's, the difference, and the IWAE NLL.

    Args:
        runs: metrics by run name; runs with a seed other than 0 are left out (see
            :func:`seed_table`), as are configurations the report does not have.

    Returns:
        A markdown table, rows in the report's order.
    """
    ours = table1_runs(runs)
    if not ours:
        return "*No run of the report's configurations yet.*"
    lines = [
        _row(["n", "β", "BCE", "report", "KL", "report", "total", "report", "Δ total", "IWAE NLL", "epochs"]),
        _row(["---:"] * 11),
    ]
    for m in ours.values():
        (n, beta), (bce, kl, total) = _key(m), ORIGINAL_TABLE1[_key(m)]
        diff = m["test_total"] - total
        lines.append(_row([
            n, f"{beta:g}", f"{m['test_recon']:.2f}", f"{bce:.2f}", f"{m['test_kl']:.2f}", f"{kl:.2f}",
            f"**{m['test_total']:.2f}**", f"{total:.2f}", f"{diff:+.2f} ({diff / total:+.1%})",
            f"{m['test_iwae_nll']:.2f}", len(m["history"]["epoch"]),
        ]))
    return "\n".join(lines)


def seed_spread(runs: dict[str, dict]) -> dict[tuple[int, float], dict[str, tuple[float, float, int]]]:
    """Mean, standard deviation and count over seeds of the test metrics, per (n, beta).

    Only (n, beta) pairs run with more than one seed are included.
    """
    groups: dict[tuple[int, float], list[dict]] = {}
    for metrics in filter(_like_report, runs.values()):
        groups.setdefault(_key(metrics), []).append(metrics)
    spread = {}
    for key, group in sorted(groups.items()):
        if len(group) < 2:
            continue
        spread[key] = {
            term: (statistics.mean(values), statistics.stdev(values), len(values))
            for term in ("test_recon", "test_kl", "test_total", "test_iwae_nll")
            for values in [[m[term] for m in group]]
        }
    return spread


def seed_table(runs: dict[str, dict]) -> str:
    """The seed spread as markdown: mean +- standard deviation, beside the report's total."""
    lines = [_row(["n", "β", "seeds", "BCE", "KL", "total", "report", "Δ mean total", "IWAE NLL"]),
             _row(["---:"] * 9)]
    spread = seed_spread(runs)
    if not spread:  # an empty table has no body, which LaTeX cannot typeset
        return "*No configuration has been run with more than one seed yet.*"
    for key, stats in spread.items():
        cells = [f"{stats[t][0]:.2f} ± {stats[t][1]:.2f}" for t in ("test_recon", "test_kl", "test_total")]
        report = ORIGINAL_TABLE1.get(key, (None, None, None))[2]
        diff = stats["test_total"][0] - report if report else None
        lines.append(_row([key[0], f"{key[1]:g}", stats["test_total"][2], *cells,
                           f"{report:.2f}" if report else "-",
                           f"{diff:+.2f} ({diff / report:+.1%})" if report else "-",
                           f"{stats['test_iwae_nll'][0]:.2f} ± {stats['test_iwae_nll'][1]:.2f}"]))
    return "\n".join(lines)


def metrics_table(metrics: dict) -> str:
    """One run's test figures as a markdown table."""
    rows = [("reconstruction (BCE)" if metrics["config"]["likelihood"] == "bernoulli" else "reconstruction",
             metrics["test_recon"]),
            ("KL", metrics["test_kl"]),
            (f"total (recon + {metrics['config']['beta']:g} KL)", metrics["test_total"]),
            (f"IWAE NLL (k = {metrics['iwae_k']})", metrics["test_iwae_nll"])]
    lines = [_row(["test set, nats per image", "value"]), _row(["---", "---:"])]
    lines += [_row([name, f"{value:.2f}"]) for name, value in rows]
    return "\n".join(lines)


def table1_runs(runs: dict[str, dict]) -> dict[str, dict]:
    """The seed-0 runs of the report's Table 1 configurations, by name, in the report's order."""
    ours = [(name, m) for name, m in runs.items()
            if m["config"]["seed"] == 0 and _key(m) in ORIGINAL_TABLE1 and _like_report(m)]
    order = list(ORIGINAL_TABLE1)
    return dict(sorted(ours, key=lambda item: order.index(_key(item[1]))))


def verdicts(runs: dict[str, dict]) -> str:
    """One markdown bullet per Table 1 configuration: better or worse than the report, by how much."""
    lines = []
    for m, report in against_report(runs).values():
        n, beta = _key(m)
        diff = (m["test_total"] - report) / report
        word = "lower (better) than" if diff < 0 else "higher (worse) than"
        lines.append(f"- n = {n}, beta = {beta:g}: {m['test_total']:.2f} nats, {abs(diff):.1%} {word} "
                     f"the report's {report:.2f}.")
    return "\n".join(lines)


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
        those runs as one sweep with that many workers, in the order of their names.
    """
    table = table1_runs(runs)
    train = sum(m["train_seconds"] for m in table.values()) / 60
    evaluation = sum(m["eval_seconds"] for m in table.values()) / 60
    epochs = sum(len(m["history"]["epoch"]) for m in table.values())
    machines = {(m["machine"]["cpu"], m["machine"]["cores"], m["machine"]["threads"]) for m in table.values()}
    workers = min(cores // threads for _, cores, threads in machines) if machines else 1
    jobs = [(table[name]["train_seconds"] + table[name]["eval_seconds"]) / 60 for name in sorted(table)]
    return {"runs": len(table), "epochs": epochs, "train_minutes": train, "eval_minutes": evaluation,
            "epoch_seconds": 60 * train / max(epochs, 1), "workers": workers,
            "sweep_minutes": makespan(jobs, workers),
            "machine": "; ".join(f"{cpu}, {cores} cores, {threads} thread(s) per run"
                                 for cpu, cores, threads in sorted(machines))}


def floor(runs: dict[str, dict], x_dim: int, gflops: float) -> dict[str, float]:
    """The least time the Table 1 runs can take: their matrix products at ``gflops``.

    Args:
        runs: metrics by run name (the Table 1 runs are taken).
        x_dim: pixels per image.
        gflops: the machine's matmul ceiling, GFLOP/s (``vaecore bench``'s ``matmul_gflops``).

    Returns:
        ``tflops`` of the runs' matmuls (training, validation, evaluation) and ``minutes``.
    """
    flops = sum(run_flops(Config.from_dict(m["config"]), x_dim, m["train_images"], m["test_images"])
                for m in table1_runs(runs).values())
    return {"tflops": flops / 1e12, "minutes": flops / (gflops * 1e9) / 60}


def timed_sweep(path: str | Path) -> str:
    """A sentence on the sweep timed as one command (``vaecore sweep --record``), if it was."""
    path = Path(path)
    if not path.exists():
        return (f"No `vaecore sweep --record {path.name}` of the seven configurations has been run yet: "
                "the minutes above come from the runs' own timings.")
    timing = json.loads(path.read_text())
    machine = timing["machine"]
    where = machine.get("gpu") or f"{machine['cpu']}, {machine['cores']} cores"
    return (f"Timed as one command (`vaecore sweep --record`, commit {timing['commit']}): "
            f"{len(timing['configs'])} configurations ({', '.join(timing['configs'])}) "
            f"in {timing['wall_minutes']:.0f} minutes on {where}, "
            f"{timing['workers']} at a time with {timing['threads_per_worker']} thread(s) each"
            + (f"; failed: {', '.join(timing['failed'])}." if timing["failed"] else "."))


def against_report(runs: dict[str, dict]) -> dict[str, tuple[dict, float]]:
    """Each Table 1 run with the report's total for its configuration, by run name."""
    return {name: (m, ORIGINAL_TABLE1[_key(m)][2]) for name, m in table1_runs(runs).items()}


def best(runs: dict[str, dict], key: str) -> tuple[str, dict]:
    """The Table 1 run with the lowest ``key`` (e.g. ``"test_iwae_nll"``), with its name."""
    return min(table1_runs(runs).items(), key=lambda item: item[1][key])


def largest_difference(runs: dict[str, dict], other: dict[str, dict]) -> tuple[str, float]:
    """The Table 1 run whose test total differs most from the run of the same name in ``other``.

    Returns:
        Its name and the relative difference (``runs`` over ``other``, minus one).
    """
    diffs = {name: m["test_total"] / other[name]["test_total"] - 1
             for name, m in table1_runs(runs).items() if name in other}
    name = max(diffs, key=lambda key: abs(diffs[key]))
    return name, diffs[name]

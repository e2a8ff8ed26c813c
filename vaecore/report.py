"""Tables for the book, built from the runs' metrics.json files."""

from __future__ import annotations

import heapq
import json
import math
import statistics
from pathlib import Path

from vaecore.config import Config
from vaecore.cost import IWAE_PROFILE, PROFILE, run_cost
from vaecore.errors import VaecoreError
from vaecore.weights import read_metrics

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

# A run reproduces a row of Table 1 when its total is within this fraction of the report's.
# The report gives one run per configuration, no error bars and not every convention of its
# evaluation; 1% is about twice the largest seed-to-seed spread of a total (n = 1) and many times
# that of n = 64, so each row is also judged against its own noise (NOISE).
TOLERANCE = 0.01

# A difference from the report beyond this many standard deviations of a run's total (its :func:`noise`:
# seeds and draws) is more than that noise usually gives; with three seeds it is itself uncertain by
# about a factor of two.
NOISE = 2.0

MINUS = "\u2212"  # a typographic minus: it does not break a line, as a hyphen may
NBSP = "\u00a0"
ABS_DELTA = "|\u2060Δ|"  # a word joiner after the bar: a line may break after a vertical bar

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def load_runs(folder: str | Path) -> dict[str, dict]:
    """Every ``<name>.json`` metrics file in ``folder``, by name.

    Raises:
        WeightsError: a file is damaged, or from a newer vaecore (naming it).
    """
    return {path.stem: read_metrics(path) for path in sorted(Path(folder).glob("*.json"))}


def _key(metrics: dict) -> tuple[int, float]:
    return metrics["config"]["n"], float(metrics["config"]["beta"])


def follows_protocol(metrics: dict) -> bool:
    """Run at the report's protocol (:func:`departures`), as its Table 1 was."""
    return not departures(metrics["config"])


def markdown_row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def number(count: int) -> str:
    """A count as a reader would write it: words up to ten, digits above."""
    return _WORDS[count] if 0 <= count < len(_WORDS) else str(count)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``"one thread"``, ``"two threads"``: a count with its noun in the right number."""
    return f"{number(count)} {noun if count == 1 else plural or noun + 's'}"


def listed(items: list) -> str:
    """Items as a sentence lists them: ``"1"``, ``"1 and 2"``, ``"0, 1 and 2"``."""
    words = [str(item) for item in items]
    return f"{', '.join(words[:-1])} and {words[-1]}" if len(words) > 1 else words[0]


def signed(value: float, places: int = 2) -> str:
    """``value`` with an explicit sign and a typographic minus; a value that rounds to zero has none."""
    text = f"{abs(value):.{places}f}"
    if float(text) == 0:
        return text
    return ("+" if value > 0 else MINUS) + text


def percent(fraction: float) -> str:
    """A signed relative difference: one decimal, two where one would read as zero, never "-0.0%"."""
    for places in (1, 2):
        if round(abs(fraction) * 100, places) != 0:
            return signed(fraction * 100, places) + "%"
    return "0%"


def difference(value: float, reference: float) -> str:
    """``value - reference`` in nats and relative to ``reference``, on one line: ``−0.49 (−0.30%)``."""
    diff = value - reference
    return f"{signed(diff)}{NBSP}({percent(diff / reference)})"


def _label(n: int, beta: float, nbsp: bool = False) -> str:
    """``"n = 64, β = 0.1"``; with ``nbsp`` it breaks only after the comma."""
    space = NBSP if nbsp else " "
    return f"n{space}={space}{n}, β{space}={space}{beta:g}"


def _link(name: str, metrics: dict, pages: str | None) -> str:
    """The configuration, linked to its run page in ``pages`` where one is given."""
    label = _label(*_key(metrics), nbsp=True)
    return f"[{label}]({pages}/{name}.ipynb)" if pages else label


def plus_minus(mean: float, std: float, places: int = 2) -> str:
    """``"67.09 ± 0.09"``, breaking nowhere."""
    return f"{mean:.{places}f}{NBSP}±{NBSP}{std:.{places}f}"


# the test figures Table 1 gives for a run and, over its seeds, as mean ± standard deviation
_TABLE1_TERMS = ("test_recon", "test_kl", "test_total", "test_iwae_nll")


def table1(runs: dict[str, dict], pages: str | None = None) -> str:
    """Table 1 as markdown: for each configuration our seed-0 run, the mean ± standard deviation
    over its seeds where it has several, and the report's numbers (D, R, D + βR); the difference from
    the report's total in nats and percent and, where there are seeds, in units of a run's
    :func:`noise` σ; and the IWAE NLL, which puts every β on the same scale.

    Each configuration takes a row per line of numbers, ours (named by the configuration), the
    seeds' (*mean of three seeds*) and the report's (*report*), so that the table stays narrow.

    Args:
        runs: metrics by run name; seeds other than 0 give the spread (see :func:`seed_spread`);
            configurations the report does not have and runs not at its protocol
            (:func:`departures`) are left out.
        pages: folder of the run pages, relative to the page showing the table; where
            given, each configuration links to its run's page (``<pages>/<name>.ipynb``).

    Returns:
        A markdown table, configurations in the report's order.
    """
    ours = table1_runs(runs)
    if not ours:
        return "*No run of the report's configurations yet.*"
    spread = seed_spread(runs)
    sigmas = any(_key(m) in spread for m in ours.values())  # a column of Δ/σ only where there is a σ

    def row(label: str, cells: list[str], diff: str, sigma: str) -> str:
        return markdown_row([label, *cells[:3], diff, *([sigma] if sigmas else []), *cells[3:]])

    lines = [row("configuration", ["D", "R", "D + βR", "IWAE NLL"], "Δ", "Δ/σ"),
             row("---", ["---:"] * 4, "---:", "---:")]
    for name, m in ours.items():
        bce, kl, total = ORIGINAL_TABLE1[_key(m)]
        stats = spread.get(_key(m))
        std = noise(stats) if stats else None
        lines.append(row(_link(name, m, pages),
                         [f"{m[term]:.2f}" for term in _TABLE1_TERMS],
                         difference(m["test_total"], total), _sigmas(m["test_total"] - total, std)))
        if stats:
            mean = stats["test_total"][0]
            lines.append(row(f"*mean of {number(stats['test_total'][2])} seeds*",
                             [plus_minus(*stats[term][:2]) for term in _TABLE1_TERMS],
                             difference(mean, total), _sigmas(mean - total, std)))
        lines.append(row("*report*", [f"{bce:.2f}", f"{kl:.2f}", f"{total:.2f}", "–"], "", ""))
    return "\n".join(lines)


def _sigmas(diff: float, std: float | None) -> str:
    """A difference in units of a standard deviation, ``1.6``; a dash without one."""
    return f"{abs(diff) / std:.1f}" if std else "–"


def epochs(runs: dict[str, dict]) -> str:
    """The epochs the Table 1 runs trained for, in words: ``"300"``, or ``"300 and 20"`` where they differ."""
    counts = sorted({len(m["history"]["epoch"]) for m in table1_runs(runs).values()})
    return " and ".join(str(c) for c in counts)


# What the spread over seeds summarises: the test figures and the active units of each run's metrics.
_SPREAD = ("test_recon", "test_kl", "test_total", "test_iwae_nll", "active_units", "test_total_draw_sd")


class SeedClash(VaecoreError):
    """Two runs are the same seed of one configuration, so neither can stand for it."""


def seeds(runs: dict[str, dict]) -> dict[tuple[int, float], dict[int, str]]:
    """The runs at the report's protocol (:func:`departures`) by (n, beta), each a run name by seed.

    Raises:
        SeedClash: two runs share a configuration and a seed, as a CPU run and its GPU twin do in
            :func:`vaecore.weights.shipped`.
    """
    groups: dict[tuple[int, float], dict[int, str]] = {}
    for name, metrics in runs.items():
        if follows_protocol(metrics):
            group, seed = groups.setdefault(_key(metrics), {}), metrics["config"]["seed"]
            if seed in group:
                raise SeedClash(f"runs {group[seed]} and {name} are both seed {seed} of {_label(*_key(metrics))}: "
                                f"pass the runs of one device, e.g. those whose config's device is 'cpu'")
            group[seed] = name
    return {key: dict(sorted(group.items())) for key, group in sorted(groups.items())}


def seed_spread(runs: dict[str, dict]) -> dict[tuple[int, float], dict[str, tuple[float, float, int]]]:
    """Mean, standard deviation and count over seeds of the test metrics, per (n, beta).

    Only runs at the report's protocol count (:func:`departures`), and only (n, beta) pairs run
    with more than one seed are included. The terms: ``test_recon``, ``test_kl``, ``test_total``,
    ``test_iwae_nll`` and ``active_units`` where every seed counted them.
    """
    spread = {}
    for key, names in seeds(runs).items():
        if len(names) < 2:
            continue
        group = [runs[name] for name in names.values()]
        spread[key] = {term: (statistics.mean(values), statistics.stdev(values), len(values))
                       for term in _SPREAD if all(term in m for m in group)
                       for values in [[m[term] for m in group]]}
    return spread


def noise(stats: dict) -> float:
    """σ of one run's objective D + βR, from its configuration's :func:`seed_spread`: the standard
    deviation over the seeds combined with that over the draws of z of an evaluation (the seeds'
    mean), where the runs measured it. Every seed is evaluated with the same draws, so the seeds'
    spread alone leaves the draws' out."""
    seeds = stats["test_total"][1]
    return math.hypot(seeds, stats["test_total_draw_sd"][0]) if "test_total_draw_sd" in stats else seeds


def draws(runs: dict[str, dict]) -> str:
    """How much the draws of z in an evaluation move a Table 1 objective, in a sentence: the range of
    :func:`noise`'s draw term over the configurations with seeds, and the largest beside its seeds' spread."""
    spread = {key: stats for key, stats in seed_spread(runs).items()
              if key in ORIGINAL_TABLE1 and "test_total_draw_sd" in stats}
    if not spread:
        return ""
    by = {key: stats["test_total_draw_sd"][0] for key, stats in spread.items()}
    top = max(by, key=by.get)
    seeds = spread[top]["test_total"][1]
    than = "more than" if by[top] > seeds else "less than"
    return (f"The draws of z in an evaluation alone move a total by {min(by.values()):.2f} to {by[top]:.2f} nats "
            f"(a standard deviation over repeated draws), the most at {_label(*top)}: {than} its seeds' spread "
            f"of {seeds:.2f}.")


def seed_table(runs: dict[str, dict], pages: str | None = None) -> str:
    """Every configuration run with several seeds as markdown: its seeds (each linked to its page
    where ``pages`` is given), the mean ± standard deviation over them of the objective D + βR, its
    difference from the report's where the report has the configuration, the IWAE NLL and the
    active units (the number of seeds of each is :func:`seed_counts`)."""
    spread = seed_spread(runs)
    if not spread:  # an empty table has no body, which LaTeX cannot typeset
        return "*No configuration has been run with more than one seed yet.*"
    names = seeds(runs)
    lines = [markdown_row(["configuration", "seeds", "D + βR", "Δ mean", "IWAE NLL", "active units"]),
             markdown_row(["---", "---", "---:", "---:", "---:", "---:"])]
    for key, stats in spread.items():
        mean, std, _ = stats["test_total"]
        report = ORIGINAL_TABLE1.get(key, (None, None, None))[2]
        links = [f"[{seed}]({pages}/{name}.ipynb)" if pages else str(seed) for seed, name in names[key].items()]
        active = plus_minus(*stats["active_units"][:2], places=1) if "active_units" in stats else "–"
        lines.append(markdown_row([_label(*key, nbsp=True), f",{NBSP}".join(links), plus_minus(mean, std),
                                   difference(mean, report) if report else "–",
                                   plus_minus(*stats["test_iwae_nll"][:2]), active]))
    return "\n".join(lines)


def seed_counts(runs: dict[str, dict]) -> str:
    """How many seeds each configuration of :func:`seed_table` ran with, in words: ``"three seeds"``."""
    counts = sorted({stats["test_total"][2] for stats in seed_spread(runs).values()})
    return " or ".join(number(c) for c in counts) + " seeds"


def metrics_table(metrics: dict) -> str:
    """One run's test figures as a markdown table."""
    rows = [("distortion D (BCE)" if metrics["config"]["likelihood"] == "bernoulli" else "distortion D",
             metrics["test_recon"]),
            ("rate R (KL)", metrics["test_kl"]),
            (f"objective D + βR, β = {metrics['config']['beta']:g}", metrics["test_total"]),
            (f"IWAE NLL (k = {metrics['iwae_k']})", metrics["test_iwae_nll"])]
    lines = [markdown_row(["test set, nats per image", "value"]), markdown_row(["---", "---:"])]
    lines += [markdown_row([name, f"{value:.2f}"]) for name, value in rows]
    return "\n".join(lines)


def table1_runs(runs: dict[str, dict]) -> dict[str, dict]:
    """The seed-0 runs of the report's Table 1 configurations at its protocol, by name, in the report's order."""
    groups = seeds(runs)
    return {groups[key][0]: runs[groups[key][0]] for key in ORIGINAL_TABLE1 if 0 in groups.get(key, {})}


def _estimate(metrics: dict, spread: dict) -> tuple[float, float | None, int]:
    """A Table 1 run's total as the book judges it: the mean over its configuration's seeds
    (``spread``, :func:`seed_spread`) where it has several, with its :func:`noise` and the count
    of seeds; else its own total with no deviation."""
    stats = spread.get(_key(metrics))
    if not stats:
        return metrics["test_total"], None, 1
    mean, _, count = stats["test_total"]
    return mean, noise(stats), count


def verdicts(runs: dict[str, dict], pages: str | None = None) -> str:
    """One markdown bullet per Table 1 configuration: its total against the report's, by the mean
    over its seeds (± their standard deviation) where it has several, judged by :data:`TOLERANCE`
    and by :data:`NOISE` times the :func:`noise` σ of a run's total.

    Args:
        runs: metrics by run name, other seeds included (they give the mean and σ).
        pages: folder of the run pages, to link each configuration to its page.
    """
    lines, spread = [], seed_spread(runs)
    for name, (m, report) in against_report(runs).items():
        mean, std, count = _estimate(m, spread)
        within = abs(mean / report - 1) <= TOLERANCE
        ours = (f"{plus_minus(mean, spread[_key(m)]['test_total'][1])} over {counted(count, 'seed')}" if std
                else f"{mean:.2f} (one seed)")
        line = (f"- {_link(name, m, pages)}: {ours} against the report's {report:.2f}, "
                f"Δ{NBSP}={NBSP}{difference(mean, report)}, "
                f"{'within' if within else 'outside'} the {TOLERANCE:.0%} tolerance; ")
        if std:
            sigmas = abs(mean - report) / std
            line += (f"{ABS_DELTA}{NBSP}={NBSP}{sigmas:.1f}{NBSP}σ, " +
                     ("within the noise of seeds and draws." if sigmas <= NOISE
                      else f"more than the noise of seeds and draws gives (σ{NBSP}={NBSP}{std:.2f} nats)."))
        else:
            line += "not repeated with other seeds, so there is no σ to set Δ against."
        lines.append(line)
    return "\n".join(lines)


def outcome(runs: dict[str, dict]) -> dict[str, float | int | str]:
    """The verdict on Table 1 in numbers and as sentences (plain text, for any page), each row by
    the mean over its seeds where it has several (:func:`verdicts`).

    Returns:
        ``rows`` (Table 1 configurations), ``within`` (of those, within :data:`TOLERANCE`),
        ``largest`` (the largest relative difference, signed) and ``largest_name``,
        ``spread`` (the largest standard deviation over seeds of a total, nats), ``beyond``
        (rows more than :data:`NOISE` σ from the report), ``sentence`` (the verdict) and
        ``noise`` (each latent size's spread of a total over seeds, and the rows beyond it).
    """
    table, spread = table1_runs(runs), seed_spread(runs)
    estimates = {name: _estimate(m, spread) for name, m in table.items()}
    reports = {name: report for name, (_, report) in against_report(runs).items()}
    diffs = {name: estimates[name][0] / reports[name] - 1 for name in reports}
    if not diffs:
        return {"rows": 0, "within": 0, "sentence": "No run of the report's configurations yet.", "noise": ""}
    name = max(diffs, key=lambda key: abs(diffs[key]))
    within = sum(abs(d) <= TOLERANCE for d in diffs.values())
    result = {"rows": len(diffs), "within": within, "largest": diffs[name], "largest_name": name}
    if within == len(diffs) and within > 1:
        share = f"All {number(within)} of the report's Table 1 configurations land"
    else:
        share = (f"{number(within).capitalize()} of the report's {number(len(diffs))} Table 1 configurations "
                 f"{'lands' if within == 1 else 'land'}")
    repeated = [estimates[n] for n in table if estimates[n][1]]
    by = (f", by the mean of {seed_counts(runs)}" if len(repeated) == len(table) else
          f", {number(len(repeated))} of them by the mean of their seeds" if repeated else "")
    sentence = (f"{share} within {TOLERANCE:.0%} of its totals{by}; the largest difference is "
                f"{percent(diffs[name])} ({_label(*_key(table[name]))})")
    if not spread:
        return result | {"beyond": 0, "sentence": sentence + ".", "noise": ""}
    result["spread"] = max(noise(stats) for stats in spread.values())
    beyond = {n: abs(estimates[n][0] - reports[n]) / estimates[n][1] for n in table
              if estimates[n][1] and abs(estimates[n][0] - reports[n]) > NOISE * estimates[n][1]}
    result["beyond"] = len(beyond)
    if beyond:
        rows = ", ".join(f"{_label(*_key(table[n]))} at {beyond[n]:.1f}{NBSP}σ ({signed(estimates[n][0] - reports[n])} "
                         f"nats)" for n in sorted(beyond, key=beyond.get, reverse=True))
        which = (f"{number(len(beyond))} of the {number(len(repeated))} rows with seeds" if len(repeated) > 1
                 else "the one row with seeds")
        judged = (f"Against its own noise σ, {which} {'differs' if len(beyond) == 1 else 'differ'} "
                  f"from the report by more than {NOISE:g}{NBSP}σ: {rows}")
    else:
        judged = f"Every row with seeds is within {NOISE:g}{NBSP}σ of the report"
    sizes = sorted({key[0] for key in spread})
    stds = {n: sorted(noise(stats) for key, stats in spread.items() if key[0] == n) for n in sizes}
    widths = "; ".join(f"n{NBSP}={NBSP}{n}: {values[0]:.2f}" if len(values) == 1 else
                       f"n{NBSP}={NBSP}{n}: {values[0]:.2f} to {values[-1]:.2f}" for n, values in stds.items())
    result["sentence"] = sentence + ". " + judged + "."
    result["noise"] = (f"The standard deviation σ of a total over seeds and over the draws of z in its "
                       f"evaluation, in nats, is {widths}. {judged}.")
    return result


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
            "machine": "; ".join(f"{cpu}, {cores} cores, {counted(threads, 'thread')} per run"
                                 for cpu, cores, threads in sorted(machines))}


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
        where = machine.get("gpu") or f"{machine['cpu']}, {machine['cores']} cores"
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


def departures(config: dict) -> list[str]:
    """How a run's config departs from the report's protocol, in words (empty: it follows it).

    The seed, the device and the IWAE samples are not part of the protocol.
    """
    ours, theirs = Config.from_dict(config), Config(n=config["n"], beta=config["beta"])
    words = {"dataset": lambda c: c.dataset, "likelihood": lambda c: f"the {c.likelihood} likelihood",
             "hidden": lambda c: f"hidden layers {'-'.join(map(str, c.hidden))}",
             "epochs": lambda c: f"{c.epochs} epochs", "batch_size": lambda c: f"batches of {c.batch_size}",
             "lr": lambda c: f"learning rate {c.lr:g}",
             "train_size": lambda c: f"{c.train_size:,} training images",
             "test_size": lambda c: f"{c.test_size:,} test images"}
    return [say(ours) for key, say in words.items() if getattr(ours, key) != getattr(theirs, key)]


def verdict(metrics: dict, runs: dict[str, dict]) -> str:
    """A run page's opening box (MyST markdown): its objective against the report's for the same
    configuration, the difference and, where the configuration was run with several seeds, the
    seeds' standard deviation; and a reference to its row in Table 1 or the β table.

    Args:
        metrics: the run's metrics.
        runs: the book's runs by name, for the spread over seeds.
    """
    config, key = metrics["config"], _key(metrics)
    label = _label(*key)
    gpu = config.get("device") == "cuda"
    changed = departures(config)
    ours = metrics["test_total"]
    if changed:
        body = (f"This run departs from the report's protocol ({', '.join(changed)}), so it is not compared "
                f"with the report: D{NBSP}+{NBSP}βR{NBSP}={NBSP}{ours:.2f} nats per test image.")
    elif key in ORIGINAL_TABLE1:
        report = ORIGINAL_TABLE1[key][2]
        diff = ours - report
        within = abs(diff / report) <= TOLERANCE
        body = (f"The objective D{NBSP}+{NBSP}βR on the test set: **{ours:.2f}** nats per image against "
                f"{report:.2f} in the report {{cite:p}}`xue2024`, Δ{NBSP}={NBSP}{difference(ours, report)}, "
                f"{'within' if within else 'outside'} the {TOLERANCE:.0%} tolerance.")
        spread = seed_spread(runs).get(key)
        if spread:
            std, count = noise(spread), spread["test_total"][2]
            body += (f" Over {counted(count, 'seed')} and the draws of z in its evaluation, this configuration's "
                     f"objective has a standard deviation "
                     f"σ{NBSP}={NBSP}{std:.2f} nats: {ABS_DELTA}{NBSP}={NBSP}{abs(diff) / std:.1f}{NBSP}σ.")
        else:
            body += " The configuration was run with one seed, so there is no σ to set Δ against."
        table = "tab-seeds" if config["seed"] != 0 else "tab-table1-gpu" if gpu else "tab-table1"
        body += f" Its row: {label} in {{numref}}`{table}`."
    else:
        body = (f"The report has no run of {label}. Here D{NBSP}+{NBSP}βR{NBSP}={NBSP}{ours:.2f}, "
                f"D{NBSP}+{NBSP}R{NBSP}={NBSP}{metrics['test_recon'] + metrics['test_kl']:.2f} and the IWAE "
                f"NLL is {metrics['test_iwae_nll']:.2f} nats per test image.")
        spread = seed_spread(runs).get(key)
        if spread:
            body += (f" Over {counted(spread['test_iwae_nll'][2], 'seed')} the IWAE NLL of this configuration is "
                     f"{plus_minus(*spread['test_iwae_nll'][:2])} nats.")
        if key[0] in (2, 64) and not gpu:  # the β study's configurations, every seed (vaecore.study.table)
            body += f" Its row: {label} in {{numref}}`tab-beta`."
    return f":::{{admonition}} Against the report\n:class: important\n{body}\n:::"


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

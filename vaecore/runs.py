"""The book's runs: the one place that lists published runs, reads their metrics, groups them by
configuration and seed at the report's protocol, and computes their spread over seeds."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from vaecore.config import Config, ConfigError
from vaecore.errors import VaecoreError
from vaecore.original import ORIGINAL_TABLE1, departures

Key = tuple[int, float]  # a configuration: (n, beta)

# What the spread over seeds summarises: the test figures and the active units of each run's metrics.
SPREAD = ("test_recon", "test_kl", "test_total", "test_iwae_nll", "active_units", "test_total_draw_sd")


class RunsError(VaecoreError):
    """A run's metrics file is missing, damaged or from a newer vaecore."""


class SeedClash(VaecoreError):
    """Two runs are the same seed of one configuration, so neither can stand for it."""


def published(folder: str | Path) -> dict[str, Path]:
    """Every whole, published run in ``folder``: its metrics file ``<name>.json`` by name, where the
    weights ``<name>.pt`` are beside it. Hidden files (a sweep's ``.<name>.partial.*``) and failed
    pages are never runs."""
    return {path.stem: path for path in sorted(Path(folder).glob("[!.]*.json"))
            if "." not in path.stem and path.with_suffix(".pt").is_file()}


def read_metrics(path: Path) -> dict:
    """A run's metrics, ``metrics.json`` or a page's ``<name>.json``, with a config vaecore can read.

    Raises:
        RunsError: the file is missing, not valid JSON, or holds a config this vaecore does
            not know (one from a newer version); the message names the file.
    """
    try:
        metrics = json.loads(path.read_text())
    except OSError as error:
        raise RunsError(f"cannot read {path} ({error.strerror or error}); restore it with git checkout") from None
    except ValueError as error:
        raise RunsError(f"{path} is not valid JSON ({error}): it is damaged or truncated; "
                        f"restore it with git checkout") from None
    try:
        Config.from_dict(metrics["config"])
    except (ConfigError, KeyError, TypeError) as error:
        what = f"a config this vaecore cannot read ({error})" if isinstance(error, ConfigError) else "no config"
        raise RunsError(f"{path} holds {what}; it may come from a newer vaecore: update vaecore, "
                        f"or restore the file with git checkout") from None
    return metrics


def load(folder: str | Path) -> dict[str, dict]:
    """The metrics of every run :func:`published` in ``folder``, by name."""
    return {name: read_metrics(path) for name, path in published(folder).items()}


def key(metrics: dict) -> Key:
    """A run's configuration, (n, beta)."""
    return metrics["config"]["n"], float(metrics["config"]["beta"])


def follows_protocol(metrics: dict) -> bool:
    """Run at the report's protocol (:func:`vaecore.original.departures`), as its Table 1 was."""
    return not departures(metrics["config"])


def seeds(runs: dict[str, dict]) -> dict[Key, dict[int, str]]:
    """The runs at the report's protocol by configuration, each a run name by seed.

    Raises:
        SeedClash: two runs share a configuration and a seed (naming both).
    """
    groups: dict[Key, dict[int, str]] = {}
    for name, metrics in runs.items():
        if follows_protocol(metrics):
            group, seed = groups.setdefault(key(metrics), {}), metrics["config"]["seed"]
            if seed in group:
                n, beta = key(metrics)
                raise SeedClash(f"runs {group[seed]} and {name} are both seed {seed} of n = {n}, β = {beta:g}: "
                                f"remove one of them from the folder")
            group[seed] = name
    return {k: dict(sorted(group.items())) for k, group in sorted(groups.items())}


def seed_zero(runs: dict[str, dict], keys=None) -> dict[str, dict]:
    """The seed-0 runs at the report's protocol, by name: of the configurations ``keys`` in their
    order (by default every configuration, by n and beta)."""
    groups = seeds(runs)
    keys = groups if keys is None else keys
    return {groups[k][0]: runs[groups[k][0]] for k in keys if 0 in groups.get(k, {})}


def table1_runs(runs: dict[str, dict]) -> dict[str, dict]:
    """The seed-0 runs of the report's Table 1 configurations, by name, in the report's order."""
    return seed_zero(runs, ORIGINAL_TABLE1)


def study_sizes(runs: dict[str, dict]) -> tuple[int, ...]:
    """The latent sizes of the β study, largest first: those run at more than one β."""
    betas: dict[int, set[float]] = {}
    for n, beta in seeds(runs):
        betas.setdefault(n, set()).add(beta)
    return tuple(sorted((n for n, values in betas.items() if len(values) > 1), reverse=True))


def grid(runs: dict[str, dict], n: int) -> list[tuple[float, str, dict]]:
    """The seed-0 runs of latent size ``n`` at the report's protocol, as (beta, name, metrics) by increasing beta."""
    return [(beta, names[0], runs[names[0]]) for (size, beta), names in seeds(runs).items()
            if size == n and 0 in names]


def by_seed(runs: dict[str, dict], n: int) -> list[tuple[float, list[str]]]:
    """Every seed's run of latent size ``n`` at the report's protocol, as (beta, run names by seed) by increasing beta."""
    return [(beta, list(names.values())) for (size, beta), names in seeds(runs).items() if size == n]


def spread(values: list[float]) -> tuple[float, float | None]:
    """The mean of the seeds' values and their standard deviation (None for a single seed)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def measure(runs: dict[str, dict], n: int, value) -> list[tuple[float, list[float]]]:
    """``value(metrics)`` of every seed of every β of latent size ``n`` that measured it, by β."""
    rows = []
    for beta, names in by_seed(runs, n):
        try:
            rows.append((beta, [value(runs[name]) for name in names]))
        except KeyError:  # a run evaluated before this quantity was measured
            continue
    return rows


def seed_spread(runs: dict[str, dict]) -> dict[Key, dict[str, tuple[float, float, int]]]:
    """Mean, standard deviation and count over seeds of the test metrics (:data:`SPREAD`), per
    configuration run with more than one seed at the report's protocol; a term only where every
    seed measured it."""
    result = {}
    for k, names in seeds(runs).items():
        if len(names) < 2:
            continue
        group = [runs[name] for name in names.values()]
        result[k] = {term: (statistics.mean(values), statistics.stdev(values), len(values))
                     for term in SPREAD if all(term in m for m in group)
                     for values in [[m[term] for m in group]]}
    return result


def draw_sd(stats: dict) -> float | None:
    """The standard deviation of one run's objective over the draws of z in its evaluation (the
    mean of the seeds' own), where the runs measured it."""
    return stats["test_total_draw_sd"][0] if "test_total_draw_sd" in stats else None


def noise(stats: dict) -> float:
    """σ of one run's objective D + βR, from its configuration's :func:`seed_spread`: the standard
    deviation over the seeds combined with that over the draws of z of an evaluation, where the
    runs measured it. Every seed is evaluated with the same draws, so the seeds' spread alone
    leaves the draws' out."""
    seeds_sd, draws = stats["test_total"][1], draw_sd(stats)
    return math.hypot(seeds_sd, draws) if draws is not None else seeds_sd


def families(cpu: dict[str, dict], gpu: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """The book's runs in the families the appendix shows, each by shipped model name (a GPU run's
    with ``-gpu``): ``table1`` (Table 1's seed-0 runs), ``seeds`` (the same with other seeds),
    ``gpu`` (Table 1 on the GPU), ``beta`` (every other run with seed 0, or away from the protocol)
    and ``beta-seeds`` (the β study with other seeds); empty families are left out."""
    table1 = table1_runs(cpu)
    others = {name: m for name, m in cpu.items() if m["config"]["seed"] != 0 and follows_protocol(m)}
    rest = {name: m for name, m in cpu.items() if name not in table1 and name not in others}
    reported = {name for name, m in others.items() if key(m) in ORIGINAL_TABLE1}
    groups = {"table1": table1, "seeds": dict(sorted(((n, others[n]) for n in reported), key=_order)),
              "gpu": {f"{name}-gpu": m for name, m in table1_runs(gpu).items()},
              "beta": dict(sorted(rest.items(), key=_order)),
              "beta-seeds": dict(sorted(((n, m) for n, m in others.items() if n not in reported), key=_order))}
    return {family: members for family, members in groups.items() if members}


def _order(item: tuple[str, dict]) -> tuple:
    config = item[1]["config"]
    return -config["n"], config["beta"], config["seed"]

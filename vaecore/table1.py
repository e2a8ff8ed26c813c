"""The report's Table 1 against our runs: the test of each difference, the table and the verdicts."""

from __future__ import annotations

import math
from typing import NamedTuple

from scipy import stats as scipy_stats

from vaecore.evaluate import DRAWS
from vaecore.original import ORIGINAL_TABLE1
from vaecore.runs import draw_sd, key, noise, seed_spread, seeds, table1_runs
from vaecore.words import (NBSP, configuration, counted, difference, markdown_row, number, percent,
                           plus_minus, signed)

# A run reproduces a row of Table 1 when its total is within this fraction of the report's.
# The report gives one run per configuration, no error bars and not every convention of its
# evaluation; 1% is about twice the largest seed-to-seed spread of a total (n = 1).
TOLERANCE = 0.01

# The family-wise error rate of the comparisons with the report: a row differs beyond noise when
# its Holm-adjusted p-value is below it.
ALPHA = 0.05


class Comparison(NamedTuple):
    """One Table 1 configuration's total against the report's, by one run or by the mean of its seeds.

    ``diff`` is ours minus the report's (nats); ``sd`` its standard deviation, ``df`` the degrees of
    freedom of that estimate, ``t = diff / sd``, ``p`` the two-sided p-value, ``p_holm`` the same
    Holm-adjusted over the comparisons of its kind, ``low`` and ``high`` the 95% interval of the
    difference, ``differs`` whether ``p_holm`` < :data:`ALPHA`. Without seeds to give a noise, the
    statistics are None and ``differs`` is False.
    """

    name: str
    n: int
    beta: float
    kind: str
    seeds: int
    diff: float
    sd: float | None
    df: float | None
    t: float | None
    p: float | None
    p_holm: float | None
    low: float | None
    high: float | None
    differs: bool


def degrees_of_freedom(stats: dict) -> float:
    """The degrees of freedom of :func:`vaecore.runs.noise`'s variance, by Welch and Satterthwaite:
    the seeds' part has (seeds - 1), the draws' part (draws - 1) for each seed."""
    count = stats["test_total"][2]
    parts = [(stats["test_total"][1] ** 2, count - 1)]
    if (draws := draw_sd(stats)) is not None:
        parts.append((draws ** 2, count * (DRAWS - 1)))
    total = sum(variance for variance, _ in parts)
    return total ** 2 / sum(variance ** 2 / df for variance, df in parts if variance)


def t_test(diff: float, sigma: float, df: float, runs: int) -> tuple[float, float, float, float]:
    """The test of a difference between the mean of ``runs`` runs of σ each and the report's one run,
    taken to be as noisy: its standard deviation is σ·√(1 + 1/runs).

    Returns:
        The difference's standard deviation, t, the two-sided p-value on ``df`` degrees of freedom,
        and the half-width of its 95% interval.
    """
    sd = sigma * math.sqrt(1 + 1 / runs)
    t = diff / sd
    return sd, t, 2 * scipy_stats.t.sf(abs(t), df), scipy_stats.t.ppf(0.975, df) * sd


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values``, in their order: a family-wise error rate."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def comparisons(runs: dict[str, dict]) -> list[Comparison]:
    """Every Table 1 configuration against the report: by its seed-0 run, and by the mean of its
    seeds where it has several, each set against the noise σ of a run (:func:`vaecore.runs.noise`)
    with :func:`t_test`; Holm over the comparisons of each kind."""
    spread, found = seed_spread(runs), []
    for name, metrics in table1_runs(runs).items():
        n, beta = key(metrics)
        report, stats = ORIGINAL_TABLE1[(n, beta)][2], spread.get((n, beta))
        rows = [("seed 0", 1, metrics["test_total"])]
        if stats:
            count = stats["test_total"][2]
            rows.append((f"mean of {counted(count, 'seed')}", count, stats["test_total"][0]))
        for kind, count, total in rows:
            diff = total - report
            if stats:
                df = degrees_of_freedom(stats)
                sd, t, p, half = t_test(diff, noise(stats), df, count)
                found.append(Comparison(name, n, beta, kind, count, diff, sd, df, t, p, None, diff - half,
                                        diff + half, False))
            else:
                found.append(Comparison(name, n, beta, kind, count, diff, *[None] * 7, False))
    for kind in ("seed 0", "mean"):
        family = [i for i, c in enumerate(found) if c.kind.startswith(kind) and c.p is not None]
        for i, adjusted in zip(family, holm([found[i].p for i in family])):
            found[i] = found[i]._replace(p_holm=adjusted, differs=adjusted < ALPHA)
    return found


def test_sentence(runs: dict[str, dict]) -> str:
    """The test behind every verdict on Table 1, in two sentences for the text."""
    rows = len(table1_runs(runs))
    return (f"A difference from the report is set against its own standard deviation: σ·√2 for one run, "
            f"σ·√(1 + 1/m) for the mean of m seeds, the report's single run taken to be as noisy as one of "
            f"ours, where σ combines the spread over seeds with that over the draws of z; t = Δ / that "
            f"deviation is read against Student's t with the Welch–Satterthwaite degrees of freedom of σ², "
            f"the seeds' (m − 1) and the draws' m·{DRAWS - 1}. The {number(rows)} rows are tested at once, so "
            f"their p-values are adjusted by Holm's method, and a row differs beyond noise when its adjusted "
            f"p-value is below {ALPHA:g}, a family-wise error rate of {ALPHA:.0%}.")


def _link(name: str, n: int, beta: float, pages: str | None) -> str:
    """The configuration, linked to its run page in ``pages`` where one is given."""
    label = configuration(n, beta, nbsp=True)
    return f"[{label}]({pages}/{name}.ipynb)" if pages else label


# the test figures Table 1 gives for a run and, over its seeds, as mean ± standard deviation
_TERMS = ("test_recon", "test_kl", "test_total", "test_iwae_nll")


def p_value(value: float | None) -> str:
    """A p-value to two significant digits; a dash without one."""
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.2g}" if value < 0.1 else f"{value:.2f}"


def table1(runs: dict[str, dict], pages: str | None = None) -> str:
    """Table 1 as markdown: for each configuration our seed-0 run, the mean ± standard deviation
    over its seeds where it has several, and the report's numbers (D, R, D + βR); the difference
    from the report's total in nats and percent and, where there are seeds, its t and Holm-adjusted
    p (:func:`comparisons`); and the IWAE NLL, which puts every β on the same scale.

    Args:
        runs: metrics by run name; seeds other than 0 give the spread; configurations the report
            does not have and runs not at its protocol are left out.
        pages: folder of the run pages, relative to the page showing the table; where given, each
            configuration links to its run's page (``<pages>/<name>.ipynb``).
    """
    ours = table1_runs(runs)
    if not ours:
        return "*No run of the report's configurations yet.*"
    spread, tests = seed_spread(runs), {(c.name, c.kind == "seed 0"): c for c in comparisons(runs)}
    tested = any(c.t is not None for c in tests.values())  # columns of t and p only where there is a σ

    def row(label: str, cells: list[str], diff: str, test: Comparison | None) -> str:
        extra = [signed(test.t, 1) if test and test.t is not None else "–", p_value(test.p_holm if test else None)]
        return markdown_row([label, *cells[:3], diff, *(extra if tested else []), *cells[3:]])

    lines = [markdown_row(["configuration", "D", "R", "D + βR", "Δ", *(["t", "p"] if tested else []), "IWAE NLL"]),
             markdown_row(["---", *["---:"] * (7 if tested else 5)])]
    for name, m in ours.items():
        bce, kl, total = ORIGINAL_TABLE1[key(m)]
        lines.append(row(_link(name, *key(m), pages), [f"{m[term]:.2f}" for term in _TERMS],
                         difference(m["test_total"], total), tests[(name, True)]))
        if stats := spread.get(key(m)):
            lines.append(row(f"*mean of {number(stats['test_total'][2])} seeds*",
                             [plus_minus(*stats[term][:2]) for term in _TERMS],
                             difference(stats["test_total"][0], total), tests[(name, False)]))
        lines.append(markdown_row(["*report*", f"{bce:.2f}", f"{kl:.2f}", f"{total:.2f}", "",
                                   *(["", ""] if tested else []), "–"]))
    return "\n".join(lines)


def judged(test: Comparison) -> str:
    """A comparison's verdict in words: ``"|t| = 1.8 on 18 degrees of freedom, p = 0.083 (Holm: 0.58):
    within the noise of seeds and draws"``."""
    p = f"p{NBSP}={NBSP}{p_value(test.p)}" + (f" (Holm: {p_value(test.p_holm)})" if test.p_holm is not None else "")
    verdict = "beyond the noise of seeds and draws" if test.differs else "within the noise of seeds and draws"
    return f"|t|{NBSP}={NBSP}{abs(test.t):.1f} on {test.df:.0f} degrees of freedom, {p}: {verdict}"


def verdicts(runs: dict[str, dict], pages: str | None = None) -> str:
    """One markdown bullet per Table 1 configuration: its total against the report's, by the mean
    over its seeds (± their standard deviation) where it has several, judged by :data:`TOLERANCE`
    and by :func:`comparisons`' test."""
    lines, spread = [], seed_spread(runs)
    means = {c.name: c for c in comparisons(runs) if c.kind != "seed 0"}
    for name, m in table1_runs(runs).items():
        report, stats = ORIGINAL_TABLE1[key(m)][2], spread.get(key(m))
        test = means.get(name)
        mean = stats["test_total"][0] if stats else m["test_total"]
        ours = (f"{plus_minus(mean, stats['test_total'][1])} over {counted(stats['test_total'][2], 'seed')}"
                if stats else f"{mean:.2f} (one seed)")
        within = abs(mean / report - 1) <= TOLERANCE
        line = (f"- {_link(name, *key(m), pages)}: {ours} against the report's {report:.2f}, "
                f"Δ{NBSP}={NBSP}{difference(mean, report)}, {'within' if within else 'outside'} the "
                f"{TOLERANCE:.0%} tolerance; ")
        line += (judged(test) + "." if test else "not repeated with other seeds, so there is no σ to set Δ against.")
        lines.append(line)
    return "\n".join(lines)


def outcome(runs: dict[str, dict]) -> dict[str, float | int | str]:
    """The verdict on Table 1 in numbers and as sentences (plain text, for any page), each row by
    the mean over its seeds where it has several.

    Returns:
        ``rows`` (Table 1 configurations), ``within`` (of those, within :data:`TOLERANCE`),
        ``largest`` (the largest relative difference, signed) and ``largest_name``, ``spread`` (the
        largest noise σ of a total, nats), ``beyond`` (rows that differ beyond noise by
        :func:`comparisons`), ``sentence`` (the verdict) and ``noise`` (each latent size's σ, and the
        rows beyond it).
    """
    table, spread = table1_runs(runs), seed_spread(runs)
    if not table:
        return {"rows": 0, "within": 0, "sentence": "No run of the report's configurations yet.", "noise": ""}
    estimates = {name: spread[key(m)]["test_total"][0] if key(m) in spread else m["test_total"]
                 for name, m in table.items()}
    diffs = {name: estimates[name] / ORIGINAL_TABLE1[key(m)][2] - 1 for name, m in table.items()}
    name = max(diffs, key=lambda k: abs(diffs[k]))
    within = sum(abs(d) <= TOLERANCE for d in diffs.values())
    result = {"rows": len(diffs), "within": within, "largest": diffs[name], "largest_name": name}
    if within == len(diffs) and within > 1:
        share = f"All {number(within)} of the report's Table 1 configurations land"
    else:
        share = (f"{'None' if within == 0 else number(within).capitalize()} of the report's "
                 f"{number(len(diffs))} Table 1 configurations {'lands' if within == 1 else 'land'}")
    repeated = [n for n, m in table.items() if key(m) in spread]
    counts = sorted({stats["test_total"][2] for stats in spread.values()})
    by = (f", by the mean of {' or '.join(number(c) for c in counts)} seeds" if len(repeated) == len(table) else
          f", {number(len(repeated))} of them by the mean of their seeds" if repeated else "")
    sentence = (f"{share} within {TOLERANCE:.0%} of its totals{by}; the largest difference is "
                f"{percent(diffs[name])} ({configuration(*key(table[name]))})")
    if not spread:
        return result | {"beyond": 0, "sentence": sentence + ".", "noise": ""}
    result["spread"] = max(noise(stats) for stats in spread.values())
    tests = [c for c in comparisons(runs) if c.kind != "seed 0"]
    beyond = [c for c in tests if c.differs]
    result["beyond"] = len(beyond)
    closest = min(tests, key=lambda c: c.p_holm)
    if beyond:
        rows = ", ".join(f"{configuration(c.n, c.beta)} ({signed(c.diff)} nats, |t|{NBSP}={NBSP}{abs(c.t):.1f}, "
                         f"Holm p{NBSP}={NBSP}{p_value(c.p_holm)})" for c in sorted(beyond, key=lambda c: c.p_holm))
        which = "the one row" if len(tests) == 1 else f"{number(len(beyond))} of the {number(len(tests))} rows"
        verdict = (f"Tested against the noise of seeds and draws, {which} "
                   f"{'differs' if len(beyond) == 1 else 'differ'} from the report "
                   f"at a family-wise error rate of {ALPHA:.0%}: {rows}")
    else:
        verdict = (f"Tested against the noise of seeds and draws, no row differs from the report at a "
                   f"family-wise error rate of {ALPHA:.0%}; the closest is {configuration(closest.n, closest.beta)}, "
                   f"{signed(closest.diff)} nats, |t|{NBSP}={NBSP}{abs(closest.t):.1f}, Holm p{NBSP}={NBSP}"
                   f"{p_value(closest.p_holm)}")
    sizes = sorted({k[0] for k in spread})
    stds = {n: sorted(noise(stats) for k, stats in spread.items() if k[0] == n) for n in sizes}
    widths = "; ".join(f"n{NBSP}={NBSP}{n}: {values[0]:.2f}" if len(values) == 1 else
                       f"n{NBSP}={NBSP}{n}: {values[0]:.2f} to {values[-1]:.2f}" for n, values in stds.items())
    result["sentence"] = sentence + ". " + verdict + "."
    result["noise"] = (f"The standard deviation σ of a total over seeds and over the draws of z in its "
                       f"evaluation, in nats, is {widths}. {verdict}.")
    return result


def draws(runs: dict[str, dict]) -> str:
    """How much the draws of z in an evaluation move a Table 1 objective, in a sentence: the range of
    the draws' part of :func:`vaecore.runs.noise` over the configurations with seeds, and the largest
    beside its seeds' spread."""
    spread = seed_spread(runs)
    by = {k: draw_sd(stats) for k, stats in spread.items() if k in ORIGINAL_TABLE1 and draw_sd(stats) is not None}
    if not by:
        return ""
    top = max(by, key=by.get)
    seeds_sd = spread[top]["test_total"][1]
    than = "more than" if by[top] > seeds_sd else "less than"
    return (f"The draws of z in an evaluation alone move a total by {min(by.values()):.2f} to {by[top]:.2f} nats "
            f"(a standard deviation over repeated draws), the most at {configuration(*top)}: {than} its seeds' "
            f"spread of {seeds_sd:.2f}.")


def seed_table(runs: dict[str, dict], pages: str | None = None) -> str:
    """Every configuration run with several seeds as markdown: its seeds (each linked to its page
    where ``pages`` is given), the mean ± standard deviation over them of the objective D + βR, its
    difference from the report's where the report has the configuration, the IWAE NLL and the
    active units."""
    spread = seed_spread(runs)
    if not spread:  # an empty table has no body, which LaTeX cannot typeset
        return "*No configuration has been run with more than one seed yet.*"
    names = seeds(runs)
    lines = [markdown_row(["configuration", "seeds", "D + βR", "Δ mean", "IWAE NLL", "active units"]),
             markdown_row(["---", "---", "---:", "---:", "---:", "---:"])]
    for k, stats in spread.items():
        mean, std, _ = stats["test_total"]
        report = ORIGINAL_TABLE1.get(k, (None, None, None))[2]
        links = [f"[{seed}]({pages}/{name}.ipynb)" if pages else str(seed) for seed, name in names[k].items()]
        active = plus_minus(*stats["active_units"][:2], places=1) if "active_units" in stats else "–"
        lines.append(markdown_row([configuration(*k, nbsp=True), f",{NBSP}".join(links), plus_minus(mean, std),
                                   difference(mean, report) if report else "–",
                                   plus_minus(*stats["test_iwae_nll"][:2]), active]))
    return "\n".join(lines)


def seed_counts(runs: dict[str, dict]) -> str:
    """How many seeds each configuration of :func:`seed_table` ran with, in words: ``"three seeds"``."""
    counts = sorted({stats["test_total"][2] for stats in seed_spread(runs).values()})
    return " or ".join(number(c) for c in counts) + " seeds"


def epochs(runs: dict[str, dict]) -> str:
    """The epochs the Table 1 runs trained for, in words: ``"300"``, or ``"300 and 20"`` where they differ."""
    counts = sorted({len(m["history"]["epoch"]) for m in table1_runs(runs).values()})
    return " and ".join(str(c) for c in counts)


def against_report(runs: dict[str, dict]) -> dict[str, tuple[dict, float]]:
    """Each Table 1 run with the report's total for its configuration, by run name."""
    return {name: (m, ORIGINAL_TABLE1[key(m)][2]) for name, m in table1_runs(runs).items()}


def best(runs: dict[str, dict], term: str) -> tuple[str, dict]:
    """The Table 1 run with the lowest ``term`` (e.g. ``"test_iwae_nll"``), with its name."""
    return min(table1_runs(runs).items(), key=lambda item: item[1][term])


def largest_difference(runs: dict[str, dict], other: dict[str, dict]) -> tuple[str, float]:
    """The Table 1 run whose test total differs most from the run of the same name in ``other``.

    Returns:
        Its name and the relative difference (``runs`` over ``other``, minus one).
    """
    diffs = {name: m["test_total"] / other[name]["test_total"] - 1
             for name, m in table1_runs(runs).items() if name in other}
    name = max(diffs, key=lambda k: abs(diffs[k]))
    return name, diffs[name]

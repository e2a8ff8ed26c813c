"""A run page's opening box: its objective against the report's, computed from the committed runs
when the book is built (``book/_ext/verdict.py``), so that no page bakes in another run's numbers."""

from __future__ import annotations

from vaecore.original import ORIGINAL_TABLE1, departures
from vaecore.runs import key, noise, seed_spread, study_sizes
from vaecore.table1 import TOLERANCE, degrees_of_freedom, p_value, t_test
from vaecore.words import NBSP, configuration, counted, difference, plus_minus


def box(metrics: dict, runs: dict[str, dict]) -> str:
    """The "Against the report" box (MyST markdown) of the run whose metrics are ``metrics``: its
    objective against the report's for the same configuration, and the test of the difference
    (:func:`vaecore.table1.t_test` of one run, against the noise of its configuration's seeds in
    ``runs``); or, for a configuration the report lacks, its numbers and its seeds' spread; and a
    reference to its row in Table 1 or the β table.

    Args:
        metrics: the run's metrics.
        runs: the book's CPU runs by name, for the spread over seeds.
    """
    config, (n, beta) = metrics["config"], key(metrics)
    label, gpu, ours = configuration(n, beta), config.get("device") == "cuda", metrics["test_total"]
    stats = seed_spread(runs).get((n, beta))
    if changed := departures(config):
        body = (f"This run departs from the report's protocol ({', '.join(changed)}), so it is not compared "
                f"with the report: D{NBSP}+{NBSP}βR{NBSP}={NBSP}{ours:.2f} nats per test image.")
    elif (n, beta) in ORIGINAL_TABLE1:
        report = ORIGINAL_TABLE1[(n, beta)][2]
        diff = ours - report
        within = abs(diff / report) <= TOLERANCE
        body = (f"The objective D{NBSP}+{NBSP}βR on the test set: **{ours:.2f}** nats per image against "
                f"{report:.2f} in the report {{cite:p}}`xue2024`, Δ{NBSP}={NBSP}{difference(ours, report)}, "
                f"{'within' if within else 'outside'} the {TOLERANCE:.0%} tolerance.")
        if stats:
            sigma, df = noise(stats), degrees_of_freedom(stats)
            sd, t, p, _ = t_test(diff, sigma, df, runs=1)
            body += (f" Over {counted(stats['test_total'][2], 'seed')} and the draws of z in its evaluation, one "
                     f"run's objective has a standard deviation σ{NBSP}={NBSP}{sigma:.2f} nats, so the difference "
                     f"of one run from the report's one has σ·√2{NBSP}={NBSP}{sd:.2f}: "
                     f"|t|{NBSP}={NBSP}{abs(t):.1f} on {df:.0f} degrees of freedom, p{NBSP}={NBSP}{p_value(p)}.")
        else:
            body += " The configuration was run with one seed, so there is no σ to set Δ against."
        table = "tab-seeds" if config["seed"] != 0 else "tab-table1-gpu" if gpu else "tab-table1"
        body += f" Its row: {label} in {{numref}}`{table}`."
    else:
        body = (f"The report has no run of {label}. Here D{NBSP}+{NBSP}βR{NBSP}={NBSP}{ours:.2f}, "
                f"D{NBSP}+{NBSP}R{NBSP}={NBSP}{metrics['test_recon'] + metrics['test_kl']:.2f} and the IWAE "
                f"NLL is {metrics['test_iwae_nll']:.2f} nats per test image.")
        if stats:
            body += (f" Over {counted(stats['test_iwae_nll'][2], 'seed')} the IWAE NLL of this configuration is "
                     f"{plus_minus(*stats['test_iwae_nll'][:2])} nats.")
        if n in study_sizes(runs) and not gpu:  # the β study's configurations, every seed
            body += f" Its row: {label} in {{numref}}`tab-beta`."
    return f":::{{admonition}} Against the report\n:class: important\n{body}\n:::"

"""The book's tables: Table 1 against the report and the test of each difference, the spread over seeds, the cost tables and the words they are written in."""

import json
import math
import statistics

import pytest

from vaecore.config import Config
from vaecore.original import ORIGINAL_TABLE1
from vaecore.page import metrics_table
from vaecore.runs import SeedClash, seed_spread, seeds
from vaecore.runs import load as load_runs
from vaecore.table1 import (TOLERANCE, comparisons, draws, epochs, holm, largest_difference, outcome, seed_counts,  # noqa: F401
                            seed_table, t_test, table1, verdicts)
from vaecore.timings import bench_table, cost, makespan, sweep_parts, sweeps_table
from vaecore.verdict import box as verdict
from vaecore.words import MINUS, NBSP, counted, difference, listed, percent, signed


def metrics(n, beta, seed, total, recon=None, kl=5.0, iwae=None, epochs=3):
    """A minimal metrics.json dict."""
    return {"config": {"n": n, "beta": beta, "seed": seed, "likelihood": "bernoulli"},
            "test_recon": total - beta * kl if recon is None else recon, "test_kl": kl,
            "test_total": total, "test_iwae_nll": total - 3 if iwae is None else iwae,
            "iwae_k": 1000, "history": {"epoch": list(range(1, epochs + 1))}}


def rows(table):
    return table.splitlines()[2:]


def cells(row):
    return [c.strip() for c in row.strip("|").split("|")]


def label(n, beta):
    return f"n{NBSP}={NBSP}{n}, β{NBSP}={NBSP}{beta}"


def test_table1_rows_have_ours_above_the_reports_and_the_difference():
    """Two rows a configuration: ours (D, R, D + βR, the difference, IWAE NLL), then the report's."""
    runs = {"n1": metrics(1, 1, 0, total=150.0, recon=146.5, kl=3.5, iwae=148.25, epochs=300)}
    ours, report = rows(table1(runs))
    assert cells(ours) == [label(1, 1), "146.50", "3.50", "150.00", f"{MINUS}11.04{NBSP}({MINUS}6.86%)", "148.25"]
    assert cells(report) == ["*report*", "156.82", "4.22", "161.04", "", "–"]


def test_table1_links_each_configuration_to_its_run_page():
    """With ``pages``, the configuration links to ``<pages>/<run name>.ipynb``."""
    ours, _ = rows(table1({"n2-beta1": metrics(2, 1, 0, 150.0)}, pages="experiments"))
    assert cells(ours)[0] == f"[{label(2, 1)}](experiments/n2-beta1.ipynb)"


def test_table1_keeps_seed_0_runs_of_the_report_in_its_order():
    """Other seeds and configurations the report lacks are left out; rows follow the report."""
    runs = {"a": metrics(64, 10.0, 0, 170.0), "b": metrics(2, 1, 0, 150.0),
            "c": metrics(2, 1, 1, 999.0), "d": metrics(16, 1.0, 0, 888.0), "e": metrics(64, 0.1, 0, 70.0)}
    table = table1({name: m for name, m in runs.items() if name != "c"})
    assert [cells(r)[0] for r in rows(table)] == [label(2, 1), "*report*", label(64, 0.1), "*report*",
                                                   label(64, 10), "*report*"]
    assert "999" not in table1(runs).splitlines()[2] and "888" not in table1(runs)
    assert f"+5.51{NBSP}(+3.81%)" in table  # 150 - 144.49 (n = 2)
    assert f"+3.06{NBSP}(+4.57%)" in table  # 70 - 66.94 (n = 64, beta = 0.1)


def test_only_runs_at_the_reports_protocol_count():
    """A short run on a slice of the images (params/smoke.yaml's n = 2, β = 1) is neither a row of
    Table 1, nor a seed of the spread, nor part of the outcome: only 300 epochs on all the images,
    hidden 256-256, lr 1e-4 and batches of 256 are the report's protocol."""
    runs = {"n2-beta1": metrics(2, 1, 0, 144.0), "n2-beta1-seed1": metrics(2, 1, 1, 144.2)}
    smoke = Config(n=2, epochs=2, train_size=2000, test_size=500, iwae_k=50)
    runs["smoke"] = metrics(2, 1, 0, 524.6) | {"config": smoke.to_dict()}
    for key, value in [("lr", 1e-3), ("batch_size", 128), ("hidden", [512]), ("epochs", 20), ("test_size", 500)]:
        runs[f"n2-seed3-{key}"] = metrics(2, 1, 3, 300.0) | {"config": {"n": 2, "beta": 1, "seed": 3, key: value}}
    assert [cells(row)[0] for row in rows(table1(runs))] == [label(2, 1), "*mean of two seeds*",
                                                             "*report*"]
    assert seed_spread(runs)[(2, 1.0)]["test_total"][2] == 2
    assert outcome(runs)["rows"] == 1 and "524" not in outcome(runs)["sentence"]


def test_header_and_separator_have_as_many_cells_as_rows():
    """The markdown table is well formed: every line has 6 cells (8 with the test's t and p)."""
    lines = table1({"a": metrics(1, 1.0, 0, 160.0)}).splitlines()
    assert len(lines) == 4 and all(line.count("|") == 7 for line in lines)
    lines = table1({"a": metrics(1, 1.0, 0, 160.0), "b": metrics(1, 1.0, 1, 161.0)}).splitlines()
    assert len(lines) == 5 and all(line.count("|") == 9 for line in lines)


def test_signed_numbers_use_a_minus_and_no_sign_on_zero():
    assert signed(-0.494) == f"{MINUS}0.49" and signed(0.494) == "+0.49"
    assert signed(-0.001) == "0.00" and signed(0.0) == "0.00"


def test_percent_never_reads_minus_zero():
    """Two decimals, every one; a difference that rounds to zero has no sign."""
    assert percent(-0.003) == f"{MINUS}0.30%"
    assert percent(0.0001) == "+0.01%"
    assert percent(-0.00004) == "0.00%"
    assert "-0.0" not in difference(100.04, 100.03) and difference(100.04, 100.03) == f"+0.01{NBSP}(+0.01%)"


def test_counted_uses_words():
    assert counted(1, "thread") == "one thread" and counted(2, "thread") == "two threads"
    assert counted(16, "seed") == "16 seeds"


def test_epochs_of_the_table1_runs():
    assert epochs({"a": metrics(1, 1, 0, 160.0, epochs=300), "b": metrics(2, 1, 0, 140.0, epochs=300)}) == "300"
    assert epochs({"a": metrics(1, 1, 0, 160.0, epochs=300), "b": metrics(2, 1, 0, 140.0, epochs=20)}) == "20 and 300"


def test_seed_spread_mean_and_stdev():
    """Mean, sample standard deviation and count over seeds, per (n, beta) run more than once."""
    totals = [100.0, 104.0, 99.0]
    runs = {f"s{s}": metrics(64, 1.0, s, t, kl=20.0 + s) for s, t in enumerate(totals)}
    runs["single"] = metrics(2, 1.0, 0, 150.0)
    spread = seed_spread(runs)
    assert list(spread) == [(64, 1.0)]
    mean, stdev, count = spread[(64, 1.0)]["test_total"]
    assert count == 3
    assert mean == pytest.approx(101.0)
    assert stdev == pytest.approx(((1 + 9 + 4) / 2) ** 0.5)  # sample (n - 1) standard deviation
    assert spread[(64, 1.0)]["test_kl"][:2] == pytest.approx((21.0, 1.0))
    assert spread[(64, 1.0)]["test_iwae_nll"][0] == pytest.approx(98.0)


def test_seed_spread_groups_int_and_float_beta():
    """beta 1 and beta 1.0 are the same configuration."""
    assert list(seed_spread({"a": metrics(2, 1, 0, 140.0), "b": metrics(2, 1.0, 1, 142.0)})) == [(2, 1.0)]


def test_seeds_refuses_two_runs_of_one_seed():
    """A CPU run and its GPU twin are both seed 0: the seeds of a configuration are not silently one of them."""
    gpu = metrics(64, 0.1, 0, 71.0) | {"config": metrics(64, 0.1, 0, 71.0)["config"] | {"device": "cuda"}}
    runs = {"n64-beta0p1": metrics(64, 0.1, 0, 70.0), "n64-beta0p1-gpu": gpu,
            "n64-beta0p1-seed1": metrics(64, 0.1, 1, 70.2)}
    with pytest.raises(SeedClash, match="n64-beta0p1 and n64-beta0p1-gpu are both seed 0 of n = 64, β = 0.1"):
        seeds(runs)
    with pytest.raises(SeedClash):  # not two rows of n = 64, β = 0.1 in Table 1
        table1(runs)
    assert seeds({k: m for k, m in runs.items() if k != "n64-beta0p1-gpu"}) == {
        (64, 0.1): {0: "n64-beta0p1", 1: "n64-beta0p1-seed1"}}


def test_table1_with_seeds_gives_their_mean_and_the_test_of_each_difference():
    """A configuration with seeds: its seed-0 row, then the seeds' mean ± σ of every figure, and the
    difference from the report's total in nats and percent, with its t and Holm-adjusted p."""
    totals = [100.13, 100.03, 100.23]  # the report's 100.03; mean 100.13, σ 0.10
    runs = {f"s{s}": metrics(64, 1.0, s, t, recon=t - 20.0, kl=20.0, iwae=t - 4.0) for s, t in enumerate(totals)}
    header, _, seed0, seeds, report = table1(runs).splitlines()
    assert cells(header) == ["configuration", "D", "R", "D + βR", "Δ", "t", "p", "IWAE NLL"]
    # seed 0: Δ = 0.10 against σ√2 = 0.141, t = 0.71 on 2 degrees of freedom
    assert cells(seed0)[3:7] == ["100.13", f"+0.10{NBSP}(+0.10%)", "+0.7", "0.55"]
    # the mean of three: Δ = 0.10 against σ√(4/3) = 0.115, t = 0.87
    assert cells(seeds) == ["*mean of three seeds*", f"80.13{NBSP}±{NBSP}0.10", f"20.00{NBSP}±{NBSP}0.00",
                            f"100.13{NBSP}±{NBSP}0.10", f"+0.10{NBSP}(+0.10%)", "+0.9", "0.48", f"96.13{NBSP}±{NBSP}0.10"]
    assert cells(report)[:7] == ["*report*", "76.23", "23.80", "100.03", "", "", ""]


def test_the_difference_of_a_mean_from_one_run_has_the_variance_of_both():
    """The headline case: a mean of three seeds 0.119 nats from the report, with a run's σ = 0.056,
    is 0.119 / (0.056·√(4/3)) = 1.8 standard deviations away, not 2.1; one run needs σ·√2."""
    sd, t, p, half = t_test(-0.119, 0.056, df=1e9, runs=3)
    assert sd == pytest.approx(0.056 * math.sqrt(4 / 3)) and t == pytest.approx(-1.84, abs=0.01)
    assert p == pytest.approx(0.066, abs=0.002) and half == pytest.approx(1.96 * sd, rel=1e-3)
    assert t_test(0.1, 0.1, df=2, runs=1)[0] == pytest.approx(0.1 * math.sqrt(2))
    assert t_test(0.1, 0.1, df=2, runs=1)[2] > t_test(0.1, 0.1, df=1e9, runs=1)[2]  # few degrees: wider


def test_holm_adjusts_the_smallest_p_by_the_family_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5] and holm([0.9, 0.3]) == pytest.approx([0.9, 0.6])


def test_the_degrees_of_freedom_of_seeds_and_draws_by_welch_and_satterthwaite():
    """Three seeds alone give 2 degrees of freedom; draws measured eight times a seed add up to 21."""
    from vaecore.table1 import degrees_of_freedom

    seeds_only = {"test_total": (100.0, 0.1, 3)}
    assert degrees_of_freedom(seeds_only) == pytest.approx(2)
    both = {"test_total": (100.0, 0.1, 3), "test_total_draw_sd": (0.1, 0.0, 3)}
    assert degrees_of_freedom(both) == pytest.approx(0.02 ** 2 / (0.01 ** 2 / 2 + 0.01 ** 2 / 21))


def test_comparisons_are_judged_together_by_holm():
    """Seven rows at once: a row differs beyond noise only when its Holm-adjusted p is below 0.05."""
    runs = {}
    for (n, beta), (_, _, total) in ORIGINAL_TABLE1.items():
        for seed, offset in enumerate((0.0, 0.1, -0.1)):
            runs[f"{n}-{beta}-{seed}"] = metrics(n, beta, seed, total + offset + (5.0 if n == 1 else 0.0))
    found = [c for c in comparisons(runs) if c.kind != "seed 0"]
    assert len(found) == 7 and [c.name for c in found if c.differs] == ["1-1.0-0"]
    far = next(c for c in found if c.n == 1)
    assert far.p_holm == pytest.approx(min(1, 7 * far.p)) and far.low < far.diff < far.high


def test_seed_table_row():
    """The seed table: each seed linked to its page, mean ± σ of D + βR, the difference of the mean from
    the report's total, and mean ± σ of the IWAE NLL and of the active units."""
    runs = {"a": metrics(2, 1.0, 0, 140.0, kl=6.0) | {"active_units": 2},
            "b": metrics(2, 1.0, 1, 142.0, kl=8.0) | {"active_units": 1}}
    [row] = rows(seed_table(runs, pages="experiments"))
    assert f"{statistics.stdev([140.0, 142.0]):.2f}" == "1.41"
    assert cells(row) == [label(2, 1), f"[0](experiments/a.ipynb),{NBSP}[1](experiments/b.ipynb)",
                          f"141.00{NBSP}±{NBSP}1.41", f"{MINUS}3.49{NBSP}({MINUS}2.42%)", f"138.00{NBSP}±{NBSP}1.41",
                          f"1.5{NBSP}±{NBSP}0.7"]


def test_seed_table_without_active_units_shows_a_dash():
    """Active units need every seed to have counted them."""
    runs = {"a": metrics(2, 1.0, 0, 140.0) | {"active_units": 2}, "b": metrics(2, 1.0, 1, 142.0)}
    assert cells(rows(seed_table(runs))[0])[-1] == "–"


def test_seed_counts_in_words():
    runs = {"a": metrics(2, 1.0, 0, 140.0), "b": metrics(2, 1.0, 1, 142.0), "c": metrics(2, 1.0, 2, 141.0),
            "d": metrics(1, 1.0, 0, 160.0), "e": metrics(1, 1.0, 1, 161.0)}
    assert seed_counts(runs) == "two or three seeds"
    assert seed_counts({k: runs[k] for k in "abc"}) == "three seeds"


def test_seed_table_with_a_configuration_the_report_lacks():
    """Several seeds of a configuration not in the report do not break the seed table."""
    runs = {"a": metrics(16, 1.0, 0, 110.0), "b": metrics(16, 1.0, 1, 112.0)}
    assert "111.00" in seed_table(runs)


def test_metrics_table():
    """One run's figures with the IWAE k in its label."""
    table = metrics_table(metrics(2, 1.0, 0, 150.0, recon=143.0, kl=7.0, iwae=147.5))
    assert "| distortion D (BCE) | 143.00 |" in table
    assert "| rate R (KL) | 7.00 |" in table
    assert "| objective D + βR, β = 1 | 150.00 |" in table
    assert "| IWAE NLL (k = 1000) | 147.50 |" in table


def test_load_runs(tmp_path):
    """Every published run in a folder, by name: metrics with their weights beside them; a sweep's
    half-published copies, hidden files and metrics without weights are no runs."""
    for name in ("n2-beta1", ".n2-beta1-seed3.partial", "n2-beta1-seed4"):
        (tmp_path / f"{name}.json").write_text(json.dumps(metrics(2, 1.0, 0, 150.0)))
    for name in ("n2-beta1", ".n2-beta1-seed3.partial"):
        (tmp_path / f"{name}.pt").write_bytes(b"weights")
    (tmp_path / "n2-beta1.ipynb").write_text("{}")
    runs = load_runs(tmp_path)
    assert list(runs) == ["n2-beta1"] and runs["n2-beta1"]["test_total"] == 150.0


def test_original_table_is_internally_consistent():
    """The report's totals are BCE + beta * KL to within its rounding (guards the typed-in numbers)."""
    for (n, beta), (bce, kl, total) in ORIGINAL_TABLE1.items():
        assert total == pytest.approx(bce + beta * kl, abs=0.06), (n, beta)


def test_empty_tables_are_a_sentence_not_a_bodiless_table():
    """With no runs, the tables say so in words (LaTeX cannot typeset a table without rows)."""
    assert not table1({}).startswith("|")
    assert not seed_table({}).startswith("|")


def test_makespan_starts_jobs_in_order_on_the_first_free_worker():
    """As a process pool runs them: 3 and 1 start at once, 2 follows the 1, 4 follows the 3."""
    assert makespan([3.0, 1.0, 2.0, 4.0], workers=2) == 7.0
    assert makespan([3.0, 1.0, 2.0], workers=1) == 6.0
    assert makespan([5.0], workers=4) == 5.0


def timed(n, beta, train_seconds, eval_seconds, threads=1):
    m = metrics(n, beta, 0, 100.0, epochs=300)
    m.update(train_seconds=train_seconds, eval_seconds=eval_seconds, train_images=60000, test_images=10000,
             machine={"cpu": "cpu", "cores": 2, "threads": threads})
    return m


def test_cost_sums_the_runs_and_schedules_them_on_the_cores():
    """Two single-thread runs at a time on 2 cores, the most FLOPs first as the sweep starts them:
    c (n = 64, 7 min) and b (n = 2, 4 min) at once, then a (n = 1, 10 min) after b, ending at 14."""
    runs = {"a": timed(1, 1.0, 540, 60), "b": timed(2, 1.0, 180, 60), "c": timed(64, 1.0, 360, 60),
            "other-seed": {**timed(64, 1.0, 9999, 0), "config": {**timed(64, 1.0, 0, 0)["config"], "seed": 1}}}
    cost_ = cost(runs)
    assert (cost_["runs"], cost_["epochs"], cost_["workers"]) == (3, 900, 2)
    assert cost_["train_minutes"] == pytest.approx(18.0) and cost_["eval_minutes"] == pytest.approx(3.0)
    assert cost_["epoch_seconds"] == pytest.approx(1080 / 900)
    assert cost_["sweep_minutes"] == pytest.approx(14.0)
    assert cost_["machine"] == "cpu, 2 cores, one thread per run"


def test_verdicts_follow_the_report_and_judge_by_the_tolerance():
    """One line per configuration, in the report's order: the difference and the tolerance it is judged by."""
    runs = {"a": metrics(64, 10.0, 0, 180.0), "b": metrics(1, 1, 0, 170.0)}
    first, second = verdicts(runs).splitlines()
    assert first.startswith(f"- {label(1, 1)}: 170.00 (one seed) against the report's 161.04")
    assert f"+8.96{NBSP}(+5.56%), outside the {TOLERANCE:.0%} tolerance" in first
    assert second.startswith(f"- {label(64, 10)}: 180.00") and "within the 1% tolerance" in second
    assert second.endswith("not repeated with other seeds, so there is no σ to set Δ against.")


def test_verdicts_judge_the_mean_of_the_seeds_by_the_test_of_the_difference():
    """Where other seeds were run: the mean ± the seeds' spread, and the t-test of the mean's difference
    with its degrees of freedom, p and Holm-adjusted p, within or beyond the noise."""
    runs = {"s0": metrics(2, 1, 0, 145.49), "s1": metrics(2, 1, 1, 144.0), "s2": metrics(2, 1, 2, 146.0)}
    [line] = verdicts(runs, pages="experiments").splitlines()
    mean, std = statistics.mean([145.49, 144.0, 146.0]), statistics.stdev([145.49, 144.0, 146.0])
    assert line.startswith(f"- [{label(2, 1)}](experiments/s0.ipynb): {mean:.2f}{NBSP}±{NBSP}{std:.2f} over three "
                           f"seeds against the report's 144.49")
    t = (mean - 144.49) / (std * math.sqrt(4 / 3))
    assert f"|t|{NBSP}={NBSP}{t:.1f} on 2 degrees of freedom" in line
    assert line.endswith("within the noise of seeds and draws.")
    tight = {"s0": metrics(2, 1, 0, 145.3), "s1": metrics(2, 1, 1, 145.4), "s2": metrics(2, 1, 2, 145.2)}
    [line] = verdicts(tight).splitlines()  # 0.81 nats off with σ = 0.1: t = 7.0 on 2 degrees, p = 0.02
    assert line.endswith("beyond the noise of seeds and draws.")
    for m in tight.values():  # the evaluation's draws of z move each total by 0.5 nats: 0.81 is within that
        m["test_total_draw_sd"] = 0.5
    [line] = verdicts(tight).splitlines()
    assert f"145.30{NBSP}±{NBSP}0.10 over three seeds" in line  # the seeds' spread; σ is the noise
    assert line.endswith("within the noise of seeds and draws.")


def test_outcome_judges_each_row_by_its_seeds_mean_and_names_the_largest_difference():
    runs = {"a": metrics(1, 1, 0, 161.04 * 1.005), "b": metrics(2, 1, 0, 144.49 * 0.98),
            "c": metrics(2, 1, 1, 144.49 * 0.99)}
    result = outcome(runs)
    assert (result["rows"], result["within"], result["largest_name"]) == (2, 1, "b")
    assert result["largest"] == pytest.approx(-0.015)  # the mean of b and c
    assert result["spread"] == pytest.approx(statistics.stdev([144.49 * 0.98, 144.49 * 0.99]))
    assert result["sentence"].startswith("One of the report's two Table 1 configurations lands within 1% of its "
                                         "totals, one of them by the mean of their seeds;")
    assert f"largest difference is {MINUS}1.50% (n = 2, β = 1)." in result["sentence"]
    # n = 2's mean is 2.17 nats below the report: t = 2.17 / (1.02·√1.5) = 1.7 on 1 degree of freedom
    assert result["beyond"] == 0
    assert (f"no row differs from the report at a family-wise error rate of 5%; the closest is n = 2, β = 1, "
            f"{MINUS}2.17 nats, |t|{NBSP}={NBSP}1.7") in result["sentence"]
    assert result["noise"].startswith("The standard deviation σ of a total over seeds and over the draws of z in "
                                      f"its evaluation, in nats, is n{NBSP}={NBSP}2: 1.02. Tested against")


def test_outcome_names_the_rows_that_differ_beyond_noise():
    runs = {f"s{seed}": metrics(2, 1, seed, 146.0 + d) for seed, d in enumerate((0.0, 0.1, -0.1))}
    result = outcome(runs)
    assert result["beyond"] == 1
    assert "one of the one rows differs from the report" not in result["sentence"]
    assert "differs from the report at a family-wise error rate of 5%: n = 2, β = 1 (+1.51 nats" in result["sentence"]


def test_outcome_says_all_when_all_are_within():
    runs = {"a": metrics(1, 1, 0, 161.0), "b": metrics(2, 1, 0, 144.5)}
    assert outcome(runs)["sentence"].startswith("All two of the report's")
    assert outcome({})["rows"] == 0


def test_largest_difference_compares_runs_of_the_same_name_either_way():
    """The same configurations run twice (on a GPU and a CPU, say): the biggest relative gap, signed."""
    gpu = {"a": metrics(64, 1, 0, 101.0), "b": metrics(1, 1, 0, 158.4), "c": metrics(2, 1, 1, 999.0)}
    cpu = {"a": metrics(64, 1, 0, 100.0), "b": metrics(1, 1, 0, 160.0), "c": metrics(2, 1, 1, 140.0)}
    name, diff = largest_difference(gpu, cpu)  # c is not a Table 1 run (seed 1): left out
    assert name == "b" and diff == pytest.approx(-0.01)


def test_listed_joins_the_last_item_with_and():
    assert [listed(items) for items in ([1], [1, 2], [0, 1, 2])] == ["1", "1 and 2", "0, 1 and 2"]


def test_sweeps_table_one_row_per_record(tmp_path):
    """A row per recorded sweep (missing records left out); a sentence where there is none."""
    assert not sweeps_table({"CPU": tmp_path / "none.json"}).startswith("|")
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"wall_minutes": 52.4, "workers": 2, "threads_per_worker": 1,
                                "configs": ["a", "b"], "minutes": {"a": 30.0, "b": 20.0}, "failed": [],
                                "commit": "abc", "machine": {"cpu": "AMD EPYC", "cores": 2}}))
    floored = tmp_path / "floored.json"
    floored.write_text(json.dumps({**json.loads(path.read_text()), "floor_minutes": 20.0, "wall_over_floor": 2.62}))
    old, new = rows(sweeps_table({"CPU": path, "GPU": tmp_path / "none.json", "CPU again": floored}))
    assert cells(old) == ["CPU", "AMD EPYC, 2 cores", "2", "1", "52.4", "\u2013", "\u2013", "abc"]
    assert cells(new)[4:7] == ["52.4", "20.0", "2.62"]


def test_sweep_parts_sum_the_wall_clock_and_the_floor_of_every_part(tmp_path):
    """The ratio of the whole is the summed wall clock over the summed floor, not a mean of ratios."""
    paths = []
    for k, (wall, floor, runs) in enumerate([(60.0, 20.0, 4), (20.0, 10.0, 2)]):
        paths.append(tmp_path / f"sweep-seeds-{k}.json")
        paths[-1].write_text(json.dumps({"wall_minutes": wall, "floor_minutes": floor,
                                         "minutes": {f"r{i}": 1.0 for i in range(runs)}}))
    assert sweep_parts(paths) == {"parts": 2, "runs": 6, "wall_minutes": 80.0, "floor_minutes": 30.0,
                                  "wall_over_floor": pytest.approx(80 / 30)}


def test_bench_table_puts_records_side_by_side(tmp_path):
    """One column per record; what a record lacks (pythae absent, no profile) is a dash."""
    full = {"trainer_epoch_seconds": 2.0, "pythae_epoch_seconds": 3.0, "speedup_pythae": 1.5,
            "reference_epoch_seconds": 8.0, "speedup": 4.0, "matmul_gflops": 100.0, "trainer_gflops": 75.0,
            "matmuls_alone_gflops": 90.0,
            "profile": {"matrix products": 0.7, "the fused BCE": 0.1, "data": 0.02, "optimizer": 0.08,
                        "the rest": 0.1},
            "evaluation": {"iwae_seconds": 61.0, "iwae_fraction": 0.62, "tsne_seconds": 9.0, "tsne_codes": 2000,
                           "figures_seconds": 0.4,
                           "iwae_profile": {"matrix products": 0.6, "the likelihood": 0.3,
                                            "sampling z": 0.02, "the rest": 0.08}}}
    bare = {key: full[key] for key in ("trainer_epoch_seconds", "reference_epoch_seconds", "speedup",
                                       "matmul_gflops", "trainer_gflops")}
    (tmp_path / "a.json").write_text(json.dumps(full))
    (tmp_path / "b.json").write_text(json.dumps(bare))
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:4]]
            for line in bench_table({"one": tmp_path / "a.json", "two": tmp_path / "b.json"}).splitlines()}
    assert rows[""] == ["one", "two"]
    assert rows["pythae / vaecore"] == ["1.50", "\u2013"]
    assert rows["vaecore's share of the ceiling"] == ["75%", "75%"]
    assert rows["a step's products alone, share of the ceiling"] == ["90%", "\u2013"]
    assert rows["a step's time: matrix products"] == ["70%", "\u2013"]
    assert rows["IWAE k = 1000, s per 10,000 images"] == ["61", "\u2013"]
    assert rows["an IWAE's time: the likelihood"] == ["30%", "\u2013"]


def _run(n, beta, total, seed=0, **config):
    return {"config": {**Config(n=n, beta=beta, seed=seed, **config).to_dict()}, "test_total": total,
            "test_recon": total - 5, "test_kl": 5.0, "test_iwae_nll": total - 2, "history": {"epoch": [1]}}


def test_verdict_sets_a_run_against_the_reports_row_with_the_seeds_spread():
    """Δ = ours − report's, tested against σ·√2 (one run against the report's one) where there are
    seeds, and a reference to the row."""
    report = ORIGINAL_TABLE1[(2, 1.0)][2]
    runs = {f"s{seed}": _run(2, 1.0, report + d, seed) for seed, d in enumerate((1.0, 0.0, 2.0))}
    box = verdict(runs["s0"], runs)
    assert box.startswith(":::{admonition} Against the report")
    assert f"{MINUS}" not in box and "+1.00" in box  # Δ = +1.00 nats
    # the three totals' stdev is 1, so one run's difference has σ·√2 = 1.41: t = 0.7 on 2 degrees of freedom
    assert f"σ{NBSP}={NBSP}1.00" in box and f"σ·√2{NBSP}={NBSP}1.41" in box and f"|t|{NBSP}={NBSP}0.7 on 2" in box
    assert "{numref}`tab-table1`" in box and "{cite:p}`xue2024`" in box
    assert "{numref}`tab-seeds`" in verdict(runs["s1"], runs)
    assert "{numref}`tab-table1-gpu`" in verdict(_run(2, 1.0, report, device="cuda"), runs)
    assert "one seed" in verdict(_run(64, 0.1, 70.0), {})


def test_a_verdicts_p_is_written_as_table_1_writes_it():
    """Two significant digits below 0.1, as in Table 1 and the verdicts: a small p is not "0.00"."""
    report = ORIGINAL_TABLE1[(2, 1.0)][2]
    runs = {f"s{seed}": _run(2, 1.0, report + d, seed) for seed, d in enumerate((0.0, 0.1, 0.2))}
    # one run 1.10 nats off, σ·√2 = 0.14: t = 7.8 on 2 degrees of freedom, p = 1 − t/√(t² + 2) = 0.016
    box = verdict(_run(2, 1.0, report + 1.1, device="cuda"), runs)
    assert f"|t|{NBSP}={NBSP}7.8 on 2 degrees of freedom, p{NBSP}={NBSP}0.016." in box


def test_verdict_of_a_run_the_report_lacks_points_to_the_beta_table_or_to_its_departures():
    study = {f"{n}-{beta}": _run(n, beta, 100.0) for n in (2, 64) for beta in (0.2, 0.5, 1.0)}  # run at several β
    assert "Its row: n = 64, β = 0.2 in {numref}`tab-beta`" in verdict(_run(64, 0.2, 90.0), study)
    assert "Its row: n = 2, β = 0.5 in" in verdict(_run(2, 0.5, 150.0), study)  # the table has both n at β = 0.5
    assert "no run of n = 64, β = 0.2" in verdict(_run(64, 0.2, 90.0), study)
    assert "tab-beta" not in verdict(_run(16, 0.2, 90.0), study)  # a latent size the study did not vary
    seeds = {f"s{seed}": _run(64, 0.2, 90.0 + seed, seed) for seed in range(3)}
    assert "{numref}`tab-beta`" in verdict(seeds["s2"], seeds | {k: v for k, v in study.items() if k != "64-0.2"})  # every seed of the β study has its row there
    assert "Over three seeds the IWAE NLL of this configuration is " in verdict(seeds["s2"], seeds)
    smoke = verdict(_run(2, 1.0, 170.0, epochs=2, train_size=2000), {})
    assert "departs from the report's protocol (2 epochs, 2,000 training images)" in smoke
    assert "tab-" not in smoke


def test_draws_says_how_much_the_evaluations_draws_move_a_total_beside_the_seeds_spread():
    runs = {f"{n}-{seed}": metrics(n, beta, seed, total + seed * 0.1)
            for n, beta, total in ((64, 10.0, 180.0), (2, 1.0, 144.0)) for seed in range(3)}
    assert draws(runs) == ""  # runs that did not measure it
    for name, m in runs.items():
        m["test_total_draw_sd"] = 0.24 if name.startswith("64") else 0.02
    assert draws(runs) == ("The draws of z in an evaluation alone move a total by 0.02 to 0.24 nats (a standard "
                           "deviation over repeated draws), the most at n = 64, β = 10: more than its seeds' "
                           "spread of 0.10.")

"""The book's tables: ours beside the report's Table 1, and the spread over seeds."""

import json
import statistics

import pytest

from vaecore.bench import run_flops
from vaecore.report import (ORIGINAL_TABLE1, cost, floor, largest_difference, load_runs, makespan, metrics_table,
                            seed_spread, seed_table, table1, timed_sweep, verdicts)


def metrics(n, beta, seed, total, recon=None, kl=5.0, iwae=None, epochs=3):
    """A minimal metrics.json dict."""
    return {"config": {"n": n, "beta": beta, "seed": seed, "likelihood": "bernoulli"},
            "test_recon": total - beta * kl if recon is None else recon, "test_kl": kl,
            "test_total": total, "test_iwae_nll": total - 3 if iwae is None else iwae,
            "iwae_k": 1000, "history": {"epoch": list(range(1, epochs + 1))}}


def rows(table):
    return table.splitlines()[2:]


def test_table1_row_has_ours_the_reports_and_the_difference():
    """A row shows our BCE/KL/total, the report's, total - report with its percentage, IWAE NLL and epochs."""
    runs = {"n1": metrics(1, 1, 0, total=150.0, recon=146.5, kl=3.5, iwae=148.25, epochs=300)}
    [row] = rows(table1(runs))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["1", "1", "146.50", "156.82", "3.50", "4.22", "**150.00**", "161.04",
                     "-11.04 (-6.9%)", "148.25", "300"]


def test_table1_keeps_seed_0_runs_of_the_report_in_its_order():
    """Other seeds and configurations the report lacks are left out; rows follow the report."""
    runs = {"a": metrics(64, 10.0, 0, 170.0), "b": metrics(2, 1, 0, 150.0),
            "c": metrics(2, 1, 1, 999.0), "d": metrics(16, 1.0, 0, 888.0), "e": metrics(64, 0.1, 0, 70.0)}
    table = table1(runs)
    assert [r.split("|")[1:3] for r in rows(table)] == [[" 2 ", " 1 "], [" 64 ", " 0.1 "], [" 64 ", " 10 "]]
    assert "999" not in table and "888" not in table
    assert "+5.51 (+3.8%)" in table  # 150 - 144.49 (n = 2)
    assert "+3.06 (+4.6%)" in table  # 70 - 66.94 (n = 64, beta = 0.1)


def test_header_and_separator_have_as_many_cells_as_rows():
    """The markdown table is well formed: every line has 11 cells."""
    lines = table1({"a": metrics(1, 1.0, 0, 160.0)}).splitlines()
    assert len(lines) == 3 and all(line.count("|") == 12 for line in lines)


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


def test_seed_table_row():
    """The seed table shows mean ± stdev beside the report's total and their difference."""
    runs = {"a": metrics(2, 1.0, 0, 140.0, kl=6.0), "b": metrics(2, 1.0, 1, 142.0, kl=8.0)}
    [row] = rows(seed_table(runs))
    assert f"{statistics.stdev([140.0, 142.0]):.2f}" == "1.41"
    assert "| 2 | 1 | 2 |" in row and "141.00 ± 1.41" in row and "7.00 ± 1.41" in row
    assert "144.49" in row and "-3.49 (-2.4%)" in row


def test_seed_table_with_a_configuration_the_report_lacks():
    """Several seeds of a configuration not in the report do not break the seed table."""
    runs = {"a": metrics(16, 1.0, 0, 110.0), "b": metrics(16, 1.0, 1, 112.0)}
    assert "111.00" in seed_table(runs)


def test_metrics_table():
    """One run's figures with the IWAE k in its label."""
    table = metrics_table(metrics(2, 1.0, 0, 150.0, recon=143.0, kl=7.0, iwae=147.5))
    assert "| reconstruction (BCE) | 143.00 |" in table
    assert "| total (recon + 1 KL) | 150.00 |" in table
    assert "| IWAE NLL (k = 1000) | 147.50 |" in table


def test_load_runs(tmp_path):
    """Every <name>.json in a folder, by name; other files ignored."""
    (tmp_path / "n2-beta1.json").write_text(json.dumps(metrics(2, 1.0, 0, 150.0)))
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
    m.update(train_seconds=train_seconds, eval_seconds=eval_seconds,
             machine={"cpu": "cpu", "cores": 2, "threads": threads})
    return m


def test_cost_sums_the_runs_and_schedules_them_on_the_cores():
    """Two single-thread runs at a time on 2 cores: the a, b, c jobs (10, 4, 7 min) end at 11."""
    runs = {"a": timed(1, 1.0, 540, 60), "b": timed(2, 1.0, 180, 60), "c": timed(64, 1.0, 360, 60),
            "other-seed": {**timed(64, 1.0, 9999, 0), "config": {**timed(64, 1.0, 0, 0)["config"], "seed": 1}}}
    cost_ = cost(runs)
    assert (cost_["runs"], cost_["epochs"], cost_["workers"]) == (3, 900, 2)
    assert cost_["train_minutes"] == pytest.approx(18.0) and cost_["eval_minutes"] == pytest.approx(3.0)
    assert cost_["epoch_seconds"] == pytest.approx(1080 / 900)
    assert cost_["sweep_minutes"] == pytest.approx(11.0)
    assert cost_["machine"] == "cpu, 2 cores, 1 thread(s) per run"


def test_verdicts_follow_the_report_and_say_which_way():
    """One line per configuration, in the report's order, lower or higher by how much."""
    runs = {"a": metrics(64, 10.0, 0, 170.0), "b": metrics(1, 1, 0, 170.0)}
    first, second = verdicts(runs).splitlines()
    assert first.startswith("- n = 1, beta = 1: 170.00") and "5.6% higher (worse)" in first
    assert second.startswith("- n = 64, beta = 10: 170.00") and "5.7% lower (better)" in second


def test_largest_difference_compares_runs_of_the_same_name_either_way():
    """The same configurations run twice (on a GPU and a CPU, say): the biggest relative gap, signed."""
    gpu = {"a": metrics(64, 1, 0, 101.0), "b": metrics(1, 1, 0, 158.4), "c": metrics(2, 1, 1, 999.0)}
    cpu = {"a": metrics(64, 1, 0, 100.0), "b": metrics(1, 1, 0, 160.0), "c": metrics(2, 1, 1, 140.0)}
    name, diff = largest_difference(gpu, cpu)  # c is not a Table 1 run (seed 1): left out
    assert name == "b" and diff == pytest.approx(-0.01)


def test_timed_sweep_says_whether_one_was_recorded(tmp_path):
    """Without a record, a sentence saying so; with one, its minutes, machine and workers."""
    path = tmp_path / "sweep.json"
    assert "No `vaecore sweep --record sweep.json`" in timed_sweep(path)
    path.write_text(json.dumps({"wall_minutes": 52.4, "workers": 2, "threads_per_worker": 1,
                                "configs": ["a", "b"], "minutes": {"a": 30.0, "b": 20.0}, "failed": [],
                                "commit": "abc", "machine": {"cpu": "AMD EPYC", "cores": 2}}))
    assert timed_sweep(path) == ("Timed as one command (`vaecore sweep --record`, commit abc): 2 configurations "
                                 "(a, b) in 52 minutes on AMD EPYC, 2 cores, 2 at a time with 1 thread(s) each.")


def test_floor_is_the_runs_flops_at_the_ceiling(tiny_config):
    """FLOPs of the seed-0 Table 1 runs (here one), over the given GFLOP/s."""
    config = tiny_config(n=1, hidden=(16, 8), epochs=2, iwae_k=5)
    run = {**metrics(1, 1.0, 0, 160.0), "config": config.to_dict(), "train_images": 50, "test_images": 20}
    flops = run_flops(config, 784, 50, 20)
    result = floor({"n1": run, "n1-seed1": {**run, "config": {**run["config"], "seed": 1}}}, 784, gflops=2.0)
    assert result["tflops"] == pytest.approx(flops / 1e12)
    assert result["minutes"] == pytest.approx(flops / 2e9 / 60)

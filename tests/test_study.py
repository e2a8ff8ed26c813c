"""The beta study's selection, table and figures, on made-up metrics."""

import matplotlib.pyplot as plt
import pytest

from vaecore import study
from vaecore.config import Config


def metrics(n, beta, **config):
    kl = 30 / (1 + beta)
    values = {"config": Config(n=n, beta=beta, **config).to_dict(), "test_recon": 60 + 10 * beta,
              "test_kl": kl, "test_iwae_nll": 90 + beta}
    if beta != 1:  # runs evaluated before latent usage was measured have none
        values |= {"kl_per_dim": [kl / n] * n, "active_units": n}
    return values


@pytest.fixture
def runs():
    runs = {f"n64-beta{b:g}": metrics(64, b) for b in (0.1, 1, 10, 2)}
    runs |= {f"n2-beta{b:g}": metrics(2, b) for b in (1, 0.5)}
    runs["n64-beta1-seed1"] = metrics(64, 1, seed=1)
    runs["smoke"] = metrics(2, 1, epochs=2, train_size=2000)
    return runs


def test_grid_takes_seed_0_full_protocol_runs_by_beta(runs):
    assert [name for _, name, _ in study.grid(runs, 64)] == ["n64-beta0.1", "n64-beta1", "n64-beta2", "n64-beta10"]
    assert [name for _, name, _ in study.grid(runs, 2)] == ["n2-beta0.5", "n2-beta1"]


def test_table_has_a_row_per_run_and_a_dash_where_usage_is_unmeasured(runs):
    rows = study.table(runs).splitlines()[2:]
    assert len(rows) == 6
    row = next(r for r in rows if "n64-beta1]" in r)
    assert "| 64 | 1 | 70.00 | 15.00 | 85.00 | 91.00 | — |" in row


def test_figures_draw_every_run(runs):
    rd = study.rate_distortion(runs)
    assert len(rd.axes[0].lines[0].get_xdata()) == 4  # n = 64, four betas
    assert len(study.likelihood(runs).axes[0].lines) == 4  # IWAE and R + D for two latent sizes
    assert len(study.usage(runs).axes[1].lines) == 3  # n = 64 runs with per-dimension KLs
    plt.close("all")

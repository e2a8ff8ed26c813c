"""The compact appendix: every shipped run once, in a table with its numbers and weights, and in a figure."""

import matplotlib.pyplot as plt
import pytest

from vaecore import appendix, weights
from vaecore.runs import families as group_families
from vaecore.runs import load as load_runs


@pytest.fixture(scope="module")
def families(repo_root):
    cpu, gpu = load_runs(repo_root / "book" / "experiments"), load_runs(repo_root / "book" / "experiments-gpu")
    if not cpu:
        pytest.skip("no shipped runs")
    return group_families(cpu, gpu)


def test_every_shipped_run_is_in_exactly_one_family(families):
    names = [name for runs in families.values() for name in runs]
    assert sorted(names) == sorted(weights.shipped())
    assert set(families) <= set(appendix.TITLES)


def test_the_table_gives_each_run_its_page_numbers_and_weights(families):
    runs = families["table1"]
    table = appendix.runs_table(runs).splitlines()
    assert len(table) == 2 + len(runs)
    name, metrics = next(iter(runs.items()))
    assert f"[{name}](experiments/{name}.ipynb)" in table[2]
    assert f"{metrics['test_total']:.2f}" in table[2] and metrics["weights_sha256"][:8] in table[2]
    gpu = appendix.runs_table(families["gpu"]).splitlines()[2]
    assert "-gpu]" not in gpu and "(experiments-gpu/" in gpu


def test_small_multiples_show_one_titled_panel_per_run_on_one_page(families):
    runs = families["gpu"]
    fig = appendix.small_multiples(runs, samples=4)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().splitlines()[0] for ax in titled] == [appendix.label(m) for m in runs.values()]
    assert fig.get_figwidth() <= appendix.PAGE[0] and fig.get_figheight() <= appendix.PAGE[1]
    assert min(ax.title.get_fontsize() for ax in titled) >= 7  # points, at the page's width
    plt.close(fig)


def test_other_seeds_go_with_table1_or_with_the_beta_study():
    """A seed of a Table 1 configuration joins Table 1's other seeds; one of the β study's, the β study's."""
    from vaecore.config import Config

    def run(n, beta, seed):
        return {"config": Config(n=n, beta=beta, seed=seed).to_dict()}

    cpu = {"n64-beta1-seed1": run(64, 1, 1), "n64-beta0p2-seed1": run(64, 0.2, 1), "n64-beta0p2": run(64, 0.2, 0)}
    groups = group_families(cpu, {})
    assert {family: list(runs) for family, runs in groups.items()} == {
        "seeds": ["n64-beta1-seed1"], "beta": ["n64-beta0p2"], "beta-seeds": ["n64-beta0p2-seed1"]}

"""Figures: each function returns a Figure for n = 1, 2 and 3 and writes nothing."""

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from vaecore import beta_figures, diagram, plots, style
from vaecore.data import Split
from vaecore.convergence import IwaeCurve, iwae_convergence
from vaecore.model import VAE

HISTORY = {"epoch": [1, 2, 3], "train_total": [3, 2, 1], "train_recon": [2, 1.5, 0.8],
           "train_kl": [1, 0.5, 0.2], "test_total": [3.1, 2.2, 1.3], "test_recon": [2.1, 1.6, 0.9],
           "test_kl": [1, 0.6, 0.4]}


@pytest.fixture(autouse=True)
def _close_figures():
    """Start and end each test with no open figures."""
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture
def points(mnist) -> Split:
    """60 test images: enough for t-SNE's default perplexity of 30."""
    return Split(mnist[1].x[:60], mnist[1].y[:60])


def model(n):
    return VAE(784, n, (32,)).eval()


def check(figure):
    assert isinstance(figure, Figure)
    figure.canvas.draw()  # renders without error
    plt.close(figure)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_latent_codes(n, points):
    """Histogram (n = 1), scatter (n = 2) or t-SNE map (n = 3) of the posterior means."""
    figure = plots.latent_codes(model(n), points)
    title = figure.axes[0].get_title()
    assert {1: "histogram", 2: "scatter", 3: "t-SNE"}[n] in title and "60 test images" in title
    check(figure)


def test_a_tsne_map_shows_fewer_codes_than_a_scatter():
    """By default a t-SNE map (n > 2) shows 2,000 codes, a histogram or scatter 5,000, a small set all."""
    assert [plots.codes_shown(n, 10_000) for n in (1, 2, 3, 64)] == [5000, 5000, 2000, 2000]
    assert plots.codes_shown(64, 500) == 500


@pytest.mark.parametrize("n", [1, 2, 3])
def test_reconstructions_and_prior_samples(n, points):
    """Reconstructions and prior samples render for any latent size."""
    check(plots.reconstructions(model(n), points.x, count=5))
    check(plots.prior_samples(model(n), count=16))


@pytest.mark.parametrize("n", [1, 2])
def test_latent_traversal(n):
    """A row (n = 1) or a grid (n = 2) of decoded images over the latent space."""
    check(plots.latent_traversal(model(n), steps=5))


def test_latent_traversal_needs_n_at_most_2():
    """A traversal grid of n = 3 is refused with ValueError."""
    with pytest.raises(ValueError, match="n <= 2"):
        plots.latent_traversal(model(3))


def test_loss_curves():
    """Three panels (D + βR, D, R) stacked on one epoch axis, each with a train and a validation line."""
    figure = plots.loss_curves(HISTORY)
    assert len(figure.axes) == 3
    assert all(len(ax.get_lines()) == 2 for ax in figure.axes)
    assert list(figure.axes[2].get_lines()[1].get_ydata()) == HISTORY["test_kl"]
    figure.canvas.draw()
    assert len({ax.get_position().x0 for ax in figure.axes}) == 1  # one above the other
    assert len({ax.get_xlim() for ax in figure.axes}) == 1  # one epoch axis
    check(figure)


def test_the_first_epoch_does_not_set_the_loss_range():
    """A first epoch far above the rest runs off the top of the panel, which spans the later epochs."""
    epochs = 40
    history = {"epoch": list(range(1, epochs + 1))}
    for split in ("train", "test"):
        history |= {f"{split}_recon": [500.0] + [100 - e / 10 for e in range(1, epochs)],
                    f"{split}_kl": [1.0] + [20 + e / 10 for e in range(1, epochs)]}
        history[f"{split}_total"] = [d + r for d, r in zip(history[f"{split}_recon"], history[f"{split}_kl"])]
    figure = plots.loss_curves(history)
    low, high = figure.axes[1].get_ylim()  # distortion: 99.8 down to 96.1 after the settled epochs
    assert 95 < low < 96.1 and 99.8 < high < 101
    assert figure.axes[2].get_ylim()[0] > 19  # the rate's first epoch, far below, is left out too
    assert plots.settled(300) == 15 and plots.settled(2) == 1 and plots.settled(1) == 0
    check(figure)


@pytest.mark.parametrize("n, names", [(2, {"loss_curves", "latent_codes", "reconstructions", "prior_samples",
                                           "latent_traversal"}),
                                      (3, {"loss_curves", "latent_codes", "reconstructions", "prior_samples"})])
def test_all_figures(n, names, points):
    """all_figures gives every figure that suits the model, the traversal only for n <= 2."""
    figures = plots.all_figures(model(n), HISTORY, points)
    assert set(figures) == names
    for figure in figures.values():
        check(figure)


def test_plots_leave_weights_and_mode_alone(points):
    """Drawing figures does not change the model."""
    vae = model(2)
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    plt.close(plots.latent_codes(vae, points))
    plt.close(plots.prior_samples(vae))
    assert all((before[k] == v).all() for k, v in vae.state_dict().items())
    assert not vae.training


@pytest.mark.parametrize("n", [1, 2, 3])
def test_generated_is_the_traversal_up_to_two_dims_then_interpolations(n, mnist):
    """n <= 2 shows the latent grid; larger n, whose space no grid covers, interpolates between test images."""
    fig = plots.generated(VAE(784, n, (16,)), mnist[1])
    assert ("straight line between their codes" in fig.axes[0].get_title()) == (n > 2)
    plt.close(fig)


def test_interpolation_runs_from_one_code_to_the_other(mnist):
    vae = model(3)
    a, b = mnist[1].x[:4], mnist[1].x[4:8]
    path = plots.interpolate(vae, a, b, steps=5)
    assert path.shape == (4, 5, 784)
    mu_a, mu_b = vae.encode(a)[0], vae.encode(b)[0]
    torch.testing.assert_close(path[:, 0], plots.decode_mean(vae, mu_a))
    torch.testing.assert_close(path[:, -1], plots.decode_mean(vae, mu_b))
    torch.testing.assert_close(path[:, 2], plots.decode_mean(vae, (mu_a + mu_b) / 2))


def test_kl_per_dim_draws_one_bar_per_dimension_largest_first():
    fig = plots.kl_per_dim([0.1, 3.0, 0.0, 1.5])
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [3.0, 1.5, 0.1, 0.0]


@pytest.mark.parametrize("kls", [[4.2], [3.1, 2.9]])
def test_the_rate_of_one_or_two_dimensions_is_a_bar_each_not_the_column(kls):
    """n = 1 or 2: a tick at each dimension (no 0.4 to 1.6), its value on its bar, in a figure that
    narrows so that a bar is not the width of the column."""
    fig = plots.kl_per_dim(kls)
    ax = fig.axes[0]
    fig.canvas.draw()
    assert list(ax.get_xticks()) == list(range(1, len(kls) + 1))
    assert [text.get_text() for text in ax.texts] == [f"{value:.2f}" for value in sorted(kls, reverse=True)]
    bar = ax.patches[0].get_window_extent()
    assert bar.width < 0.15 * style.COLUMN_PX / style.CSS_PX_PER_INCH * fig.dpi  # under a seventh of the column
    assert ax.get_ylim()[1] > max(kls)  # the labels stay inside the axes
    check(fig)


def test_the_rate_of_64_dimensions_has_integer_ticks_and_no_labels():
    fig = plots.kl_per_dim([float(i) for i in range(64)])
    ax = fig.axes[0]
    fig.canvas.draw()
    assert all(float(tick).is_integer() for tick in ax.get_xticks()) and not ax.texts
    assert fig.get_figwidth() == style.WIDTH
    check(fig)


def test_figures_across_beta_show_one_row_or_panel_per_model(mnist):
    models = {beta: model(2) for beta in (0.1, 1.0, 10.0)}
    by_beta = beta_figures.by_beta(models, mnist[1].x)
    assert by_beta.axes[0].get_gridspec().nrows == 4  # the test images, then one row per beta
    maps = beta_figures.latent_maps(models, mnist[1], max_points=100)
    assert [ax.get_title() for ax in maps.axes if ax.axison] == ["β = 0.1", "β = 1", "β = 10"]
    assert maps.axes[3].get_legend() is not None  # the fourth cell holds the legend
    assert len(beta_figures.paths_by_beta(models, mnist[1].x[0], mnist[1].x[1]).axes) == 3
    check(by_beta)


def test_the_n1_traversal_is_cut_into_rows_along_z():
    """21 codes in rows of 7, each row on its own z axis, ticks at its codes, left to right."""
    figure = plots.latent_traversal(model(1), steps=21, per_row=7)
    assert len(figure.axes) == 3
    ticks = [list(ax.get_xticks()) for ax in figure.axes]
    assert ticks[0][0] == -5 and ticks[-1][-1] == 5 and all(len(row) == 7 for row in ticks)
    assert ticks[0][-1] < ticks[1][0] < ticks[2][0]
    check(figure)


def test_the_model_diagram_names_the_parts_and_both_loss_terms():
    texts = " ".join(text.get_text() for text in diagram.model_diagram().findobj(Text))
    for part in ("encoder", "decoder", "distortion", "rate", "\\mathbf{z}", "D + \\beta R"):
        assert part in texts


def test_the_model_diagram_is_written_for_html_and_pdf_the_same_each_time(tmp_path, repo_root):
    """SVG for the HTML, PDF for LaTeX, byte for byte the same when drawn again; the method shows them."""
    first = [path.read_bytes() for path in diagram.save_model_diagram(tmp_path)]
    assert first[0].lstrip().startswith(b"<?xml") and first[1].startswith(b"%PDF")
    assert [path.read_bytes() for path in diagram.save_model_diagram(tmp_path)] == first
    assert "figures/model.*" in (repo_root / "book" / "method.md").read_text()
    assert all((repo_root / "book" / "figures" / f"model.{kind}").exists() for kind in ("svg", "pdf"))


@pytest.mark.parametrize("size", [1, 3, 10])
def test_every_figure_of_a_tiny_test_set(size, mnist):
    """A test set of a few images still gives every figure for n = 3: t-SNE's perplexity shrinks
    below the number of codes, and the interpolations take as many pairs as there are."""
    data = Split(mnist[1].x[:size], mnist[1].y[:size])
    for figure in (*plots.all_figures(model(3), HISTORY, data).values(), plots.generated(model(3), data)):
        check(figure)


@pytest.mark.parametrize("count", [1, 2, 10])
def test_tsne_of_few_points_is_a_finite_map(count):
    import numpy as np

    points = plots.tsne(np.random.default_rng(0).normal(size=(count, 8)).astype(np.float32))
    assert points.shape == (count, 2) and np.isfinite(points).all()


def test_the_iwae_convergence_has_a_panel_per_model_and_names_the_excess_at_the_marked_k():
    """One panel per model on a log k axis in plain numbers, bars of the paired standard error, and
    the estimate at k = 1000 labelled with its excess over k = 5000 and that error."""
    curve = IwaeCurve(k=[1, 10, 100, 1000, 5000], nll=[99.0, 96.0, 94.5, 94.2, 94.0], stderr=[0.9] * 5,
                      excess=[5.0, 2.0, 0.5, 0.2, 0.0], excess_stderr=[0.4, 0.2, 0.1, 0.06, 0.0], images=500)
    fig = iwae_convergence({"n = 2": curve, "n = 64": curve})
    fig.canvas.draw()
    assert [ax.get_title() for ax in fig.axes] == ["n = 2", "n = 64"]
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert "1,000" in [label.get_text() for label in ax.get_xticklabels()]
    assert list(ax.get_lines()[0].get_ydata()) == curve.nll
    assert "at $k$ = 1,000: 0.20 ± 0.06\nabove $k$ = 5,000" in [text.get_text() for text in ax.texts]
    check(fig)


def test_the_latent_maps_share_square_axes_centred_on_zero_with_the_priors_circles(mnist):
    """Every β's map on the same scale (the widest codes'), and circles of radius 1 and 2 on each."""
    models = {beta: model(2) for beta in (0.1, 1.0)}
    with torch.no_grad():
        models[0.1].encoder[-1].bias[0] += 4.0  # one map's codes far from the origin
    fig = beta_figures.latent_maps(models, mnist[1], max_points=100)
    maps = [ax for ax in fig.axes if ax.axison]
    assert maps[0].get_xlim() == maps[1].get_xlim() == maps[0].get_ylim() == maps[1].get_ylim()
    low, high = maps[0].get_xlim()
    assert low == -high and high > 4
    for ax in maps:
        assert sorted(patch.get_radius() for patch in ax.patches) == [1.0, 2.0]
    check(fig)

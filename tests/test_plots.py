"""Figures: each function returns a Figure for n = 1, 2 and 3 and writes nothing."""

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from vaecore import plots
from vaecore.data import Split
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
    """Three panels (total, recon, KL), each with a train and a validation line per epoch."""
    figure = plots.loss_curves(HISTORY)
    assert len(figure.axes) == 3
    assert all(len(ax.get_lines()) == 2 for ax in figure.axes)
    assert list(figure.axes[2].get_lines()[1].get_ydata()) == HISTORY["test_kl"]
    check(figure)


def test_loss_curves_stacked_in_one_column():
    """columns=1: the same three panels one above the other, in a narrower figure."""
    figure = plots.loss_curves(HISTORY, columns=1)
    assert len(figure.axes) == 3 and len({ax.get_position().x0 for ax in figure.axes}) == 1
    assert figure.get_figwidth() < plots.loss_curves(HISTORY).get_figwidth()
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


def test_figures_across_beta_show_one_row_or_panel_per_model(mnist):
    models = {beta: model(2) for beta in (0.1, 1.0, 10.0)}
    by_beta = plots.by_beta(models, mnist[1].x)
    assert by_beta.axes[0].get_gridspec().nrows == 4  # the test images, then one row per beta
    assert len(plots.latent_maps(models, mnist[1], max_points=100).axes) == 3
    assert len(plots.paths_by_beta(models, mnist[1].x[0], mnist[1].x[1]).axes) == 3
    check(by_beta)


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

"""Figures: each function returns a Figure for n = 1, 2 and 3 and writes nothing."""

import matplotlib.pyplot as plt
import pytest
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
def test_generated_is_the_traversal_up_to_two_dims_then_decoded_codes(n, mnist):
    """n <= 2 shows the latent grid; larger n, whose space no grid covers, shows decoded test codes."""
    fig = plots.generated(VAE(784, n, (16,)), mnist[1])
    assert ("decoded images over" in fig.axes[0].get_title()) == (n <= 2)
    plt.close(fig)

"""Test-set figures of merit: the ELBO terms and the importance-weighted bound on log p(x)."""

import copy
import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from vaecore.convergence import iwae_curve
from vaecore.evaluate import draw_spread, elbo, iwae_nll, latent_usage, seeded
from vaecore.model import build_model
from vaecore.train import train


@pytest.fixture(scope="module", params=[1, 2, 16], ids=lambda n: f"n{n}")
def trained(request, mnist, tiny_config, tmp_path_factory):
    """(model, config, test images): n in {1, 2, 16}, 2 epochs on 1000 images, beta = 1."""
    config = tiny_config(n=request.param, epochs=2)
    model, _ = train(config, *mnist, tmp_path_factory.mktemp("run"), progress=False)
    return model, config, mnist[1].x


def test_iwae_bound_is_at_most_the_negative_elbo(trained):
    """The k = 64 estimate of -log p(x) is below the negative ELBO (recon + KL)."""
    model, config, x = trained
    terms = elbo(model, x, config)
    assert iwae_nll(model, x, config, k=64, seed=0) < terms.recon + terms.kl


def test_iwae_bound_tightens_with_k(trained):
    """More importance samples give a tighter (lower) estimate of -log p(x)."""
    model, config, x = trained
    k1, k8, k64 = (iwae_nll(model, x, config, k=k, seed=0) for k in (1, 8, 64))
    assert k1 > k8 > k64


def test_iwae_with_one_sample_estimates_the_negative_elbo(trained):
    """With k = 1 the IWAE estimate is a one-sample negative ELBO: close to recon + KL."""
    model, config, x = trained
    terms = elbo(model, x, config)
    assert iwae_nll(model, x, config, k=1, seed=0) == pytest.approx(terms.recon + terms.kl, rel=0.05)


def test_the_iwae_curve_ends_at_the_estimate_of_its_largest_k(trained):
    """The curve's last point is iwae_nll at that k: the same samples, summed in another order."""
    model, config, x = trained
    curve = iwae_curve(model, x[:50], config, ks=[64, 1, 8], seed=3)
    assert curve.k == [1, 8, 64] and curve.images == 50
    assert curve.nll[-1] == pytest.approx(iwae_nll(model, x[:50], config, k=64, seed=3), abs=1e-4)
    assert curve.excess[-1] == 0 and curve.excess_stderr[-1] == 0


def test_the_iwae_curve_falls_with_k_and_its_excess_is_tighter_than_the_estimate(trained):
    """Each k's samples are the first of the next k's: the estimate falls, and from k = 10 on its
    difference from the largest k's, paired image by image, varies less than the estimate itself
    (at k = 1 a single weight's noise can outweigh the spread over images)."""
    model, config, x = trained
    curve = iwae_curve(model, x[:100], config, ks=[1, 10, 100, 500])
    assert curve.nll[0] > curve.nll[1] > curve.nll[2] > curve.nll[3]
    assert curve.excess[0] > curve.excess[1] > curve.excess[2] > 0
    assert all(paired < alone for paired, alone in zip(curve.excess_stderr[1:-1], curve.stderr[1:-1]))


def test_with_the_posterior_as_proposal_every_k_gives_log_p_x(mnist, tiny_config):
    """A decoder that ignores z and an encoder that returns the prior: the posterior is the prior,
    every weight is p(x), and the estimate is -log p(x), the BCE of the decoder's bias, at every k."""
    config = tiny_config(n=2)
    model, x = build_model(config, 784), mnist[1].x[:20]
    with torch.no_grad():
        model.decoder[-1].weight.zero_()
        model.encoder[-1].weight.zero_()
        model.encoder[-1].bias.zero_()
    truth = F.binary_cross_entropy_with_logits(model.decoder[-1].bias.expand_as(x), x, reduction="none").sum(1)
    curve = iwae_curve(model, x, config, ks=[1, 7, 100])
    assert curve.nll == pytest.approx([truth.mean().item()] * 3, rel=1e-5)
    assert curve.excess == pytest.approx([0, 0, 0], abs=1e-3)
    assert curve.stderr[0] == pytest.approx(truth.double().std().item() / math.sqrt(20), rel=1e-4)


def test_elbo_is_deterministic_for_a_seed(mnist, tiny_config):
    """Repeated evaluations with one seed agree exactly; another seed samples other z."""
    config = tiny_config(n=2)
    model, x = build_model(config, 784), mnist[1].x
    assert elbo(model, x, config, seed=5) == elbo(model, x, config, seed=5)
    assert elbo(model, x, config, seed=5).recon != elbo(model, x, config, seed=6).recon


def test_draw_spread_is_the_spread_of_the_sampled_z_alone(trained):
    """The totals of eight seeds differ by their draws of z; where q(z|x) has no width, they do not."""
    model, config, x = trained
    assert draw_spread(model, x, config) == pytest.approx(
        statistics.stdev(elbo(model, x, config, seed=seed).total for seed in range(8)))
    assert draw_spread(model, x, config) > 0
    narrow = copy.deepcopy(model)
    with torch.no_grad():
        narrow.encoder[-1].bias[config.n:] = -60.0  # log σ² of every dimension: σ = 1e-13
        narrow.encoder[-1].weight[config.n:] = 0.0
    assert draw_spread(narrow, x, config) < 1e-4


def test_elbo_total_is_recon_plus_beta_kl(mnist, tiny_config):
    """The evaluated total weights the KL by the config's beta."""
    config = tiny_config(beta=4.0)
    terms = elbo(build_model(config, 784), mnist[1].x, config)
    assert terms.total == pytest.approx(terms.recon + 4.0 * terms.kl, rel=1e-5)


def test_elbo_batch_size_only_affects_memory(mnist, tiny_config):
    """Evaluating in one batch or in batches of 64 gives the same per-image means."""
    config = tiny_config()
    model, x = build_model(config, 784), mnist[1].x
    one, many = elbo(model, x, config, batch_size=len(x)), elbo(model, x, config, batch_size=64)
    assert one.kl == pytest.approx(many.kl, rel=1e-5)  # KL does not depend on the sampled z


def test_iwae_is_deterministic_and_leaves_global_rng_alone(mnist, tiny_config):
    """A fixed seed gives the same estimate twice, and the caller's RNG stream is untouched."""
    config = tiny_config()
    model, x = build_model(config, 784), mnist[1].x
    rng = torch.get_rng_state()
    assert iwae_nll(model, x, config, k=4, seed=1) == iwae_nll(model, x, config, k=4, seed=1)
    assert torch.equal(torch.get_rng_state(), rng)


def test_per_dimension_kls_sum_to_the_kl(trained):
    model, config, x = trained
    usage = latent_usage(model, x)
    assert len(usage.kl_per_dim) == config.n
    assert sum(usage.kl_per_dim) == pytest.approx(elbo(model, x, config).kl, rel=1e-5)


def test_a_dimension_the_encoder_ignores_is_inactive(trained):
    """Zero the weights into mu_u: E_q[z_u|x] no longer depends on x."""
    model, config, x = trained
    before = latent_usage(model, x)
    ignored = copy.deepcopy(model)
    u = max(range(config.n), key=lambda i: before.mean_variance[i])  # the most active one
    with torch.no_grad():
        ignored.encoder[-1].weight[u] = 0
    after = latent_usage(ignored, x)
    assert after.mean_variance[u] == 0
    assert after.active_units == before.active_units - 1 >= 0
    assert before.mean_variance[u] > 0.01


@torch.no_grad()
def reference_iwae_nll(model, x, config, k, part=None, seed=0):
    """The IWAE estimate written plainly: torch's BCE on the images expanded to every sample,
    torch.distributions' checked densities, all k samples of an image in one draw
    (``part=None``) or drawn ``part`` at a time but summed in one logsumexp."""
    chunk = max(1, 2**21 // (k * x.shape[1]))
    total = 0.0
    with seeded(seed, x.device):
        for batch in x.split(chunk):
            mu, logvar = model.encode(batch)
            q = Normal(mu, torch.exp(0.5 * logvar))
            z = torch.cat([q.sample((min(part or k, k - start),)) for start in range(0, k, part or k)])
            logits = model.decode(z)
            bce = F.binary_cross_entropy_with_logits(logits, batch.expand_as(logits), reduction="none").sum(-1)
            log_w = (-bce
                     + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1))
            total -= (torch.logsumexp(log_w, dim=0) - math.log(k)).sum().item()
    return total / len(x)


@pytest.mark.parametrize("k", [1, 7, 64, 2**21 // 784])
def test_iwae_equals_the_plain_computation_on_the_same_draws(trained, k):
    """The fast estimate (unchecked densities, passes sized for the cache, freed blocks reused)
    equals the plain one-pass computation on the same draws to float rounding, far below its
    Monte Carlo error."""
    model, config, x = trained
    x = x[:30]
    assert iwae_nll(model, x, config, k=k, seed=2) == pytest.approx(
        reference_iwae_nll(model, x, config, k=k, seed=2), rel=1e-6)


def test_iwae_splits_a_k_too_big_for_one_pass(trained, monkeypatch):
    """A k beyond one pass is drawn in parts of at most 2**21 / 784 samples, summed exactly as if in one."""
    model, config, x = trained
    part = 2**21 // 784
    k, rows, x = 3 * part + 5, [], x[:2]
    expected = reference_iwae_nll(model, x, config, k=k, part=part)
    decode = model.decode
    monkeypatch.setattr(model, "decode", lambda z: rows.append(z.shape[0] * z.shape[1]) or decode(z))
    assert iwae_nll(model, x, config, k=k) == pytest.approx(expected, rel=1e-6)
    assert rows == [part, part, part, 5] * 2

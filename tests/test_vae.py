"""tutorial_code/vae.py: the VAE, its loss, generation and the page's claims."""

import copy
import math
from functools import partial

import numpy as np
import pytest
import torch
from conftest import output_of
from torch.distributions import Normal, kl_divergence

from hooks.tutorials import ROOT
from tutorial_code.autoencoders import codes
from tutorial_code.classifier import set_seed, train_many
from tutorial_code.evaluation import head_to_head, repeated_splits
from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    select_features,
)
from tutorial_code.vae import (
    BETAS,
    DECODER_VARIANCE,
    VAE,
    fit_vae,
    fit_vaes,
    generate,
    interpolate,
    kl_per_dimension,
    kl_to_standard_normal,
    vae_loss,
    vae_scores,
    vae_terms,
    variances_by_direction,
)

STEM = "vae"
N_FEATURES = len(feature_genes())


@pytest.fixture(scope="module")
def page(page_run):
    return page_run(STEM).namespace


def batch_of(x):
    return (x, torch.zeros(len(x)))


# ------------------------------------------------------------------ model and loss


def test_vae_shapes():
    model = VAE(N_FEATURES)
    x_hat, mu, logvar = model(torch.randn(6, N_FEATURES))
    assert x_hat.shape == (6, N_FEATURES)
    assert mu.shape == logvar.shape == (6, 2)


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(9, 3), torch.randn(9, 3)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    assert torch.isclose(
        kl_to_standard_normal(mu, logvar), expected.sum(dim=1).mean(), atol=1e-5
    )
    model = VAE(3)
    x = torch.randn(9, 3)
    mu, logvar = model.encode(x)
    per_dim = kl_per_dimension(model, x)
    assert per_dim.sum() == pytest.approx(
        kl_to_standard_normal(mu, logvar).item(), rel=1e-5
    )


def test_kl_is_zero_for_the_standard_normal():
    assert kl_to_standard_normal(torch.zeros(4, 2), torch.zeros(4, 2)).item() == 0


def test_vae_loss_is_per_sample():
    """Duplicating the batch leaves the loss unchanged (no batch-size scaling)."""
    torch.manual_seed(0)
    model = VAE(N_FEATURES).eval()
    x = torch.randn(10, N_FEATURES)
    for beta in (0.1, 1.0, 4.0):
        assert torch.isclose(
            vae_loss(model, batch_of(x), beta=beta),
            vae_loss(model, batch_of(torch.cat([x, x])), beta=beta),
            rtol=1e-5,
        )


def test_beta_weights_the_kl_term():
    torch.manual_seed(0)
    model = VAE(N_FEATURES).eval()
    batch = batch_of(torch.randn(10, N_FEATURES))
    _, rec, kl = vae_terms(model, batch)
    assert kl > 0
    for beta in (0.0, 0.5, 3.0):
        scores = vae_scores(model, batch, beta=beta)
        assert scores["reconstruction"] == pytest.approx(rec.item())
        assert scores["kl"] == pytest.approx(kl.item())
        expected = rec.item() + beta * kl.item()
        assert scores["loss"] == pytest.approx(expected, rel=1e-5)


def test_squared_error_is_a_gaussian_likelihood_with_variance_one_half():
    """rec = -log N(x | x_hat, 1/2) minus a constant that does not depend on x_hat."""
    torch.manual_seed(0)
    x, x_hat = torch.randn(8, 5), torch.randn(8, 5)
    nll = -Normal(x_hat, DECODER_VARIANCE**0.5).log_prob(x).sum(dim=1).mean()
    constant = 5 / 2 * math.log(2 * math.pi * DECODER_VARIANCE)
    rec = ((x - x_hat) ** 2).sum(dim=1).mean()
    assert nll.item() == pytest.approx(rec.item() + constant, rel=1e-5)


def test_sampled_score_leaves_the_global_random_numbers_alone():
    model = VAE(N_FEATURES).eval()
    batch = batch_of(torch.randn(10, N_FEATURES))
    set_seed(0)
    vae_scores(model, batch)
    after = torch.rand(1)
    set_seed(0)
    assert torch.equal(torch.rand(1), after)
    first, second = vae_scores(model, batch), vae_scores(model, batch)
    assert first == second
    assert first["sampled loss"] != first["loss"]


def test_vae_samples_in_training_and_uses_mu_in_eval():
    torch.manual_seed(0)
    model = VAE(N_FEATURES)
    x = torch.randn(5, N_FEATURES)
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    x_hat, mu, _ = model(x)
    assert torch.equal(x_hat, model.decoder(mu))
    assert torch.equal(codes(model, x), mu)


def test_reparameterise_scales_noise_by_sigma():
    mu, logvar = torch.full((20000, 1), 3.0), torch.full((20000, 1), math.log(4.0))
    set_seed(0)
    z = VAE.reparameterise(mu, logvar)
    assert z.mean().item() == pytest.approx(3.0, abs=0.05)
    assert z.std().item() == pytest.approx(2.0, abs=0.05)


def test_variances_by_direction_are_the_covariance_eigenvalues():
    x = torch.randn(500, 3) * torch.tensor([3.0, 1.0, 0.5])
    variances = variances_by_direction(x)
    assert variances[0] == pytest.approx(9, rel=0.2)
    assert variances[-1] == pytest.approx(0.25, rel=0.2)
    assert (np.diff(variances) <= 0).all()


def test_generate_decodes_prior_draws_plus_decoder_noise():
    model = VAE(N_FEATURES).eval()
    torch.nn.init.zeros_(model.decoder[2].weight)
    torch.nn.init.zeros_(model.decoder[2].bias)  # decodes every code to 0
    samples = generate(model, 20000)
    assert samples.shape == (20000, N_FEATURES)
    assert samples.var(dim=0).mean().item() == pytest.approx(DECODER_VARIANCE, rel=0.05)
    assert torch.equal(generate(model, 5, seed=3), generate(model, 5, seed=3))


def test_interpolate_starts_and_ends_at_the_two_reconstructions():
    model = VAE(N_FEATURES).eval()
    x = torch.randn(2, N_FEATURES)
    path = interpolate(model, x[0], x[1], steps=5)
    assert path.shape == (5, N_FEATURES)
    rebuilt = model(x)[0].detach()
    assert torch.allclose(path[0], rebuilt[0], atol=1e-6)
    assert torch.allclose(path[-1], rebuilt[1], atol=1e-6)


def test_fits_are_seeded_and_recording_does_not_change_training(split):
    model_a, history_a = fit_vae(split, epochs=25)
    model_b, history_b = fit_vae(split, epochs=25)
    silent, nothing = fit_vae(split, epochs=25, record=False)
    assert history_a == history_b and nothing == {}
    for a, b, c in zip(
        model_a.parameters(), model_b.parameters(), silent.parameters(), strict=True
    ):
        assert torch.equal(a, b) and torch.equal(a, c)


# ------------------------------------------------------------------ side by side


@pytest.fixture(scope="module")
def two_splits():
    X, y = select_features(label_smoking_status(load_gbm()), feature_genes())
    return repeated_splits(X, y, n_splits=2)


def test_fit_vaes_start_from_fit_vae_weights_and_repeat(two_splits):
    untrained = fit_vaes(two_splits, epochs=0)
    for k, s in enumerate(two_splits):
        alone, _ = fit_vae(s, seed=k, epochs=0)
        assert all(
            torch.equal(p, q)
            for p, q in zip(alone.parameters(), untrained[k].parameters(), strict=True)
        )
    first, again = fit_vaes(two_splits, epochs=20), fit_vaes(two_splits, epochs=20)
    for a, b in zip(first, again, strict=True):
        assert all(
            torch.equal(p, q)
            for p, q in zip(a.parameters(), b.parameters(), strict=True)
        )


def test_vaes_side_by_side_learn_each_with_its_own_draws(two_splits):
    s = two_splits[0]
    set_seed(0)
    vae = VAE(n_features=N_FEATURES)
    twins = [vae, copy.deepcopy(vae)]  # same start, same data
    batch = (s.X_train, s.y_train)
    losses = train_many(twins, partial(vae_loss, beta=1.0), [batch, batch], 100)
    # the sampled loss is noisy: compare the first and last ten epochs
    assert (losses[-10:].mean(dim=0) < losses[:10].mean(dim=0) - 0.5).all()
    # each twin drew its own z, so they part ways
    assert not torch.equal(losses[:, 0], losses[:, 1])
    assert not torch.equal(twins[0].to_mu.weight, twins[1].to_mu.weight)


# ------------------------------------------------------------------ the page


def test_page_shows_six_figures(page_run):
    assert len(page_run(STEM).figures) == 6


def test_sweep_reuses_the_beta_one_vae(page):
    assert page["vae_runs"][1.0][0] is page["vae"]
    assert list(page["vae_runs"]) == list(BETAS)


def test_latent_legend_names_are_short(page_run):
    """At 390 px long legend entries ('non-smoker, test') were clipped."""
    latent = next(
        f for f in page_run(STEM).figures if "latent" in f["layout"]["title"]["text"]
    )
    names = {trace["name"] for trace in latent["data"]}
    assert names == {"non-smoker", "smoker"}


# ------------------------------------------------------------------ claims


def test_claim_sampled_objective_above_recorded_loss(page):
    last = page["last"]
    for part in ("training", "test"):
        assert last.at["sampled loss", part] > last.at["loss", part] + 0.3, part


def test_claim_vae_losses_level_off(page):
    history = page["vae_history"]
    for key in ("train_loss", "test_loss"):
        values = np.array(history[key])
        total_drop = values[0] - values.min()
        assert abs(values[-1] - values[-51]) < 0.05 * total_drop, key
        assert values[0] - values[199] > 0.9 * (values[0] - values[-1]), key


def test_claim_collapse_rule_holds(page):
    variances = page["variances"]
    assert variances[0] == pytest.approx(1.5, abs=0.1)
    table = page["beta_table"]
    for beta in BETAS:
        predicted_active = min(int((variances > beta / 2).sum()), 2)
        kl = table.loc[beta, ["KL dim 1", "KL dim 2"]].to_numpy()
        active = int((kl > 0.1).sum())
        assert active == predicted_active, beta
    assert table.loc[4.0, ["KL dim 1", "KL dim 2"]].max() < 0.01


def test_claim_beta_trades_reconstruction_for_kl(page):
    table = page["beta_table"]
    assert table["test rec."].is_monotonic_increasing
    assert table["test KL"].is_monotonic_decreasing


def test_claim_beta4_collapses(page):
    row = page["beta_table"].loc[4.0]
    baseline = (page["split"].X_test ** 2).sum(dim=1).mean().item()
    assert row["test KL"] < 0.05
    assert row["test rec."] > 0.95 * baseline
    collapsed = page["vae_runs"][4.0][0].eval()
    with torch.no_grad():
        rebuilt = collapsed(page["split"].X_test)[0]
    assert (rebuilt.std(dim=0) < 0.05).all()


def beta_latents(page, beta):
    latents = page["latents"]
    return latents[latents["beta"] == beta]


def test_claim_latent_classes_overlap(page):
    for beta in (0.1, 1.0):
        points = beta_latents(page, beta)
        by_class = points.groupby("Smoking status")[["z1", "z2"]].mean()
        gap = np.linalg.norm(by_class.loc["smoker"] - by_class.loc["non-smoker"])
        spread = np.sqrt(points[["z1", "z2"]].var().sum())
        assert gap < 0.5 * spread, beta


def test_claim_beta4_latents_collapse(page):
    points = beta_latents(page, 4.0)[["z1", "z2"]]
    assert (points.std() < 0.1).all()
    assert (points.mean().abs() < 0.1).all()


def test_claim_latent_spread_shrinks_with_beta(page):
    spreads = [beta_latents(page, beta)[["z1", "z2"]].std() for beta in BETAS]
    assert (spreads[0] > spreads[1]).all() and (spreads[1] > spreads[2]).all()


def test_claim_generated_like_training(page):
    compare = page["compare"]
    assert (compare["generated mean"] - compare["training mean"]).abs().max() < 0.1
    assert compare["generated SD"].between(0.8, 1.0).all()
    assert len(page["generated"]) == 1000


def test_claim_decoded_means_too_narrow(page):
    vae = page["vae"].eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        means = vae.decoder(torch.randn(5000, 2, generator=g))
    sd = means.std(dim=0)
    assert sd.min() > 0.35 and sd.max() < 0.75


def test_claim_interpolation_is_smooth(page):
    path = page["path"]
    assert len(path) == 11
    assert np.abs(np.diff(path, axis=0)).max() < 0.3
    assert np.abs(path[-1] - path[0]).max() > 1.5  # it does go somewhere


def test_claim_vae_head_fixed_split(page):
    table = page["vae_table"]
    assert table.loc["accuracy", "of"] == "9/18"
    assert table.loc["accuracy", "95% high"] - table.loc["accuracy", "95% low"] > 0.4


def test_claim_vae_head_no_better_than_pca(page, page_run):
    results = page["results"]
    median = results[results["model"] == "VAE head"]["accuracy"].median()
    assert 0.62 < median < 0.72
    count = head_to_head(results, "VAE head", "PCA head")
    n = len(page["splits"])
    assert 0.2 * n <= count["higher"] <= 0.3 * n  # about a quarter
    assert 0.4 * n <= count["lower"] < 0.5 * n  # almost half
    line = f"{count['higher']} higher, {count['equal']} equal, {count['lower']} lower"
    assert f"VAE head vs PCA head, of {n} splits: {line}" in page_run(STEM).stdout


def test_claim_logistic_regression_beats_vae_head(page):
    count = head_to_head(page["results"], "VAE head", "logistic regression")
    assert count["lower"] >= 0.6 * len(page["splits"])
    assert count["lower"] >= count["higher"] + 8


def test_claim_vae_head_below_ceiling(page):
    gap = page["ceiling"] - page["split_accuracy"].median()["VAE head"]
    assert 1.5 / 18 < gap < 2.5 / 18


# ------------------------------------------------------------------ exercises


def test_page_ends_with_next_steps():
    text = (ROOT / "docs" / "07_vae.md").read_text()
    last_heading = [line for line in text.splitlines() if line.startswith("## ")][-1]
    assert last_heading == "## Next steps"


def test_claim_kl_by_hand(page_run, page):
    by_formula = 0.5 + -0.5 * (1 + math.log(0.25) - 0.25)
    assert page["ex_kl"].item() == pytest.approx(by_formula, rel=1e-6)
    assert round(by_formula, 3) == 0.818 and round(by_formula - 0.5, 3) == 0.318
    out = output_of(page_run(STEM), "solution_kl_by_hand").splitlines()
    assert out[0].split()[-1] == out[1].split()[-1] == "0.8181"


def test_claim_collapse_comes_early(page):
    variances = page["variances"]
    low, high = 2 * variances[1], 2 * variances[0]  # one direction above β/2
    assert 2.1 < low < 2.2 and 3.0 < high < 3.1
    used = {b: int((kl > 0.1).sum()) for b, kl in page["ex_kl_dims"].items()}
    predicted = {b: min(int((variances > b / 2).sum()), 2) for b in used}
    assert predicted == {2.0: 2, 2.5: 1}
    assert used == {2.0: 1, 2.5: 0}


def test_claim_generated_correlations(page):
    real, fake = page["ex_real"], page["ex_fake"]
    pairs = [(a, b) for i, a in enumerate(real) for b in list(real)[i + 1 :]]
    strong = [(a, b) for a, b in pairs if abs(real.at[a, b]) > 0.15]
    assert strong
    for a, b in strong:
        assert np.sign(fake.at[a, b]) == np.sign(real.at[a, b]), (a, b)
    stronger = [p for p in strong if abs(fake.at[p]) > abs(real.at[p])]
    assert len(stronger) > len(strong) / 2  # "most of them stronger"
    for other in ("KRT17P8", "RPL7L1P9"):
        assert abs(real.at["C20orf202", other]) < 0.1
        assert abs(fake.at["C20orf202", other]) > 0.2

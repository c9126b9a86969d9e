"""tutorial_code/vae.py: the VAE, its loss, generation and the page's claims."""

import copy
import math
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import output_of
from torch.distributions import Normal, kl_divergence

from hooks.tutorials import ROOT
from tutorial_code.autoencoders import codes, fit_autoencoder
from tutorial_code.classifier import set_seed
from tutorial_code.evaluation import paired_differences, repeated_splits, train_many
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
    class_gap,
    code_spread,
    decode_prior_draws,
    fit_vae,
    fit_vaes,
    fit_vaes_side_by_side,
    follows_theory,
    generate,
    interpolate,
    kl_against_theory,
    kl_per_dimension,
    kl_to_standard_normal,
    latent_frame,
    linear_vae_kl,
    pair_figure,
    path_steps,
    prior_check,
    reparameterise,
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
    assert (np.diff(per_dim) <= 0).all()  # largest first
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
    z = reparameterise(mu, logvar)
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


def test_fit_vaes_trains_one_vae_per_split_as_fit_vae_does(two_splits):
    vaes = fit_vaes(two_splits, beta=2.0, epochs=15)
    for k, s in enumerate(two_splits):
        alone, _ = fit_vae(s, 2.0, seed=k, epochs=15, record=False)
        for p, q in zip(alone.parameters(), vaes[k].parameters(), strict=True):
            assert torch.equal(p, q)


def test_side_by_side_vaes_start_as_fit_vaes_and_repeat(two_splits):
    untrained = fit_vaes_side_by_side(two_splits, epochs=0)
    for k, s in enumerate(two_splits):
        alone, _ = fit_vae(s, seed=k, epochs=0)
        assert all(
            torch.equal(p, q)
            for p, q in zip(alone.parameters(), untrained[k].parameters(), strict=True)
        )
    first = fit_vaes_side_by_side(two_splits, epochs=20)
    again = fit_vaes_side_by_side(two_splits, epochs=20)
    for a, b in zip(first, again, strict=True):
        assert all(
            torch.equal(p, q)
            for p, q in zip(a.parameters(), b.parameters(), strict=True)
        )


def test_side_by_side_vaes_learn_as_well_as_fit_vaes(two_splits):
    """Their draws of z differ, so their weights do; what they learn must
    not: the same test reconstruction and KL, within the draws' noise."""
    alone = fit_vaes(two_splits)
    together = fit_vaes_side_by_side(two_splits)
    for s, a, b in zip(two_splits, alone, together, strict=True):
        batch = (s.X_test, s.y_test)
        score_a, score_b = vae_scores(a, batch), vae_scores(b, batch)
        assert score_a["reconstruction"] == pytest.approx(
            score_b["reconstruction"], rel=0.1
        )
        assert score_a["kl"] == pytest.approx(score_b["kl"], rel=0.15)


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


# ------------------------------------------------------------------ the theory


def test_linear_vae_kl_is_the_kl_of_probabilistic_pca():
    """Against the exact posterior of probabilistic PCA with noise variance
    β/2, computed here from its own formulas: for W = U (Λ - σ² I)^½, the
    posterior of z given x is N(M⁻¹ Wᵀ x, σ² M⁻¹) with M = Wᵀ W + σ² I."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 4)) @ np.diag([1.6, 1.2, 0.8, 0.5])
    x -= x.mean(axis=0)
    cov = x.T @ x / len(x)
    eigenvalues, vectors = np.linalg.eigh(cov)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    for beta in (0.5, 1.5, 3.0):
        sigma2 = beta / 2
        used = eigenvalues[:2] > sigma2
        scale = np.sqrt(np.clip(eigenvalues[:2] - sigma2, 0, None))
        W = vectors[:, :2] * scale
        M = W.T @ W + sigma2 * np.eye(2)
        mean = x @ W @ np.linalg.inv(M)  # M is symmetric
        var = np.diag(sigma2 * np.linalg.inv(M))
        kl = 0.5 * ((mean**2).mean(axis=0) + var - 1 - np.log(var))
        theory = linear_vae_kl(eigenvalues, beta)
        assert theory == pytest.approx(kl, abs=1e-9)
        assert ((theory > 0) == used).all()
    # a latent of 3 uses the third direction too
    assert len(linear_vae_kl(eigenvalues, 0.5, latent_dim=3)) == 3


def test_follows_theory_compares_each_dimension():
    table = pd.DataFrame(
        {"KL 1": [0.5, 0.005], "theory 1": [0.4, 0.0]}
        | {"KL 2": [0.03, 0.0], "theory 2": [0.02, 0.0]},
        index=[1.0, 4.0],
    )
    assert follows_theory(table)
    too_far = table.copy()
    too_far.loc[1.0, "KL 1"] = 0.7  # more than half the theory's 0.4 away
    assert not follows_theory(too_far)
    not_collapsed = table.copy()
    not_collapsed.loc[4.0, "KL 2"] = 0.08  # theory: the prior
    assert not follows_theory(not_collapsed)


def test_kl_against_theory_pairs_each_dimension_with_its_prediction(split):
    model, _ = fit_vae(split, epochs=5, record=False)
    row = kl_against_theory(model, split.X_train, beta=1.0)
    assert list(row) == ["KL 1", "theory 1", "KL 2", "theory 2"]
    expected = linear_vae_kl(variances_by_direction(split.X_train), 1.0)
    assert [row["theory 1"], row["theory 2"]] == pytest.approx(list(expected))


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


def test_claim_kl_by_hand(page_run, page):
    by_formula = 0.5 + -0.5 * (1 + math.log(0.25) - 0.25)
    assert page["kl"].item() == pytest.approx(by_formula, rel=1e-6)
    assert round(by_formula, 3) == 0.818 and round(by_formula - 0.5, 3) == 0.318
    out = output_of(page_run(STEM), "solution_kl_by_hand").splitlines()
    assert out[0].split()[-1] == out[1].split()[-1] == "0.8181"


def test_claim_vae_follows_linear_theory(page, split):
    """Not only the page's seed: VAEs from four seeds, at the sweep's β and
    the exercise's, each follow the linear theory (trained side by side:
    each draws its own z, which is one more source of variation)."""
    assert follows_theory(page["beta_table"]) and follows_theory(page["one_left"])
    betas = (0.1, 1.0, 2.0, 2.5, 4.0)
    seeds = range(1, 5)
    batch = (split.X_train, split.y_train)
    for beta in betas:
        vaes = []
        for seed in seeds:
            set_seed(seed)
            vaes.append(VAE(N_FEATURES))
        train_many(vaes, partial(vae_loss, beta=beta), [batch] * len(vaes), 300)
        rows = {
            seed: kl_against_theory(v, split.X_train, beta)
            for seed, v in zip(seeds, vaes, strict=True)
        }
        table = pd.DataFrame(rows).T
        assert follows_theory(table), (beta, table)


def test_claim_autoencoder_codes_near_prior_scale(page_run):
    """Not only this split: the autoencoders of the Autoencoders page's
    repeated splits all put their codes at about the prior's scale."""
    other = page_run("autoencoders").namespace
    for model, s in zip(other["autoencoders"], other["splits"], strict=True):
        check = prior_check(model, s.X_train)
        assert check["largest |code mean|"] < 1.0
        assert 0.5 < check["smallest code SD"] <= check["largest code SD"] < 2.0
        assert 0.5 < check["spread of prior draws / reconstructions"] < 1.5


def verdicts_on_many_splits(many_splits, pairs):
    table = paired_differences(
        many_splits["models"], pairs, ("accuracy", "balanced_accuracy")
    )
    return table["verdict"]


def test_claim_vae_head_beats_majority(page, many_splits):
    page_verdict = page["differences"]["verdict"]
    many = verdicts_on_many_splits(many_splits, [("VAE head", "majority class")])
    key = ("VAE head - majority class", "balanced_accuracy")
    assert page_verdict[key] == many[key] == "higher"
    key = ("VAE head - majority class", "accuracy")
    assert page_verdict[key] == many[key] == "undecided"


def test_claim_vae_head_undecided_against_pca_and_logistic_regression(
    page, many_splits
):
    pairs = [("VAE head", "PCA head"), ("VAE head", "logistic regression")]
    page_verdicts = page["differences"]["verdict"].drop(
        "VAE head - majority class", level="difference"
    )
    assert set(page_verdicts) == {"undecided"}
    assert set(verdicts_on_many_splits(many_splits, pairs)) == {"undecided"}


# ------------------------------------------------------------------ helpers


def test_code_spread_and_class_gap():
    latents = pd.DataFrame(
        {
            "z1": [0.0, 2.0, 0.0, 2.0, 5.0],
            "z2": [0.0, 0.0, 1.0, 1.0, 5.0],
            "Smoking status": ["non-smoker", "non-smoker", "smoker", "smoker", "x"],
            "beta": [1.0, 1.0, 1.0, 1.0, 2.0],
        }
    )
    assert code_spread(latents, 1.0) == pytest.approx(math.sqrt(4 / 3 + 1 / 3))
    assert class_gap(latents, 1.0) == pytest.approx(1.0)
    assert class_gap(latents, 2.0) == 0.0  # one class only


def test_prior_check_and_decoded_draws_work_for_both_kinds(split):
    ae, _ = fit_autoencoder(split, epochs=5, record=False)
    vae = VAE(N_FEATURES)
    for model in (ae, vae):
        assert decode_prior_draws(model, 7).shape == (7, N_FEATURES)
        check = prior_check(model, split.X_train)
        assert check["smallest code SD"] <= check["largest code SD"]
        assert check["spread of prior draws / reconstructions"] > 0


def test_path_steps_of_an_even_line_and_of_a_jump():
    even = torch.linspace(0, 1, 11)[:, None] * torch.tensor([[2.0, 1.0]])
    steps = path_steps(even)
    assert steps["end-to-end change"] == pytest.approx(2.0)
    assert steps["largest step"] == pytest.approx(0.2)
    assert steps["unevenness"] == pytest.approx(1.0)
    jump = torch.zeros(11, 1)
    jump[6:] = 1.0
    assert path_steps(jump)["unevenness"] == pytest.approx(10.0)


def test_pair_figure_draws_each_pair_once_per_group():
    frame = pd.DataFrame(
        np.random.default_rng(0).normal(size=(6, 4)), columns=list("abcd")
    )
    frame["Source"] = ["x", "y"] * 3
    fig = pair_figure(frame, list("abcd"), by="Source", title="t")
    assert len(fig.data) == 2 * 6  # 6 pairs of 4 genes, 2 groups
    assert {t.type for t in fig.data} == {"scatter"}
    assert sum(t.showlegend for t in fig.data) == 2


def test_latent_frame_has_every_sample(split):
    model = VAE(N_FEATURES)
    frame = latent_frame(model, split)
    assert len(frame) == len(split.y_train) + len(split.y_test)


def test_page_ends_with_next_steps():
    text = (ROOT / "docs" / "07_vae.md").read_text()
    last_heading = [line for line in text.splitlines() if line.startswith("## ")][-1]
    assert last_heading == "## Next steps"

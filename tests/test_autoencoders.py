"""tutorial_code/autoencoders.py: the models, their losses and the page's claims."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from tutorial_code.autoencoders import (
    BETAS,
    HIDDEN,
    LATENT_DIM,
    VAE,
    AutoEncoder,
    autoencoder_loss,
    codes,
    fit_autoencoder,
    fit_code_classifier,
    fit_vae,
    kl_to_standard_normal,
    reconstruction_error,
    vae_loss,
    vae_scores,
    vae_terms,
)
from tutorial_code.classifier import set_seed
from tutorial_code.gbm_data import (
    FEATURES,
)

N_FEATURES = len(FEATURES)


@pytest.fixture(scope="module")
def page(page_run):
    return page_run("autoencoders").namespace


def batch_of(x):
    return (x, torch.zeros(len(x)))


def final(history, key):
    return history[key][-1]


# ------------------------------------------------------------------ models


def test_autoencoder_shapes():
    model = AutoEncoder(N_FEATURES)
    x = torch.randn(7, N_FEATURES)
    assert model(x).shape == (7, N_FEATURES)
    assert model.code(x).shape == (7, LATENT_DIM)


def test_autoencoder_has_one_hidden_layer_each_side():
    model = AutoEncoder(N_FEATURES)
    kinds = [(type(m), getattr(m, "in_features", None)) for m in model.encoder]
    assert kinds == [(nn.Linear, 5), (nn.ReLU, None), (nn.Linear, HIDDEN)]
    assert model.encoder[2].out_features == LATENT_DIM == 2
    kinds = [(type(m), getattr(m, "out_features", None)) for m in model.decoder]
    assert kinds == [(nn.Linear, HIDDEN), (nn.ReLU, None), (nn.Linear, 5)]
    assert HIDDEN == 64
    # The decoder rebuilds real-valued standardised genes: no squashing at the end.
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())


def test_vae_shapes():
    model = VAE(N_FEATURES)
    x_hat, mu, logvar = model(torch.randn(6, N_FEATURES))
    assert x_hat.shape == (6, N_FEATURES)
    assert mu.shape == logvar.shape == (6, LATENT_DIM)


def test_reconstruction_error_sums_features_and_averages_samples():
    x = torch.zeros(4, 5)
    x_hat = torch.ones(4, 5)
    assert reconstruction_error(x_hat, x).item() == pytest.approx(5.0)
    assert reconstruction_error(x_hat, x) == nn.MSELoss()(x_hat, x) * 5


def test_autoencoder_loss_ignores_labels():
    model = AutoEncoder(N_FEATURES)
    x = torch.randn(8, N_FEATURES)
    assert autoencoder_loss(model, (x, torch.zeros(8))) == autoencoder_loss(
        model, (x, torch.ones(8))
    )


# ------------------------------------------------------------------ the VAE loss


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(9, 3), torch.randn(9, 3)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    assert torch.isclose(
        kl_to_standard_normal(mu, logvar), expected.sum(dim=1).mean(), atol=1e-5
    )


def test_kl_is_zero_for_the_standard_normal():
    assert kl_to_standard_normal(torch.zeros(4, 2), torch.zeros(4, 2)).item() == 0


def test_vae_loss_is_per_sample():
    """Duplicating the batch leaves the loss unchanged (no batch-size scaling)."""
    torch.manual_seed(0)
    model = VAE(N_FEATURES).eval()
    x = torch.randn(10, N_FEATURES)
    doubled = torch.cat([x, x])
    for beta in (0.1, 1.0, 4.0):
        assert torch.isclose(
            vae_loss(model, batch_of(x), beta=beta),
            vae_loss(model, batch_of(doubled), beta=beta),
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
        assert vae_loss(model, batch, beta=beta).item() == pytest.approx(
            expected, rel=1e-5
        )


def test_vae_samples_in_training_and_uses_mu_in_eval():
    torch.manual_seed(0)
    model = VAE(N_FEATURES)
    x = torch.randn(5, N_FEATURES)
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    x_hat, mu, _ = model(x)
    assert torch.equal(x_hat, model(x)[0])
    assert torch.equal(x_hat, model.decoder(mu))
    assert torch.equal(codes(model, x), mu)


def test_reparameterise_scales_noise_by_sigma():
    mu, logvar = torch.full((20000, 1), 3.0), torch.full((20000, 1), math.log(4.0))
    set_seed(0)
    z = VAE.reparameterise(mu, logvar)
    assert z.mean().item() == pytest.approx(3.0, abs=0.05)
    assert z.std().item() == pytest.approx(2.0, abs=0.05)


# ------------------------------------------------------------------ training


def test_fits_are_seeded(split):
    for fit in (fit_autoencoder, fit_vae):
        model_a, history_a = fit(split, epochs=25)
        model_b, history_b = fit(split, epochs=25)
        assert history_a == history_b
        for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
            assert torch.equal(a, b)


def test_code_classifier_keeps_the_encoder_frozen(split):
    model, _ = fit_autoencoder(split, epochs=5)
    before = [p.clone() for p in model.parameters()]
    head, history = fit_code_classifier(model, split)
    assert all(
        torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)
    )
    assert head(codes(model, split.X_test)).shape == (len(split.y_test),)
    assert len(history["test_accuracy"]) == 300


def test_training_lowers_every_models_loss(page):
    histories = [page["ae_history"], page["ae_head_history"], page["vae_head_history"]]
    histories += [history for _, history in page["vae_runs"].values()]
    for history in histories:
        assert final(history, "train_loss") < history["train_loss"][0]


def test_autoencoder_really_reconstructs(page):
    """Well below predicting zeros (the training mean) and a per-gene copy of it."""
    split, ae = page["split"], page["ae"]
    for x in (split.X_train, split.X_test):
        ae_error = reconstruction_error(ae(x).detach(), x)
        mean_error = reconstruction_error(torch.zeros_like(x), x)
        assert ae_error < 0.5 * mean_error
    per_gene = reconstruction_error(ae(split.X_test).detach(), split.X_test) / 5
    assert per_gene < 0.5


def test_sweep_reuses_the_beta_one_vae_with_the_same_seed(page, split):
    assert page["vae_runs"][1.0][0] is page["vae"]
    assert list(page["vae_runs"]) == list(BETAS)
    # Reusing it is only honest because a fresh β = 1 run would be identical.
    _, again = fit_vae(split, beta=1.0, epochs=20)
    _, first = fit_vae(split, beta=1.0, epochs=20)
    assert again == first


def test_comparison_mlp_equals_the_classifier_page(page, page_run):
    classifier_metrics = page_run("classifier").namespace["mlp_metrics"]
    row = page["comparison"].loc["MLP on the five genes"].to_dict()
    assert row == pytest.approx(classifier_metrics, abs=5e-4)


def test_every_figure_has_a_title_and_axis_titles(page_run):
    figures = page_run("autoencoders").figures
    assert len(figures) == 7
    for figure in figures:
        layout = figure["layout"]
        assert layout["title"]["text"]
        assert layout["xaxis"]["title"]["text"]
        assert layout["yaxis"]["title"]["text"]
    loss_figures = [
        f
        for f in figures
        if "loss" in f["layout"]["title"]["text"]
        and "each β" not in f["layout"]["title"]["text"]
    ]
    assert len(loss_figures) == 4  # autoencoder, its head, the VAE, its head
    sweep = next(f for f in figures if "each β" in f["layout"]["title"]["text"])
    assert len(sweep["data"]) == 2 * len(BETAS)  # training and test curve per β
    for figure in loss_figures:
        names = [trace["name"] for trace in figure["data"]]
        assert names == ["Training loss", "Test loss"]


# ------------------------------------------------------------------ claims


def test_claim_classifier_page_showed_a_gap(page_run):
    history = page_run("classifier").namespace["mlp_history"]
    assert final(history, "test_loss") > 1.5 * final(history, "train_loss")


def test_claim_polynomial_fits_under_and_over(page_run):
    data = page_run("autoencoders").figures[0]["data"]
    x_train, y_train = np.array(data[0]["x"]), np.array(data[0]["y"])
    x_new, y_new = np.array(data[1]["x"]), np.array(data[1]["y"])

    def errors(degree):
        fit = np.polynomial.Polynomial.fit(x_train, y_train, degree)
        return (
            np.mean((fit(x_train) - y_train) ** 2),
            np.mean((fit(x_new) - y_new) ** 2),
        )

    (line_train, line_new), (cubic_train, cubic_new), (wild_train, wild_new) = map(
        errors, (1, 3, 11)
    )
    assert wild_train < 1e-6  # passes through every training point
    assert line_train > 2 * cubic_train  # too rigid
    assert cubic_new < line_new and cubic_new < wild_new
    assert wild_new > 10 * cubic_new


def test_claim_mean_baseline_is_five(page):
    assert page["baseline"]["training"] == pytest.approx(5.0, abs=1e-4)


def test_claim_test_baseline_above_five(page):
    assert page["baseline"]["test"] > 5.0


def test_claim_ae_beats_mean_baseline(page):
    assert final(page["ae_history"], "test_loss") < 0.5 * page["baseline"]["test"]
    # ... and for every gene on its own, too.
    split, ae = page["split"], page["ae"].eval()
    with torch.no_grad():
        per_gene = ((ae(split.X_test) - split.X_test) ** 2).mean(dim=0)
    assert (per_gene < (split.X_test**2).mean(dim=0)).all()


def test_claim_ae_training_loss_keeps_falling(page):
    assert (np.diff(page["ae_history"]["train_loss"]) < 0).all()


def test_claim_ae_test_loss_stalls(page):
    train_loss = np.array(page["ae_history"]["train_loss"])
    test_loss = np.array(page["ae_history"]["test_loss"])
    # Steep drop over the first 50 epochs ...
    assert test_loss[49] < 0.5 * test_loss[0]
    # ... then it wanders between about 2.0 and 2.2 ...
    assert 1.95 < test_loss[49:].min() and test_loss[49:].max() < 2.25
    # ... while the training loss keeps falling well below it.
    assert train_loss[49] - train_loss[-1] > 1.0
    assert train_loss[-1] < test_loss[49:].min() - 0.3
    # The lowest test loss is well before the last epoch.
    assert test_loss.argmin() < 250


def test_claim_ae_head_test_loss_flat(page):
    history = page["ae_head_history"]
    assert np.abs(np.array(history["test_loss"]) - math.log(2)).max() < 0.03
    assert final(history, "train_loss") < history["train_loss"][0] - 0.1


def test_claim_vae_losses_level_off(page):
    history = page["vae_history"]
    for key in ("train_loss", "test_loss"):
        values = np.array(history[key])
        total_drop = values[0] - values.min()
        assert abs(values[-1] - values[-51]) < 0.05 * total_drop, key
        assert values[0] - values[199] > 0.9 * (values[0] - values[-1]), key
        assert values[-1] < values[0]


def test_claim_vae_gap_smaller_than_ae(page):
    def relative_gap(history):
        return (final(history, "test_loss") - final(history, "train_loss")) / final(
            history, "train_loss"
        )

    assert relative_gap(page["vae_history"]) < 0.15
    assert relative_gap(page["vae_history"]) < relative_gap(page["ae_history"])

    def gap(history):
        return final(history, "test_loss") - final(history, "train_loss")

    assert 0 < gap(page["vae_history"]) < gap(page["ae_history"])


def test_claim_beta_trades_reconstruction_for_kl(page):
    table = page["beta_table"]
    assert table["test reconstruction"].is_monotonic_increasing
    assert table["test KL"].is_monotonic_decreasing
    assert table["test reconstruction"].is_unique and table["test KL"].is_unique


def test_claim_vae_reconstruction_vs_autoencoder(page):
    rec = page["beta_table"]["test reconstruction"]
    ae_test = final(page["ae_history"], "test_loss")
    assert abs(rec[0.1] - ae_test) < 0.1 * ae_test
    assert rec[1.0] > 1.1 * ae_test


def test_claim_beta4_collapses(page):
    row = page["beta_table"].loc[4.0]
    assert row["test KL"] < 0.05
    assert row["test reconstruction"] > 0.95 * page["baseline"]["test"]
    # Every test sample is rebuilt as (nearly) the same average sample.
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


def test_claim_vae_head_test_loss_flat(page):
    history = page["vae_head_history"]
    assert np.abs(np.array(history["test_loss"]) - math.log(2)).max() < 0.03
    assert final(history, "train_loss") < history["train_loss"][0] - 0.05


def test_claim_mlp_beats_code_heads(page):
    table = page["comparison"]
    mlp = table.loc["MLP on the five genes"]
    for head in ("head on autoencoder codes", "head on VAE means (μ)"):
        assert (mlp > table.loc[head]).all(), head


def test_claim_heads_near_chance(page):
    table = page["comparison"]
    assert page["split"].y_test.mean().item() == pytest.approx(0.5)
    for head in ("head on autoencoder codes", "head on VAE means (μ)"):
        assert 0.4 <= table.loc[head, "accuracy"] <= 10 / 18 + 1e-3, head


def test_claim_code_keeps_variation_not_label(page):
    # Most of the variation: the code rebuilds the genes with under half the
    # error of knowing nothing about the sample ...
    for part, key in (("training", "train_loss"), ("test", "test_loss")):
        assert final(page["ae_history"], key) < 0.5 * page["baseline"][part]
    # ... but the smoking signal is mostly gone: the heads are near chance while
    # the MLP on the raw genes is not.
    table = page["comparison"]
    assert table.loc["MLP on the five genes", "accuracy"] > 0.7
    assert table.loc["head on autoencoder codes", "accuracy"] < 0.6
    assert table.loc["head on VAE means (μ)", "accuracy"] < 0.6

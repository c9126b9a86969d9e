"""tutorial_code/autoencoders.py: autoencoder, PCA, heads and the page's claims."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import output_of
from many_splits import scores
from torch import nn

from tutorial_code.autoencoders import (
    LATENT_DIM,
    AutoEncoder,
    autoencoder_loss,
    codes,
    fit_autoencoder,
    fit_autoencoders,
    fit_autoencoders_side_by_side,
    fit_code_classifier,
    fit_pca,
    head_on,
    heads_side_by_side,
    mean_prediction_error,
    model_encoder,
    pca_encoder,
    pca_reconstruction_error,
    prevalence_loss,
    reconstruction_error,
    share_in_plane,
)
from tutorial_code.classifier import balanced_accuracy, predict
from tutorial_code.evaluation import (
    paired_difference,
    paired_differences,
    repeated_splits,
)
from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    select_features,
)

STEM = "autoencoders"
N_FEATURES = len(feature_genes())


@pytest.fixture(scope="module")
def page(page_run):
    return page_run(STEM).namespace


def final(history, key):
    return history[key][-1]


# ------------------------------------------------------------------ models


def test_autoencoder_shapes():
    model = AutoEncoder(N_FEATURES)
    x = torch.randn(7, N_FEATURES)
    assert model(x).shape == (7, N_FEATURES)
    assert model.code(x).shape == (7, LATENT_DIM)
    # The decoder rebuilds real-valued standardised genes: no squashing at the end.
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())


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


def test_pca_is_fitted_on_training_rows_and_rebuilds_exactly_with_all_components(
    split,
):
    pca = fit_pca(split)
    assert np.allclose(pca.mean_, split.X_train.mean(dim=0).numpy(), atol=1e-6)
    assert pca_encoder(pca)(split.X_test).shape == (len(split.y_test), 2)
    full = fit_pca(split, n_components=N_FEATURES)
    assert pca_reconstruction_error(full, split.X_test) == pytest.approx(0, abs=1e-8)
    # Two components rebuild the training rows with the variance they leave out.
    left_out = 5 - pca.explained_variance_.sum() * (len(split.y_train) - 1) / len(
        split.y_train
    )
    assert pca_reconstruction_error(pca, split.X_train) == pytest.approx(left_out)


# ------------------------------------------------------------------ training


def test_fits_are_seeded(split):
    model_a, history_a = fit_autoencoder(split, epochs=25)
    model_b, history_b = fit_autoencoder(split, epochs=25)
    assert history_a == history_b
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(a, b)


def test_recording_nothing_trains_the_same_model(split):
    recorded, _ = fit_autoencoder(split, epochs=20)
    silent, history = fit_autoencoder(split, epochs=20, record=False)
    assert history == {}
    for a, b in zip(recorded.parameters(), silent.parameters(), strict=True):
        assert torch.equal(a, b)


def test_code_classifier_keeps_the_encoder_frozen(split):
    model, _ = fit_autoencoder(split, epochs=5)
    before = [p.clone() for p in model.parameters()]
    head, history = fit_code_classifier(model_encoder(model), split)
    assert all(
        torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)
    )
    assert head(codes(model, split.X_test)).shape == (len(split.y_test),)
    assert len(history["test_accuracy"]) == 300


@pytest.fixture(scope="module")
def two_splits():
    X, y = select_features(label_smoking_status(load_gbm()), feature_genes())
    return repeated_splits(X, y, n_splits=2)


def test_fit_autoencoders_trains_each_as_fit_autoencoder_would(two_splits):
    models = fit_autoencoders(two_splits, epochs=10)
    for k, s in enumerate(two_splits):
        alone, _ = fit_autoencoder(s, seed=k, epochs=10, record=False)
        for p, q in zip(alone.parameters(), models[k].parameters(), strict=True):
            assert torch.equal(p, q)


def test_side_by_side_gives_the_autoencoders_of_the_plain_loop(two_splits):
    """Trained side by side, each autoencoder has the weights and the
    reconstructions of fit_autoencoders' (float rounding apart)."""
    one_by_one = fit_autoencoders(two_splits, epochs=25)
    together = fit_autoencoders_side_by_side(two_splits, epochs=25)
    for s, alone, other in zip(two_splits, one_by_one, together, strict=True):
        for p, q in zip(alone.parameters(), other.parameters(), strict=True):
            assert torch.allclose(p, q, rtol=0, atol=1e-5)
        with torch.no_grad():
            rebuilt = alone.eval()(s.X_test), other.eval()(s.X_test)
        assert torch.allclose(*rebuilt, rtol=0, atol=1e-5)


def test_heads_side_by_side_predict_what_head_on_predicts(two_splits):
    encoders = [pca_encoder(fit_pca(two_splits[0])), lambda x: x[:, :2]]
    one_by_one = head_on(encoders, epochs=60)
    together = heads_side_by_side(encoders, two_splits, epochs=60)
    for k, s in enumerate(two_splits):
        # score the training rows too: more samples to disagree on
        every_row = replace(s, X_test=torch.cat([s.X_train, s.X_test]))
        expected = one_by_one(every_row, seed=k)
        head, _ = fit_code_classifier(encoders[k], s, k, record=False, epochs=60)
        assert (expected == predict(head, encoders[k](every_row.X_test))).all()
        assert (together(every_row, seed=k) == expected).all()


def test_prevalence_loss_is_the_cross_entropy_of_a_constant_answer(split):
    p = split.y_train.mean()
    constant = torch.full_like(split.y_test, torch.logit(p).item())
    expected = nn.BCEWithLogitsLoss()(constant, split.y_test).item()
    assert prevalence_loss(split) == pytest.approx(expected, rel=1e-5)


def test_share_in_plane_is_one_for_a_gap_inside_the_plane(split):
    pca = fit_pca(split, n_components=N_FEATURES)  # the plane is everything
    assert share_in_plane(pca, split) == pytest.approx(1.0, abs=1e-5)
    assert 0 <= share_in_plane(fit_pca(split, n_components=1), split) <= 1


def test_mean_prediction_error_is_the_summed_variance(split):
    x = split.X_test
    assert mean_prediction_error(x) == pytest.approx((x**2).sum(dim=1).mean().item())


# ------------------------------------------------------------------ the page


def test_page_shows_three_figures(page_run):
    assert len(page_run(STEM).figures) == 3


def test_page_trains_one_autoencoder_per_split(page):
    assert len(page["autoencoders"]) == len(page["splits"]) >= 20
    assert page["results"]["split"].nunique() == len(page["splits"])


# ------------------------------------------------------------------ claims


def test_claim_mean_baseline_is_the_gene_count(page):
    assert page["errors"].loc["predict the mean", "training"] == pytest.approx(
        N_FEATURES, abs=1e-4
    )


def test_claim_weight_counts(page_run, page):
    n, hidden, code = len(feature_genes()), 64, 2
    encoder = n * hidden + hidden + hidden * code + code
    decoder = code * hidden + hidden + hidden * n + n
    assert (encoder, decoder) == (514, 517)
    assert sum(p.numel() for p in page["ae"].parameters()) == 1031
    assert page["pca"].components_.size == 10
    out = output_of(page_run(STEM), "solution_count_weights")
    assert "encoder 514 + decoder 517 = 1031" in out


def test_claim_linear_autoencoder_is_pca(page):
    pca_error = page["errors"].loc["PCA, 2 components", "training"]
    assert abs(page["linear_error"] - pca_error) < 1e-3
    assert page["linear_error"] >= pca_error - 1e-5  # PCA is the optimum
    assert page["angle"] < 5


def test_linear_autoencoder_has_no_hidden_layer(page):
    model = page["linear"]
    assert [type(m) for m in model.children()] == [nn.Linear, nn.Linear]


def test_claim_ae_no_better_than_pca_on_new_samples(page, many_splits):
    """On 200 splits the autoencoder's test error is not below PCA's: the
    paired difference's interval does not lie below 0."""
    assert page["ae_minus_pca"].mean() > -0.05
    difference = paired_difference(
        many_splits["reconstruction"], "autoencoder", "PCA", metric="error"
    )
    assert difference["high"] > 0, difference


def verdicts_on_many_splits(many_splits, pairs):
    table = paired_differences(
        many_splits["models"], pairs, ("accuracy", "balanced_accuracy")
    )
    return table["verdict"]


def test_claim_ae_head_beats_majority(page, many_splits):
    page_verdict = page["differences"]["verdict"]
    many = verdicts_on_many_splits(many_splits, [("AE head", "majority class")])
    key = ("AE head - majority class", "balanced_accuracy")
    assert page_verdict[key] == many[key] == "higher"
    key = ("AE head - majority class", "accuracy")
    assert page_verdict[key] == many[key] == "undecided"


def test_claim_heads_and_logistic_regression_undecided(page, many_splits):
    pairs = [
        ("AE head", "PCA head"),
        ("AE head", "logistic regression"),
        ("PCA head", "logistic regression"),
    ]
    page_verdicts = page["differences"]["verdict"].drop(
        "AE head - majority class", level="difference"
    )
    assert set(page_verdicts) == {"undecided"}
    assert set(verdicts_on_many_splits(many_splits, pairs)) == {"undecided"}


def test_many_splits_scores_agree_with_the_pages_metrics(many_splits):
    s = many_splits["first_split"]
    for y_pred in many_splits["predictions"].values():
        mine = scores(s.y_test.numpy(), y_pred[0])
        expected = balanced_accuracy(s.y_test.numpy().astype(int), y_pred[0])
        assert mine["balanced_accuracy"] == pytest.approx(expected)

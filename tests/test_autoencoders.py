"""tutorial_code/autoencoders.py: autoencoder, PCA, heads and the page's claims."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import output_of
from torch import nn

from tutorial_code.autoencoders import (
    LATENT_DIM,
    AutoEncoder,
    autoencoder_loss,
    codes,
    fit_autoencoder,
    fit_autoencoders,
    fit_code_classifier,
    fit_pca,
    head_on,
    model_encoder,
    pca_encoder,
    pca_reconstruction_error,
    reconstruction_error,
)
from tutorial_code.classifier import predict
from tutorial_code.evaluation import head_to_head, repeated_splits
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


def test_fit_autoencoders_gives_what_fit_autoencoder_gives_one_by_one(two_splits):
    """Trained side by side, each autoencoder has the weights and the
    reconstructions of fit_autoencoder with the split's seed (float rounding
    apart)."""
    together = fit_autoencoders(two_splits, epochs=25)
    for k, s in enumerate(two_splits):
        alone, _ = fit_autoencoder(s, seed=k, epochs=25, record=False)
        for p, q in zip(alone.parameters(), together[k].parameters(), strict=True):
            assert torch.allclose(p, q, rtol=0, atol=1e-5)
        with torch.no_grad():
            rebuilt = alone.eval()(s.X_test), together[k].eval()(s.X_test)
        assert torch.allclose(*rebuilt, rtol=0, atol=1e-5)


def test_head_on_trains_each_head_as_fit_code_classifier_would(two_splits):
    encoders = [pca_encoder(fit_pca(two_splits[0])), lambda x: x[:, :2]]
    fit_predict = head_on(encoders, two_splits, epochs=60)
    for k, (encode, s) in enumerate(zip(encoders, two_splits, strict=True)):
        head, _ = fit_code_classifier(encode, s, k, record=False, epochs=60)
        # score the training rows too: more samples to disagree on
        every_row = replace(s, X_test=torch.cat([s.X_train, s.X_test]))
        expected = predict(head, encode(every_row.X_test))
        assert (fit_predict(every_row, seed=k) == expected).all()


# ------------------------------------------------------------------ the page


def test_page_shows_four_figures(page_run):
    assert len(page_run(STEM).figures) == 4


def test_page_trains_one_autoencoder_per_split(page):
    assert len(page["autoencoders"]) == len(page["splits"]) >= 20
    assert page["results"]["split"].nunique() == len(page["splits"])


# ------------------------------------------------------------------ claims


def test_claim_classifier_page_showed_a_gap(page_run):
    history = page_run("classifier").namespace["mlp_history"]
    assert final(history, "test_loss") > 1.5 * final(history, "train_loss")


def test_claim_polynomial_fits_under_and_over(page_run):
    data = page_run(STEM).figures[0]["data"]
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
    assert page["errors"].loc["training", "predict the mean"] == pytest.approx(
        5.0, abs=1e-4
    )


def test_claim_ae_beats_mean_baseline(page):
    errors = page["errors"]
    assert (
        errors.loc["test", "autoencoder"] < 0.5 * errors.loc["test", "predict the mean"]
    )


def test_claim_ae_overfits_pca_does_not(page):
    errors = page["errors"]
    ae, pca = errors["autoencoder"], errors["PCA, 2 components"]
    assert ae["test"] > 1.4 * ae["training"]
    assert abs(pca["test"] - pca["training"]) < 0.1 * pca["training"]


def test_claim_ae_training_loss_keeps_falling(page):
    assert (np.diff(page["ae_history"]["train_loss"]) < 0).all()


def test_claim_ae_test_loss_stalls(page):
    train_loss = np.array(page["ae_history"]["train_loss"])
    test_loss = np.array(page["ae_history"]["test_loss"])
    assert test_loss[49] < 0.5 * test_loss[0]
    assert 1.95 < test_loss[49:].min() and test_loss[49:].max() < 2.25
    assert train_loss[49] - train_loss[-1] > 1.0
    assert train_loss[-1] < test_loss[49:].min() - 0.3
    assert test_loss.argmin() < 250


def test_claim_ae_head_test_loss_flat(page):
    history = page["ae_head_history"]
    assert np.abs(np.array(history["test_loss"]) - math.log(2)).max() < 0.05
    assert final(history, "train_loss") < history["train_loss"][0] - 0.1


def test_claim_fixed_split_inconclusive(page):
    fixed = page["fixed"]
    accuracy = fixed.xs("accuracy", level=1)
    best = accuracy["value"].idxmax()
    worst = accuracy["value"].idxmin()
    assert (best, worst) == ("logistic regression", "AE head")
    # the intervals overlap
    assert accuracy.loc[best, "95% low"] < accuracy.loc[worst, "95% high"]
    assert page["fixed_test"]["p_value"] > 0.05


def test_claim_test_baseline_is_mostly_luck(page):
    baseline = page["rebuilt"]["predict the mean"]
    assert 4.5 < baseline.median() < 5.3
    assert baseline.min() < 4 and baseline.max() > 6
    fixed = page["errors"].loc["test", "predict the mean"]
    assert 5.8 < fixed <= baseline.max()


def test_claim_ae_no_better_than_pca_on_new_samples(page, page_run):
    rebuilt = page["rebuilt"]
    wins = int((rebuilt["autoencoder"] < rebuilt["PCA"]).sum())
    assert 0.3 * len(rebuilt) <= wins <= 0.7 * len(rebuilt)
    assert f"below PCA in {wins} of {len(rebuilt)}" in page_run(STEM).stdout


def test_claim_heads_above_chance(page):
    results = page["results"]
    for head in ("AE head", "PCA head"):
        accuracy = results.loc[results["model"] == head, "accuracy"]
        assert accuracy.median() > 0.7, head
        assert np.percentile(accuracy, 2.5) >= 0.5, head


def test_claim_ae_head_vs_pca_head_undecided(page, page_run):
    count = head_to_head(page["results"], "AE head", "PCA head")
    n = len(page["splits"])
    assert 0.35 * n <= count["higher"] <= 0.65 * n
    assert count["lower"] >= 0.2 * n
    line = f"{count['higher']} higher, {count['equal']} equal, {count['lower']} lower"
    assert f"AE head vs PCA head, of {n} splits: {line}" in page_run(STEM).stdout


def test_claim_logistic_regression_beats_heads(page):
    ae = head_to_head(page["results"], "AE head", "logistic regression")
    pca = head_to_head(page["results"], "PCA head", "logistic regression")
    n = len(page["splits"])
    assert ae["lower"] > 0.5 * n and ae["lower"] >= ae["higher"] + 4
    assert pca["lower"] >= 0.75 * n


def test_claim_heads_one_sample_below_ceiling(page):
    medians = page["split_accuracy"].median()
    ceiling = page["ceiling"]
    assert abs(medians["logistic regression"] - ceiling) < 0.01
    for head in ("AE head", "PCA head"):
        assert ceiling - 1 / 18 - 0.01 < medians[head] < ceiling - 0.02, head


# ------------------------------------------------------------------ exercises


def test_claim_weight_counts(page_run, page):
    n, hidden, code = len(feature_genes()), 64, 2
    encoder = n * hidden + hidden + hidden * code + code
    decoder = code * hidden + hidden + hidden * n + n
    assert (encoder, decoder) == (514, 517)
    assert sum(p.numel() for p in page["ae"].parameters()) == 1031
    assert page["pca"].components_.size == 10
    out = output_of(page_run(STEM), "solution_count_weights")
    assert "encoder 514 + decoder 517 = 1031" in out


def test_claim_code_size_trend(page):
    table = page["ex_table"]
    assert list(table.index) == [1, 2, 3, 5]
    for part in ("training", "test"):
        assert table[part].is_monotonic_decreasing, part
    assert table.loc[1, "test"] < 1.1 * table.loc[1, "training"]
    for size in (2, 3, 5):
        assert table.loc[size, "test"] > 1.4 * table.loc[size, "training"], size
    assert table.loc[5, "training"] < 0.1
    assert table.loc[5, "test"] > 2 * table.loc[5, "training"]
    # the size-2 row is the page's autoencoder
    assert table.loc[2, "test"] == page["ae_history"]["test_loss"][-1]


def test_claim_linear_autoencoder_is_pca(page):
    history, pca_error = page["ex_lin"], page["pca_error"]
    assert abs(history["train_loss"][-1] - pca_error["training"]) < 1e-3
    assert history["train_loss"][-1] >= pca_error["training"] - 1e-5
    assert page["ex_angle"] < 5


def test_linear_autoencoder_has_no_hidden_layer(page):
    model = page["ex_linear"]
    assert [type(m) for m in model.children()] == [nn.Linear, nn.Linear]

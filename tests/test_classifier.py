"""tutorial_code/classifier.py: the shared toolkit, the MLP and the page's claims."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from tutorial_code.classifier import (
    MLP,
    classification_loss,
    classification_metrics,
    classification_scores,
    curve_figure,
    evaluate,
    loss_figure,
    metrics_table,
    train,
    train_mlp,
)
from tutorial_code.gbm_data import (
    FEATURES,
)


@pytest.fixture(scope="module")
def page(page_run):
    return page_run("classifier").namespace


def toy_batches(n=40, seed=0):
    """Two linearly separable clouds: something any classifier can learn."""
    g = torch.Generator().manual_seed(seed)
    y = (torch.arange(n) % 2).float()
    x = torch.randn(n, 3, generator=g) + 2 * y[:, None]
    return (x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :])


# ------------------------------------------------------------------ model


def test_mlp_returns_one_logit_per_sample():
    model = MLP(n_inputs=5)
    assert model(torch.randn(7, 5)).shape == (7,)
    assert MLP(n_inputs=2, hidden=16)(torch.randn(3, 2)).shape == (3,)


def test_mlp_outputs_unbounded_logits_not_probabilities():
    layers = [m for m in MLP(5).modules() if isinstance(m, nn.Sigmoid)]
    assert layers == []


def test_classification_loss_is_bce_of_sigmoid_of_logits():
    torch.manual_seed(0)
    model = MLP(5)
    x, y = torch.randn(10, 5), (torch.rand(10) > 0.5).float()
    p = torch.sigmoid(model(x))
    by_hand = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert torch.isclose(classification_loss(model, (x, y)), by_hand, atol=1e-6)


def test_scores_threshold_logits_at_zero_and_match_the_loss():
    class Fixed(nn.Module):
        def forward(self, x):
            return x[:, 0]

    x = torch.tensor([[-1.0], [0.5], [2.0], [-0.1]])
    y = torch.tensor([0.0, 1.0, 0.0, 0.0])
    scores = classification_scores(Fixed(), (x, y))
    assert scores["accuracy"] == pytest.approx(0.75)
    assert scores["loss"] == pytest.approx(classification_loss(Fixed(), (x, y)).item())


# ------------------------------------------------------------------ training


def test_train_records_every_score_every_epoch():
    train_batch, test_batch = toy_batches()
    history = train(
        MLP(3),
        classification_loss,
        train_batch,
        test_batch,
        epochs=7,
        scores=classification_scores,
    )
    assert set(history) == {
        "train_loss",
        "test_loss",
        "train_accuracy",
        "test_accuracy",
    }
    assert all(len(values) == 7 for values in history.values())


def test_train_scores_each_batch_with_one_forward_pass():
    """Per epoch: one pass to train, then one per batch for all the scores."""
    train_batch, test_batch = toy_batches()
    model = MLP(3)
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    train(
        model,
        classification_loss,
        train_batch,
        test_batch,
        epochs=5,
        scores=classification_scores,
    )
    assert len(calls) == 5 * 3


def test_train_lowers_the_loss():
    train_batch, test_batch = toy_batches()
    torch.manual_seed(0)
    history = train(MLP(3), classification_loss, train_batch, test_batch, epochs=100)
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["test_loss"][-1] < history["test_loss"][0]


def test_train_leaves_frozen_parameters_alone():
    train_batch, test_batch = toy_batches()
    torch.manual_seed(0)
    model = MLP(3)
    first = model.layers[0]
    first.requires_grad_(False)
    before = first.weight.clone()
    train(model, classification_loss, train_batch, test_batch, epochs=20)
    assert torch.equal(first.weight, before)


def test_train_mlp_is_seeded(split):
    model_a, history_a = train_mlp(split, epochs=30)
    model_b, history_b = train_mlp(split, epochs=30)
    assert history_a == history_b
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(a, b)
    _, other_seed = train_mlp(split, seed=1, epochs=30)
    assert other_seed != history_a


# ------------------------------------------------------------------ metrics and figures


def test_classification_metrics_match_a_hand_count():
    y = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    logits = torch.tensor([2.0, 1.0, -1.0, 0.5, -2.0, -3.0])  # TP TP FN FP TN TN
    metrics = classification_metrics(y, logits)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(2 / 3)


def test_classification_metrics_without_positive_predictions_do_not_warn():
    y = torch.tensor([1.0, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = classification_metrics(y, torch.tensor([-1.0, -1.0, -1.0]))
    assert metrics["precision"] == 0 and metrics["f1"] == 0


def test_evaluate_uses_eval_mode_and_no_gradients():
    model = MLP(3)
    x, y = toy_batches()[1]
    model.train()
    assert evaluate(model, x, y) == classification_metrics(y, model(x).detach())
    assert not model.training


def test_metrics_table_has_a_row_per_model():
    row = {"accuracy": 0.5, "precision": 0.25, "recall": 1.0, "f1": 0.4}
    table = metrics_table({"a": row, "b": row})
    assert list(table.index) == ["a", "b"]
    assert list(table.columns) == ["accuracy", "precision", "recall", "f1"]


def test_figures_have_titles_and_training_and_test_curves():
    history = {"train_loss": [3, 2, 1], "test_loss": [3, 2.5, 2]}
    history |= {"train_accuracy": [0.5, 0.6, 0.7], "test_accuracy": [0.5, 0.5, 0.6]}
    fig = loss_figure(history, "A title")
    assert fig.layout.title.text == "A title"
    assert fig.layout.xaxis.title.text == "Epoch"
    assert fig.layout.yaxis.title.text == "Loss"
    assert [t.name for t in fig.data] == ["Training loss", "Test loss"]
    assert list(fig.data[0].x) == [1, 2, 3]
    fig = curve_figure(history, "accuracy", "Acc", "Accuracy")
    assert [t.name for t in fig.data] == ["Training accuracy", "Test accuracy"]


# ------------------------------------------------------------------ the page


def test_page_shows_every_figure_with_titles(page_run):
    figures = page_run("classifier").figures
    assert len(figures) == 3
    for figure in figures:
        assert figure["layout"]["title"]["text"]


def test_page_prints_a_test_metrics_table(page_run):
    out = page_run("classifier").stdout
    assert "accuracy  precision  recall" in out


def test_claim_classes_balanced(page):
    share = page["y"].mean()
    assert 0.4 < share < 0.6


def test_claim_no_gene_separates_alone(page):
    """Even the best cut on any single gene gets fewer than 80% right."""
    X, y = page["X"], page["y"].to_numpy()
    for gene in FEATURES:
        values = X[gene].to_numpy()
        best = max(
            max(((values > cut) == y).mean(), ((values <= cut) == y).mean())
            for cut in values
        )
        assert best < 0.8, gene


def test_claim_scaled_on_training_rows(page):
    split = page["split"]
    assert torch.allclose(split.X_train.mean(dim=0), torch.zeros(5), atol=1e-5)
    assert torch.allclose(
        split.X_train.std(dim=0, correction=0), torch.ones(5), atol=1e-5
    )
    assert not torch.allclose(split.X_test.mean(dim=0), torch.zeros(5), atol=0.05)


def test_claim_mlp_losses_fall(page):
    history = page["mlp_history"]
    for part in ("train", "test"):
        assert (np.diff(history[f"{part}_loss"]) < 0).all(), part


def test_claim_mlp_test_loss_gap(page):
    train_loss, test_loss = (
        page["mlp_history"]["train_loss"],
        page["mlp_history"]["test_loss"],
    )
    assert test_loss[0] - test_loss[-1] < 0.5 * (train_loss[0] - train_loss[-1])
    assert 1.5 < test_loss[-1] / train_loss[-1] < 2.5


def test_claim_mlp_test_accuracy_plateau(page):
    history = page["mlp_history"]
    last_200 = history["test_accuracy"][-200:]
    assert len(set(last_200)) == 1
    assert history["train_accuracy"][-1] > last_200[-1]


def test_claim_mlp_recall_above_precision(page):
    metrics = page["mlp_metrics"]
    assert metrics["recall"] > metrics["precision"]
    assert metrics == evaluate(page["mlp"], page["split"].X_test, page["split"].y_test)

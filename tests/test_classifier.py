"""tutorial_code/classifier.py: the shared toolkit, the MLP and the page's claims."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import output_of, page_file
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
)
from torch import nn

from tutorial_code.classifier import (
    MLP,
    accuracy,
    classification_loss,
    confusion_table,
    curve_figure,
    label_metrics,
    loss_figure,
    majority_class,
    pair_figure,
    plot_sample,
    predict,
    train,
    train_mlp,
)
from tutorial_code.gbm_data import Split, feature_genes

STEM = "classifier"


@pytest.fixture(scope="module")
def page(page_run):
    return page_run(STEM).namespace


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


def test_classification_loss_is_bce_of_sigmoid_of_logits():
    torch.manual_seed(0)
    model = MLP(5)
    x, y = torch.randn(10, 5), (torch.rand(10) > 0.5).float()
    p = torch.sigmoid(model(x))
    by_hand = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert torch.isclose(classification_loss(model, (x, y)), by_hand, atol=1e-6)


class Fixed(nn.Module):
    """A 'model' whose logit is its first input."""

    def forward(self, x):
        return x[:, 0]


def test_accuracy_thresholds_logits_at_zero():
    x = torch.tensor([[-1.0], [0.5], [2.0], [-0.1]])
    y = torch.tensor([0.0, 1.0, 0.0, 0.0])
    assert accuracy(Fixed(), (x, y)) == pytest.approx(0.75)


# ------------------------------------------------------------------ training


def test_train_records_every_score_every_epoch():
    train_batch, test_batch = toy_batches()
    history = train(
        MLP(3),
        classification_loss,
        train_batch,
        test_batch,
        epochs=7,
        metric=accuracy,
    )
    assert set(history) == {
        "train_loss",
        "test_loss",
        "train_accuracy",
        "test_accuracy",
    }
    assert all(len(values) == 7 for values in history.values())
    plain = train(MLP(3), classification_loss, train_batch, test_batch, epochs=3)
    assert set(plain) == {"train_loss", "test_loss"}


def test_train_records_the_loss_after_each_step_in_evaluation_mode():
    train_batch, test_batch = toy_batches()
    torch.manual_seed(0)
    model = MLP(3)
    history = train(model, classification_loss, train_batch, test_batch, epochs=4)
    assert not model.training
    with torch.no_grad():
        assert history["test_loss"][-1] == pytest.approx(
            classification_loss(model, test_batch).item()
        )
        assert history["train_loss"][-1] == pytest.approx(
            classification_loss(model, train_batch).item()
        )


def test_recording_nothing_trains_the_same_model():
    train_batch, test_batch = toy_batches()
    torch.manual_seed(0)
    recorded = MLP(3)
    torch.manual_seed(0)
    silent = MLP(3)
    train(recorded, classification_loss, train_batch, test_batch, epochs=10)
    nothing = train(
        silent, classification_loss, train_batch, test_batch, epochs=10, record=False
    )
    assert nothing == {}
    for a, b in zip(recorded.parameters(), silent.parameters(), strict=True):
        assert torch.equal(a, b)


def test_train_without_weight_decay_takes_adams_steps():
    """AdamW at weight_decay=0 is Adam: the page's loop written out uses Adam."""
    train_batch, test_batch = toy_batches()
    torch.manual_seed(0)
    by_train = MLP(3)
    torch.manual_seed(0)
    by_adam = MLP(3)
    train(by_train, classification_loss, train_batch, test_batch, 20, record=False)
    optimiser = torch.optim.Adam(by_adam.parameters(), lr=1e-3)
    for _ in range(20):
        loss = classification_loss(by_adam, train_batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    for a, b in zip(by_train.parameters(), by_adam.parameters(), strict=True):
        assert torch.equal(a, b)


def test_weight_decay_is_decoupled_a_shrink_by_lr_times_decay_per_step():
    """What Exercise 2 says AdamW does: with no gradient at all, each step
    multiplies every weight by 1 - lr * weight_decay."""
    weight = nn.Parameter(torch.tensor([2.0, -4.0]))
    optimiser = torch.optim.AdamW([weight], lr=1e-3, weight_decay=1.0)
    weight.grad = torch.zeros(2)
    optimiser.step()
    assert weight.detach().tolist() == pytest.approx([2.0 * 0.999, -4.0 * 0.999])


def test_weight_decay_shrinks_the_weights():
    train_batch, test_batch = toy_batches()
    norms = []
    for weight_decay in (0.0, 1.0):
        torch.manual_seed(0)
        model = MLP(3)
        train(
            model,
            classification_loss,
            train_batch,
            test_batch,
            epochs=100,
            weight_decay=weight_decay,
            record=False,
        )
        norms.append(sum((p**2).sum().item() for p in model.parameters()))
    assert norms[1] < 0.95 * norms[0]


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


def test_train_mlp_is_seeded_and_takes_a_loss(split):
    model_a, history_a = train_mlp(split, epochs=30)
    model_b, history_b = train_mlp(split, epochs=30)
    assert history_a == history_b
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(a, b)
    _, other_seed = train_mlp(split, seed=1, epochs=30)
    assert other_seed != history_a
    calls = []

    def counting_loss(model, batch):
        calls.append(len(batch[1]))
        return classification_loss(model, batch)

    train_mlp(split, epochs=2, loss_fn=counting_loss, record=False)
    assert calls == [len(split.y_train)] * 2


# ------------------------------------------------------------------ metrics


def test_predict_thresholds_probabilities_in_eval_mode():
    model = Fixed().train()
    x = torch.tensor([[-1.0], [0.5], [0.0], [2.0]])
    assert predict(model, x).tolist() == [0, 1, 0, 1]  # logit > 0
    assert not model.training
    # sigmoid(-1) = 0.27, sigmoid(0) = 0.5: a lower threshold calls more
    assert predict(model, x, threshold=0.25).tolist() == [1, 1, 1, 1]
    assert predict(model, x, threshold=0.9).tolist() == [0, 0, 0, 0]


def test_label_metrics_are_scikit_learns():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 2, 30)
        y[:2] = [0, 1]  # both classes
        pred = rng.integers(0, 2, 30)
        metrics = label_metrics(y, pred)
        assert metrics == pytest.approx(
            {
                "accuracy": accuracy_score(y, pred),
                "balanced_accuracy": balanced_accuracy_score(y, pred),
                "precision": precision_score(y, pred, zero_division=0),
                "recall": recall_score(y, pred, zero_division=0),
                "f1": f1_score(y, pred, zero_division=0),
            }
        )


def test_label_metrics_match_a_hand_count():
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    pred = [1, 1, 0, 1, 0, 0, 0, 0]  # TP TP FN FP TN TN TN TN
    assert label_metrics(y, pred) == pytest.approx(
        {
            "accuracy": 6 / 8,
            "balanced_accuracy": (2 / 3 + 4 / 5) / 2,
            "precision": 2 / 3,
            "recall": 2 / 3,
            "f1": 2 / 3,
        }
    )


def test_label_metrics_of_degenerate_predictions_and_test_sets_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nobody = label_metrics([1, 0, 0, 0], [0, 0, 0, 0])
        one_class = label_metrics([0, 0, 0], [0, 1, 0])
    assert nobody["precision"] == 0 and nobody["f1"] == 0
    assert nobody["balanced_accuracy"] == 0.5
    assert one_class["balanced_accuracy"] == pytest.approx(2 / 3)


def toy_split(y_train, n_test=5):
    y_train = torch.tensor(y_train, dtype=torch.float32)
    return Split(
        X_train=torch.zeros(len(y_train), 2),
        X_test=torch.zeros(n_test, 2),
        y_train=y_train,
        y_test=torch.zeros(n_test),
        scaler=None,
        feature_names=["a", "b"],
    )


def test_majority_class_predicts_the_training_majority_either_way():
    assert majority_class(toy_split([1, 1, 1, 0])).tolist() == [1] * 5
    assert majority_class(toy_split([1, 0, 0, 0], n_test=3)).tolist() == [0] * 3


def test_confusion_table_has_both_classes_even_if_one_is_never_predicted():
    table = confusion_table([0, 0, 1, 1, 1], [0, 0, 0, 0, 0])
    assert table.loc["smoker", "smoker"] == 0
    assert table.loc["smoker", "non-smoker"] == 3
    assert table.loc["non-smoker", "non-smoker"] == 2
    assert table.to_numpy().sum() == 5


# ------------------------------------------------------------------ figures


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


def test_pair_figure_draws_each_pair_once_with_scatter_traces_only():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(30, 4)), columns=list("ABCD"))
    status = pd.Series(["smoker", "non-smoker"] * 15, name="status")
    fig = pair_figure(X, status, "Pairs")
    assert {t.type for t in fig.data} == {"scatter"}  # no splom
    assert len(fig.data) == 6 * 2  # 4 genes: 6 pairs, two classes each
    pairs = {(t.xaxis, t.yaxis) for t in fig.data}
    assert len(pairs) == 6
    # The first axes (bottom left) carry both titles, as every figure's do.
    assert fig.layout.xaxis.title.text == "A"
    assert fig.layout.yaxis.title.text == "D"
    assert sum(t.showlegend for t in fig.data) == 2


def test_pair_figure_caps_the_points_and_says_so():
    X = pd.DataFrame({"A": np.arange(3000.0), "B": np.arange(3000.0)})
    status = pd.Series(["smoker"] * 300 + ["non-smoker"] * 2700, name="status")
    fig = pair_figure(X, status, "Pairs")
    assert sum(len(t.x) for t in fig.data) == 400
    assert "(400 of 3000 samples)" in fig.layout.title.text


def test_plot_sample_caps_points_and_keeps_class_shares():
    frame = pd.DataFrame({"x": np.arange(5000), "g": ["a"] * 4000 + ["b"] * 1000})
    shown, sampled = plot_sample(frame, by="g", cap=500)
    assert sampled and len(shown) == 500
    assert (shown["g"] == "b").mean() == pytest.approx(0.2)
    small, sampled = plot_sample(frame.head(10), by="g", cap=500)
    assert not sampled and len(small) == 10


# ------------------------------------------------------------------ the page


def test_page_shows_three_figures(page_run):
    """The pair plot, the loss curves and the accuracy curves."""
    titles = [f["layout"]["title"]["text"] for f in page_run(STEM).figures]
    assert len(titles) == 3 and titles[0].startswith("The feature genes")


def test_every_code_block_on_the_page_comes_from_the_module():
    """The page says so; the Evaluation page's code lives in its own module."""
    fences = re.findall(r'--8<-- "([^":]+):', page_file(STEM).read_text())
    assert fences and set(fences) == {"tutorial_code/classifier.py"}


def test_no_torch_func_on_the_page():
    assert "torch.func" not in page_file(STEM).read_text()
    sections = re.findall(r'classifier\.py:(\w+)"', page_file(STEM).read_text())
    assert "train_many" not in sections


def test_claim_no_gene_separates_alone(page):
    """Even the best cut on any single gene gets a balanced accuracy below
    0.75, and the largest class shift is below 1.5 standard deviations."""
    X, y = page["X"], page["y"].to_numpy()
    for gene in feature_genes():
        values = X[gene].to_numpy()
        best = max(
            balanced_accuracy_score(y, values > cut) for cut in np.unique(values)
        )
        assert max(best, 1 - best) < 0.75, gene
    assert page["shift"].abs().max() < 1.5


def test_claim_scaled_on_training_rows(page):
    split = page["split"]
    n = split.X_train.shape[1]
    assert torch.allclose(split.X_train.mean(dim=0), torch.zeros(n), atol=1e-5)
    assert torch.allclose(
        split.X_train.std(dim=0, correction=0), torch.ones(n), atol=1e-5
    )
    assert not torch.allclose(split.X_test.mean(dim=0), torch.zeros(n), atol=0.05)


def test_claim_loop_loss_falls(page_run, page):
    losses = page["losses"]
    assert abs(losses[0] - np.log(2)) < 0.05
    assert losses[-1] < 0.5 * losses[0]
    line = f"epoch 1 {losses[0]:.3f}, last {losses[-1]:.3f}"
    assert line in output_of(page_run(STEM), "explicit_loop")


def test_claim_mlp_parameter_count(page_run, page):
    n_genes = len(feature_genes())
    assert page["n_parameters"] == 64 * n_genes + 64 + 64 + 1 == 449
    assert sum(p.numel() for p in MLP(n_genes, hidden=8).parameters()) == 57
    assert output_of(page_run(STEM), "solution_parameters").endswith("in all: 449\n")


def test_claim_train_is_the_loop_written_out(page_run, page):
    pairs = zip(page["model"].parameters(), page["mlp"].parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert "same weights as the loop written out: True" in page_run(STEM).stdout
    # the two histories are one step apart
    recorded, written = page["mlp_history"]["train_loss"], page["losses"]
    assert recorded[:-1] == pytest.approx(written[1:], abs=1e-6)


def test_claim_mlp_losses_fall(page):
    assert (np.diff(page["mlp_history"]["train_loss"]) < 0).all()


def test_claim_mlp_test_loss_gap(page):
    """The test loss turns: its lowest point is well inside the run, it
    ends clearly above it, and far above the training loss."""
    test_loss = np.array(page["mlp_history"]["test_loss"])
    train_loss = np.array(page["mlp_history"]["train_loss"])
    best = int(test_loss.argmin())
    assert 20 < best + 1 == page["best_epoch"] < len(test_loss) - 50
    assert test_loss[-1] > test_loss[best] + 0.02
    assert (np.diff(test_loss[best + 10 :]) > 0).mean() > 0.9  # rises after
    assert test_loss[-1] > 1.5 * train_loss[-1]


def test_claim_mlp_test_accuracy_below_training(page):
    history = page["mlp_history"]
    gaps = np.array(history["train_accuracy"][-100:]) - history["test_accuracy"][-100:]
    assert (gaps > 0).all()  # not only at the last epoch


def test_claim_weight_decay_narrows_the_gap(page):
    table = page["decay_table"]
    assert list(table.index) == ["no weight decay", "weight decay 1"]
    assert table["squared weights"].iloc[1] < 0.8 * table["squared weights"].iloc[0]
    assert table["training loss"].iloc[1] > table["training loss"].iloc[0]
    assert table["gap"].iloc[1] < table["gap"].iloc[0]


def test_claim_mlp_accuracy_no_better_than_majority(page):
    scores, split = page["scores"], page["split"]
    y_test = split.y_test.numpy()
    assert scores["MLP"].to_dict() == pytest.approx(
        label_metrics(y_test, predict(page["mlp"], split.X_test))
    )
    assert scores.loc["accuracy", "majority class"] == pytest.approx(1 - y_test.mean())
    assert scores.loc["accuracy", "MLP"] <= scores.loc["accuracy", "majority class"]
    assert scores.loc["balanced_accuracy", "majority class"] == 0.5


def test_claim_precision_recall_by_hand(page_run, page):
    scores = page["scores"]
    assert page["precision"] == pytest.approx(scores.loc["precision", "MLP"])
    assert page["recall"] == pytest.approx(scores.loc["recall", "MLP"])
    out = output_of(page_run(STEM), "solution_confusion")
    assert f"recall    = {page['true_pos']}/" in out


def test_claim_balanced_accuracy_by_hand(page):
    assert page["by_hand"] == pytest.approx(
        page["scores"].loc["balanced_accuracy", "MLP"]
    )


def test_solutions_leave_the_page_namespace_alone(page):
    """The page's names keep the values the rest of the page printed."""
    assert callable(page["accuracy"])  # the metric, not a number
    assert isinstance(page["scores"], pd.DataFrame)

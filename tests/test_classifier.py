"""tutorial_code/classifier.py: the shared toolkit, the MLP and the page's claims."""

import copy
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import output_of
from torch import nn

from tutorial_code.classifier import (
    MLP,
    accuracy,
    classification_loss,
    curve_figure,
    loss_figure,
    mlps_on,
    plot_sample,
    predict,
    set_seed,
    train,
    train_many,
    train_mlp,
)
from tutorial_code.evaluation import (
    head_to_head,
    label_metrics,
    mcnemar_exact,
    repeated_splits,
)
from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    select_features,
)
from tutorial_code.make_synthetic_gbm import bayes_accuracy

STEM = "classifier"


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


def test_classification_loss_is_bce_of_sigmoid_of_logits():
    torch.manual_seed(0)
    model = MLP(5)
    x, y = torch.randn(10, 5), (torch.rand(10) > 0.5).float()
    p = torch.sigmoid(model(x))
    by_hand = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert torch.isclose(classification_loss(model, (x, y)), by_hand, atol=1e-6)


def test_accuracy_thresholds_logits_at_zero():
    class Fixed(nn.Module):
        def forward(self, x):
            return x[:, 0]

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
    assert norms[1] < 0.8 * norms[0]


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


# ------------------------------------------------------------------ helpers


def test_predict_thresholds_logits_at_zero_in_eval_mode():
    class Fixed(nn.Module):
        def forward(self, x):
            return x[:, 0]

    model = Fixed().train()
    x = torch.tensor([[-1.0], [0.5], [0.0], [2.0]])
    assert predict(model, x).tolist() == [0, 1, 0, 1]
    assert not model.training


# ------------------------------------------------------------------ side by side


def seeded_mlp(seed: int, n_inputs: int = 3) -> MLP:
    set_seed(seed)
    return MLP(n_inputs)


def test_train_many_gives_the_models_train_gives_one_by_one():
    """Same start, own data, same Adam: the same weights and predictions as
    training each model alone, up to float rounding."""
    batches = [toy_batches(seed=k) for k in range(3)]
    alone = [seeded_mlp(k) for k in range(3)]
    together = copy.deepcopy(alone)
    first_losses = [
        classification_loss(m, b[0]).item() for m, b in zip(alone, batches, strict=True)
    ]
    for model, (train_batch, test_batch) in zip(alone, batches, strict=True):
        train(model, classification_loss, train_batch, test_batch, 25, record=False)
    losses = train_many(together, classification_loss, [b[0] for b in batches], 25)
    assert losses.shape == (25, 3)
    assert losses[0].tolist() == pytest.approx(first_losses)
    for a, b, (_, (x_test, _)) in zip(alone, together, batches, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.allclose(p, q, rtol=0, atol=1e-5)
        assert (predict(a, x_test) == predict(b, x_test)).all()
    # and the models really trained, each on its own data
    assert not torch.allclose(
        together[0].layers[0].weight, seeded_mlp(0).layers[0].weight, atol=1e-3
    )


@pytest.fixture(scope="module")
def three_splits():
    X, y = select_features(label_smoking_status(load_gbm()), feature_genes())
    return repeated_splits(X, y, n_splits=3)


def test_mlps_on_predicts_as_train_mlp_with_the_split_seed(three_splits):
    fit_predict = mlps_on(three_splits, epochs=60)
    for k, s in enumerate(three_splits):
        model, _ = train_mlp(s, seed=k, epochs=60, record=False)
        # score the training rows too: more samples to disagree on
        every_row = replace(s, X_test=torch.cat([s.X_train, s.X_test]))
        expected = predict(model, every_row.X_test)
        assert (fit_predict(every_row, seed=k) == expected).all()


def test_train_many_names_batches_it_cannot_stack():
    models = [seeded_mlp(0), seeded_mlp(1)]
    one_batch = [toy_batches()[0]]
    with pytest.raises(ValueError, match="one training batch per model"):
        train_many(models, classification_loss, one_batch, epochs=1)
    unequal = [toy_batches(n=40)[0], toy_batches(n=20)[0]]
    with pytest.raises(ValueError, match="same shapes"):
        train_many(models, classification_loss, unequal, epochs=1)


def test_plot_sample_caps_points_and_keeps_class_shares():
    frame = pd.DataFrame({"x": np.arange(5000), "g": ["a"] * 4000 + ["b"] * 1000})
    shown, sampled = plot_sample(frame, by="g", cap=500)
    assert sampled and len(shown) == 500
    assert (shown["g"] == "b").mean() == pytest.approx(0.2)
    small, sampled = plot_sample(frame.head(10), by="g", cap=500)
    assert not sampled and len(small) == 10


# ------------------------------------------------------------------ the page


def test_page_shows_four_figures(page_run):
    assert len(page_run(STEM).figures) == 4


def test_paired_figure_draws_every_split(page):
    fig = page["fig"]  # the last figure: the paired one
    splits = page["results"]["split"].nunique()
    lines = [t for t in fig.data if t.name.startswith("split")]
    assert len(lines) == splits >= 20


def test_repeated_evaluation_uses_the_same_splits_for_every_model(page):
    results = page["results"]
    counts = results.groupby("model")["split"].nunique()
    assert (counts == len(page["splits"])).all() and len(page["splits"]) >= 20
    # 80/20 and stratified, like the page's own split
    for s in page["splits"]:
        assert len(s.y_test) == len(page["split"].y_test)
        assert s.y_test.sum() == page["split"].y_test.sum()


def test_page_prints_metrics_with_intervals(page_run):
    out = page_run(STEM).stdout
    assert "95% low  95% high" in out
    assert "exact McNemar test" in out


def test_claim_classes_balanced(page):
    share = page["y"].mean()
    assert 0.4 < share < 0.6


def test_claim_no_gene_separates_alone(page):
    """Even the best cut on any single gene gets fewer than 80% right."""
    X, y = page["X"], page["y"].to_numpy()
    for gene in feature_genes():
        values = X[gene].to_numpy()
        best = max(
            max(((values > cut) == y).mean(), ((values <= cut) == y).mean())
            for cut in values
        )
        assert best < 0.8, gene


def test_claim_scaled_on_training_rows(page):
    split = page["split"]
    n = split.X_train.shape[1]
    assert torch.allclose(split.X_train.mean(dim=0), torch.zeros(n), atol=1e-5)
    assert torch.allclose(
        split.X_train.std(dim=0, correction=0), torch.ones(n), atol=1e-5
    )
    assert not torch.allclose(split.X_test.mean(dim=0), torch.zeros(n), atol=0.05)


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
    table = page["mlp_table"]
    assert table.loc["recall", "value"] > table.loc["precision", "value"]
    split = page["split"]
    expected = label_metrics(split.y_test.numpy(), predict(page["mlp"], split.X_test))
    assert table["value"].to_dict() == pytest.approx(expected)


def test_claim_mlp_intervals_wide(page):
    table = page["mlp_table"]
    width = table["95% high"] - table["95% low"]
    assert width["accuracy"] > 0.3
    assert width["precision"] > width["accuracy"]
    assert width["recall"] > width["accuracy"]


def test_claim_fixed_split_cannot_tell(page):
    test = page["fixed_test"]
    assert test["only_a_right"] + test["only_b_right"] <= 3
    assert test["p_value"] > 0.5
    split = page["split"]
    again = mcnemar_exact(split.y_test.numpy(), page["mlp_pred"], page["lr_pred"])
    assert again == test


def test_claim_mlp_beats_majority_every_split(page, page_run):
    count = head_to_head(page["results"], "MLP", "majority class")
    assert count["higher"] == len(page["splits"])
    line = f"of {len(page['splits'])} splits: {count['higher']} higher, 0 equal"
    assert line in page_run(STEM).stdout


def test_claim_logistic_regression_at_least_as_good(page, page_run):
    count = head_to_head(page["results"], "MLP", "logistic regression")
    assert count["lower"] >= 2 * count["higher"]
    assert count["lower"] - count["higher"] >= 3
    line = (
        f"MLP vs logistic regression, of {len(page['splits'])} splits: "
        f"{count['higher']} higher, {count['equal']} equal, "
        f"{count['lower']} lower"
    )
    assert line in page_run(STEM).stdout
    median = page["summary"]["median"]
    for metric in ("accuracy", "precision", "f1"):
        lr, mlp = median["logistic regression", metric], median["MLP", metric]
        assert lr > mlp, metric
    recall = median["logistic regression", "recall"], median["MLP", "recall"]
    assert recall[0] == pytest.approx(recall[1])


def test_claim_medians_near_ceiling(page):
    ceiling = page["ceiling"]
    assert ceiling == pytest.approx(bayes_accuracy(feature_genes())[0])
    medians = page["split_accuracy"].median()
    for name in ("logistic regression", "MLP"):
        assert abs(medians[name] - ceiling) <= 1 / 18 + 1e-9, name


# ------------------------------------------------------------------ exercises


def test_solutions_leave_the_page_namespace_alone(page):
    """Solution sections use their own ex_ names, and the page's names keep
    the values the rest of the page printed."""
    assert callable(page["accuracy"])  # the metric, not a table


def test_claim_loop_loss_falls(page_run, page):
    losses = page["losses"]
    assert losses[0] == pytest.approx(0.73, abs=0.005)
    assert abs(losses[0] - np.log(2)) < 0.05
    assert losses[-1] == pytest.approx(0.30, abs=0.005)
    assert "epoch 1 0.732, last 0.303" in output_of(page_run(STEM), "explicit_loop")


def test_claim_mlp_parameter_count(page_run, page):
    count = sum(p.numel() for p in page["model"].parameters())
    n_genes = len(feature_genes())
    assert count == 64 * n_genes + 64 + 64 + 1 == 449
    assert sum(p.numel() for p in MLP(n_genes, hidden=8).parameters()) == 57
    assert output_of(page_run(STEM), "solution_parameters").endswith("in all: 449\n")


def test_claim_train_is_the_loop_written_out(page_run, page):
    pairs = zip(page["model"].parameters(), page["mlp"].parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert "same weights as the loop written out: True" in page_run(STEM).stdout
    # the two histories are one step apart
    recorded, written = page["mlp_history"]["train_loss"], page["losses"]
    assert recorded[:-1] == pytest.approx(written[1:], abs=1e-6)


def test_claim_weight_decay_closes_the_gap(page_run):
    lines = output_of(page_run(STEM), "solution_weight_decay").splitlines()

    def numbers(line):
        return [float(w.rstrip(",")) for w in line.split() if w[0].isdigit()][-3:]

    (train0, test0, sq0), (train1, test1, sq1) = map(numbers, lines)
    assert 7 < sq0 / sq1 < 11  # "about a ninth"
    assert train1 > train0
    assert (test1 - train1) < 0.5 * (test0 - train0)
    assert abs(test1 - test0) < 0.01


def test_claim_precision_recall_by_hand(page_run, page):
    table = page["mlp_table"]
    assert page["ex_precision"] == pytest.approx(table.loc["precision", "value"])
    assert page["ex_recall"] == pytest.approx(table.loc["recall", "value"])
    assert page["ex_fp"] == 3
    out = output_of(page_run(STEM), "solution_confusion")
    assert "precision = 8/(8+3)" in out


def test_claim_variants_change_little(page):
    accuracy = page["ex_accuracy"]["median"]
    for name in ("MLP, 8 hidden", "MLP, lr 0.01"):
        assert abs(accuracy[name] - accuracy["MLP"]) <= 1 / 18 + 1e-9, name
    assert len(page["ex_splits"]) == 10


def test_claim_small_network_and_fast_rate(page):
    small = head_to_head(page["ex_all"], "MLP, 8 hidden", "MLP")
    fast = head_to_head(page["ex_all"], "MLP, lr 0.01", "MLP")
    assert small["higher"] > small["lower"]
    assert fast["lower"] > fast["higher"]

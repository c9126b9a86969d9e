"""tutorial_code/evaluation.py: intervals, the paired test and repeated splits."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression

from tutorial_code.evaluation import (
    METRICS,
    describe_head_to_head,
    evaluate_repeatedly,
    head_to_head,
    label_metrics,
    logistic_regression,
    majority_class,
    mcnemar_exact,
    metrics_with_intervals,
    paired_figure,
    repeated_splits,
    summarise,
    wilson_interval,
)
from tutorial_code.gbm_data import Split


def toy_split(n_train=40, n_test=20, seed=0):
    """Two clouds a logistic regression can separate well."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    y = (torch.arange(n) % 2).float()
    x = torch.randn(n, 3, generator=g) + 3 * y[:, None]
    return Split(
        X_train=x[:n_train],
        X_test=x[n_train:],
        y_train=y[:n_train],
        y_test=y[n_train:],
        scaler=None,
        feature_names=["a", "b", "c"],
    )


# ------------------------------------------------------------------ one split


def test_label_metrics_match_a_hand_count():
    y = [1, 1, 1, 0, 0, 0]
    pred = [1, 1, 0, 1, 0, 0]  # TP TP FN FP TN TN
    metrics = label_metrics(y, pred)
    assert metrics == pytest.approx(
        {"accuracy": 4 / 6, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3}
    )


def test_label_metrics_without_positive_predictions_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = label_metrics([1, 0, 0], [0, 0, 0])
    assert metrics["precision"] == 0 and metrics["f1"] == 0


def test_wilson_interval_matches_the_formula():
    k, n, z = 14, 18, 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(centre - half, abs=1e-9)
    assert high == pytest.approx(centre + half, abs=1e-9)
    # Unlike p ± z·se, it stays inside [0, 1] and is not empty at 0 or n.
    low, high = wilson_interval(18, 18)
    assert high == pytest.approx(1.0) and 0.8 < low < 1
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_metrics_with_intervals_use_the_right_denominators():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    table = metrics_with_intervals(y, pred)
    assert table.loc["accuracy", "of"] == "6/8"
    assert table.loc["precision", "of"] == "2/3"  # predicted smokers
    assert table.loc["recall", "of"] == "2/3"  # real smokers
    low, high = wilson_interval(6, 8)
    assert table.loc["accuracy", "95% low"] == pytest.approx(low)
    assert table.loc["accuracy", "95% high"] == pytest.approx(high)
    assert math.isnan(table.loc["f1", "95% low"])
    for metric, value in label_metrics(y, pred).items():
        assert table.loc[metric, "value"] == pytest.approx(value)


def test_mcnemar_counts_only_discordant_samples():
    y = np.zeros(20, dtype=int)
    a = np.zeros(20, dtype=int)
    b = np.zeros(20, dtype=int)
    b[:7] = 1  # b wrong on 7 samples that a gets right
    a[7:8] = 1  # a wrong on 1 that b gets right
    result = mcnemar_exact(y, a, b)
    assert (result["only_a_right"], result["only_b_right"]) == (7, 1)
    assert result["p_value"] == pytest.approx(binomtest(7, 8).pvalue)
    assert result["p_value"] < 0.1
    assert mcnemar_exact(y, a, a)["p_value"] == 1.0


# ------------------------------------------------------------------ baselines


def test_majority_class_predicts_the_training_majority():
    split = toy_split()
    split.y_train[:30] = 1
    assert (majority_class(split) == 1).all()
    assert len(majority_class(split)) == len(split.y_test)


def test_logistic_regression_is_scikit_learns():
    split = toy_split()
    expected = (
        LogisticRegression()
        .fit(split.X_train.numpy(), split.y_train.numpy())
        .predict(split.X_test.numpy())
    )
    predictions = logistic_regression(split)
    assert (predictions == expected).all()
    assert label_metrics(split.y_test.numpy(), predictions)["accuracy"] > 0.8


# ------------------------------------------------------------------ many splits


@pytest.fixture(scope="module")
def shipped_xy():
    from tutorial_code.gbm_data import label_smoking_status, load_gbm, select_features

    return select_features(label_smoking_status(load_gbm()))


def test_repeated_splits_are_stratified_scaled_and_different(shipped_xy):
    X, y = shipped_xy
    splits = repeated_splits(X, y, n_splits=4)
    assert len(splits) == 4
    tests = set()
    for s in splits:
        assert len(s.y_test) == round(0.2 * len(y))
        assert abs(s.y_test.mean().item() - y.mean()) < 0.05
        assert torch.allclose(s.X_train.mean(dim=0), torch.zeros(5), atol=1e-5)
        tests.add(tuple(s.X_test[:, 0].tolist()))
    assert len(tests) == 4


def test_evaluate_repeatedly_passes_split_index_as_seed():
    splits = [toy_split(seed=k) for k in range(3)]
    seen = []

    def recording(split, seed):
        seen.append(seed)
        return majority_class(split)

    results = evaluate_repeatedly({"m": recording}, splits)
    assert seen == [0, 1, 2]
    assert list(results.columns) == ["split", "model", *METRICS]
    assert len(results) == 3


def fake_results():
    """Three splits, two models with known accuracies."""
    rows = []
    for split, (a, b) in enumerate([(0.8, 0.6), (0.7, 0.7), (0.5, 0.9)]):
        for model, acc in (("a", a), ("b", b)):
            rows.append(
                {"split": split, "model": model, "accuracy": acc}
                | {"precision": acc, "recall": acc, "f1": acc}
            )
    return pd.DataFrame(rows)


def test_summarise_reports_median_and_percentiles_in_model_order():
    table = summarise(fake_results())
    assert list(table.index.get_level_values("model").unique()) == ["a", "b"]
    row = table.loc[("a", "accuracy")]
    assert row["median"] == pytest.approx(0.7)
    assert row["2.5%"] == pytest.approx(np.percentile([0.8, 0.7, 0.5], 2.5))
    assert row["97.5%"] == pytest.approx(np.percentile([0.8, 0.7, 0.5], 97.5))


def test_head_to_head_counts_wins_ties_and_losses():
    counts = head_to_head(fake_results(), "a", "b")
    assert counts == {"higher": 1, "equal": 1, "lower": 1}
    line = describe_head_to_head(fake_results(), "a", "b")
    assert line == "a vs b, of 3 splits: 1 higher, 1 equal, 1 lower"


def test_paired_figure_has_one_line_per_split_and_titles():
    fig = paired_figure(fake_results(), "A title")
    assert fig.layout.title.text == "A title"
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    lines = [t for t in fig.data if t.name.startswith("split")]
    assert len(lines) == 3
    assert list(lines[2].y) == [0.5, 0.9]  # paired: a's and b's score of split 2
    assert list(fig.layout.xaxis.ticktext) == ["a", "b"]

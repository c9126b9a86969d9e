"""tutorial_code/evaluation.py: intervals, the paired test, repeated splits,
paired differences, class weights and thresholds, and the page's claims.

Sentences that rank models are tested on 200 splits (`two_hundred`), not
only on the page's 20: a ranking must not depend on which 20 splits we drew.
"""

import copy
import math
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import page_file
from scipy import stats
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression

from tutorial_code.classifier import MLP, classification_loss, predict, train_mlp
from tutorial_code.evaluation import (
    METRICS,
    by_split,
    check_one_batch_each,
    class_weighted_loss,
    describe_head_to_head,
    evaluate_repeatedly,
    head_to_head,
    label_metrics,
    logistic_regression,
    majority_class,
    mcnemar_exact,
    metrics_with_intervals,
    mlp_predictions,
    mlps_on,
    paired_difference,
    paired_differences,
    paired_figure,
    repeated_splits,
    summarise,
    train_many,
    verdict,
    wilson_interval,
)
from tutorial_code.gbm_data import (
    Split,
    feature_genes,
    label_smoking_status,
    load_gbm,
    select_features,
)
from tutorial_code.make_synthetic_gbm import bayes_accuracy

STEM = "evaluation"


@pytest.fixture(scope="module")
def page(page_run):
    return page_run(STEM).namespace


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


def toy_batches(n=40, seed=0):
    split = toy_split(n_train=n // 2, n_test=n // 2, seed=seed)
    return (split.X_train, split.y_train), (split.X_test, split.y_test)


@pytest.fixture(scope="module")
def shipped_xy():
    return select_features(label_smoking_status(load_gbm()), feature_genes())


# ------------------------------------------------------------------ one split


def test_wilson_interval_matches_the_formula():
    k, n, z = 13, 17, 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(centre - half, abs=1e-9)
    assert high == pytest.approx(centre + half, abs=1e-9)
    # Unlike p ± z·se, it stays inside [0, 1] and is not empty at 0 or n.
    low, high = wilson_interval(17, 17)
    assert high == pytest.approx(1.0) and 0.75 < low < 1
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_metrics_with_intervals_use_the_right_denominators():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    table = metrics_with_intervals(y, pred)
    assert list(table.index) == list(METRICS)
    assert table.loc["accuracy", "of"] == "6/8"
    assert table.loc["precision", "of"] == "2/3"  # predicted smokers
    assert table.loc["recall", "of"] == "2/3"  # real smokers
    low, high = wilson_interval(6, 8)
    assert table.loc["accuracy", "95% low"] == pytest.approx(low)
    assert table.loc["accuracy", "95% high"] == pytest.approx(high)
    for metric in ("balanced_accuracy", "f1"):  # not proportions
        assert math.isnan(table.loc[metric, "95% low"])
    for metric, value in label_metrics(y, pred).items():
        assert table.loc[metric, "value"] == pytest.approx(value)


def test_metrics_with_intervals_of_a_model_that_calls_nobody_a_smoker():
    table = metrics_with_intervals([1, 0, 0, 0], [0, 0, 0, 0])
    assert table.loc["precision", "of"] == ""  # nothing to divide by
    assert math.isnan(table.loc["precision", "95% low"])
    assert table.loc["recall", "of"] == "0/1"


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


def test_logistic_regression_is_scikit_learns_default_fit():
    """Newton's method instead of lbfgs: the same penalised fit."""
    split = toy_split()
    default = LogisticRegression().fit(split.X_train.numpy(), split.y_train.numpy())
    predictions = logistic_regression(split)
    assert (predictions == default.predict(split.X_test.numpy())).all()
    assert label_metrics(split.y_test.numpy(), predictions)["accuracy"] > 0.8


def test_logistic_regression_agrees_with_the_default_on_the_shipped_splits(
    shipped_xy,
):
    for split in repeated_splits(*shipped_xy, n_splits=3):
        default = LogisticRegression().fit(split.X_train.numpy(), split.y_train.numpy())
        expected = default.predict(split.X_test.numpy())
        assert (logistic_regression(split) == expected).all()


# ------------------------------------------------------------------ many splits


def test_repeated_splits_are_stratified_scaled_and_different(shipped_xy):
    X, y = shipped_xy
    splits = repeated_splits(X, y, n_splits=4)
    assert len(splits) == 4
    tests = set()
    for s in splits:
        assert len(s.y_test) == math.ceil(0.2 * len(y))
        assert abs(s.y_test.mean().item() - y.mean()) < 0.05
        n = X.shape[1]
        assert torch.allclose(s.X_train.mean(dim=0), torch.zeros(n), atol=1e-5)
        tests.add(tuple(s.X_test[:, 0].tolist()))
    assert len(tests) == 4


def test_evaluate_repeatedly_passes_split_index_as_seed_and_sizes():
    splits = [toy_split(seed=k) for k in range(3)]
    seen = []

    def recording(split, seed):
        seen.append(seed)
        return majority_class(split)

    results = evaluate_repeatedly({"m": recording}, splits)
    assert seen == [0, 1, 2]
    assert list(results.columns) == ["split", "model", *METRICS, "n_train", "n_test"]
    assert (results["n_train"] == 40).all() and (results["n_test"] == 20).all()


def fake_results(a_scores=(0.8, 0.7, 0.5), b_scores=(0.6, 0.7, 0.9)):
    """Splits with two models of known scores (all metrics alike)."""
    rows = []
    for split, (a, b) in enumerate(zip(a_scores, b_scores, strict=True)):
        for model, score in (("a", a), ("b", b)):
            metrics = {metric: score for metric in METRICS}
            rows.append({"split": split, "model": model, **metrics})
            rows[-1] |= {"n_train": 80, "n_test": 20}
    return pd.DataFrame(rows)


def test_summarise_reports_means_in_model_order():
    table = summarise(fake_results())
    assert list(table.index) == ["a", "b"]
    assert list(table.columns) == list(METRICS)
    assert table.loc["a", "accuracy"] == pytest.approx(2 / 3)
    assert table.loc["b", "recall"] == pytest.approx(2.2 / 3)


def test_paired_difference_is_nadeau_and_bengios_corrected_t_interval():
    a = [0.8, 0.7, 0.5, 0.9, 0.75]
    b = [0.6, 0.7, 0.45, 0.7, 0.7]
    results = fake_results(a, b)
    d = np.subtract(a, b)
    k, s2 = len(d), d.var(ddof=1)
    half = stats.t.ppf(0.975, k - 1) * math.sqrt((1 / k + 20 / 80) * s2)
    corrected = paired_difference(results, "a", "b")
    assert corrected["mean"] == pytest.approx(d.mean())
    assert corrected["low"] == pytest.approx(d.mean() - half)
    assert corrected["high"] == pytest.approx(d.mean() + half)
    plain = paired_difference(results, "a", "b", corrected=False)
    plain_half = stats.t.ppf(0.975, k - 1) * math.sqrt(s2 / k)
    assert plain["high"] - plain["mean"] == pytest.approx(plain_half)
    # the paired difference of b and a is the mirror image
    mirror = paired_difference(results, "b", "a")
    assert mirror["low"] == pytest.approx(-corrected["high"])


def test_verdict_says_higher_lower_or_undecided():
    assert verdict({"mean": 0.1, "low": 0.01, "high": 0.2}) == "higher"
    assert verdict({"mean": -0.1, "low": -0.2, "high": -0.01}) == "lower"
    assert verdict({"mean": 0.1, "low": -0.01, "high": 0.2}) == "undecided"


def test_paired_differences_table_has_every_pair_and_metric_and_verdicts():
    table = paired_differences(fake_results(), [("a", "b")], ["accuracy", "f1"])
    assert list(table.index) == [("a - b", "accuracy"), ("a - b", "f1")]
    row = table.loc[("a - b", "accuracy")]
    expected = paired_difference(fake_results(), "a", "b", "accuracy")
    assert row[["mean", "low", "high"]].to_dict() == pytest.approx(expected)
    assert row["verdict"] == verdict(expected)


def test_head_to_head_counts_wins_ties_and_losses():
    counts = head_to_head(fake_results(), "a", "b")
    assert counts == {"higher": 1, "equal": 1, "lower": 1}
    line = describe_head_to_head(fake_results(), "a", "b")
    assert line == "a vs b, of 3 splits: 1 higher, 1 equal, 1 lower"
    assert list(by_split(fake_results()).loc[2]) == [0.5, 0.9]


def test_paired_figure_has_one_line_per_split_the_means_and_the_ceiling():
    fig = paired_figure(fake_results(), "A title", "balanced_accuracy", 0.8)
    assert fig.layout.title.text == "A title"
    assert fig.layout.yaxis.title.text == "Test balanced accuracy"
    lines = [t for t in fig.data if t.name.startswith("split")]
    assert len(lines) == 3
    assert list(lines[2].y) == [0.5, 0.9]  # paired: a's and b's score of split 2
    means = next(t for t in fig.data if t.name.startswith("mean"))
    assert list(means.y) == pytest.approx([2 / 3, 2.2 / 3])
    ceiling = next(t for t in fig.data if t.name == "ceiling")
    assert set(ceiling.y) == {0.8}
    no_ceiling = paired_figure(fake_results(), "A title")
    assert not [t for t in no_ceiling.data if t.name == "ceiling"]


# ------------------------------------------------------------------ class weights


def test_class_weighted_loss_weighs_each_class_the_same_in_all():
    torch.manual_seed(0)
    model = MLP(3)
    x = torch.randn(8, 3)
    y = torch.tensor([1.0, 0, 0, 0, 0, 0, 1, 0])  # 2 smokers, 6 non-smokers
    p = torch.sigmoid(model(x))
    per_sample = -(3 * y * p.log() + (1 - y) * (1 - p).log())  # 6 / 2 = 3
    assert class_weighted_loss(model, (x, y)).item() == pytest.approx(
        per_sample.mean().item(), rel=1e-5
    )
    balanced = torch.tensor([1.0, 0, 1, 0, 1, 0, 1, 0])
    assert class_weighted_loss(model, (x, balanced)).item() == pytest.approx(
        classification_loss(model, (x, balanced)).item()
    )
    # a batch without smokers does not divide by zero
    assert torch.isfinite(class_weighted_loss(model, (x, torch.zeros(8))))


# ------------------------------------------------------------------ side by side


def seeded_mlp(seed: int, n_inputs: int = 3) -> MLP:
    torch.manual_seed(seed)
    return MLP(n_inputs)


def test_train_many_gives_the_models_train_gives_one_by_one():
    """Same start, own data, same Adam: the same weights and predictions as
    training each model alone, up to float rounding."""
    from tutorial_code.classifier import train

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
def three_splits(shipped_xy):
    return repeated_splits(*shipped_xy, n_splits=3)


@pytest.mark.parametrize("loss_fn", [classification_loss, class_weighted_loss])
def test_mlps_on_predicts_as_mlp_predictions_trained_one_by_one(three_splits, loss_fn):
    """What the page runs (mlps_on) is what it shows (mlp_predictions,
    train_mlp): the same predictions, with and without class weights."""
    fit_predict = mlps_on(three_splits, epochs=60, loss_fn=loss_fn)
    for k, s in enumerate(three_splits):
        model, _ = train_mlp(s, seed=k, epochs=60, loss_fn=loss_fn, record=False)
        # score the training rows too: more samples to disagree on
        every_row = replace(s, X_test=torch.cat([s.X_train, s.X_test]))
        for threshold in (0.5, 0.25):
            expected = predict(model, every_row.X_test, threshold)
            got = fit_predict(every_row, seed=k, threshold=threshold)
            assert (got == expected).all()


def test_mlp_predictions_trains_the_classifier_pages_mlp(three_splits):
    s = three_splits[1]
    model, _ = train_mlp(s, seed=1, record=False)
    assert (mlp_predictions(s, seed=1) == predict(model, s.X_test)).all()
    fit_predict = mlps_on(three_splits)
    assert (fit_predict(s, seed=1) == mlp_predictions(s, seed=1)).all()


def test_train_many_names_batches_it_cannot_stack():
    models = [seeded_mlp(0), seeded_mlp(1)]
    with pytest.raises(ValueError, match="one training batch per model"):
        check_one_batch_each(models, [toy_batches()[0]])
    unequal = [toy_batches(n=40)[0], toy_batches(n=20)[0]]
    with pytest.raises(ValueError, match="same shapes"):
        train_many(models, classification_loss, unequal, epochs=1)


# ------------------------------------------------------------------ the page


def test_every_code_block_on_the_page_comes_from_the_module():
    fences = re.findall(r'--8<-- "([^":]+):', page_file(STEM).read_text())
    assert fences and set(fences) == {"tutorial_code/evaluation.py"}


def test_torch_func_only_inside_the_going_further_block():
    """The main path shows plain loops; vmap & co. sit in a collapsed block."""
    lines = page_file(STEM).read_text().splitlines()
    start = lines.index('??? info "Going further: training many models at once"')
    end = next(i for i in range(start + 1, len(lines)) if lines[i][:1] not in " ")
    inside, outside = lines[start:end], lines[:start] + lines[end:]
    for section in ("imports_many", "train_many", "mlps_on"):
        assert any(f"evaluation.py:{section}" in line for line in inside)
        assert not any(f"evaluation.py:{section}" in line for line in outside)
    assert not any("vmap" in line for line in outside)


def test_page_shows_two_paired_figures(page_run):
    titles = [f["layout"]["title"]["text"] for f in page_run(STEM).figures]
    assert titles == [
        "Test accuracy on 20 splits, paired by split",
        "Test balanced accuracy on 20 splits",
    ]


def test_repeated_evaluation_uses_the_same_splits_for_every_model(page):
    results = page["results"]
    counts = results.groupby("model")["split"].nunique()
    assert (counts == len(page["splits"])).all() and len(page["splits"]) == 20
    # 80/20 and stratified, like the page's own split
    for s in page["splits"]:
        assert len(s.y_test) == len(page["split"].y_test)
        assert s.y_test.sum() == page["split"].y_test.sum()


def test_summary_is_the_mean_over_splits(page):
    results, summary = page["results"], page["summary"]
    mlp = results[results["model"] == "MLP"]
    assert summary.loc["MLP", "balanced_accuracy"] == pytest.approx(
        mlp["balanced_accuracy"].mean()
    )
    assert summary.loc["majority class", "balanced_accuracy"] == 0.5


def test_claim_mlp_intervals_wide(page):
    table = page["mlp_table"]
    width = table["95% high"] - table["95% low"]
    assert width["accuracy"] > 0.3
    assert width["recall"] > width["accuracy"]
    hits, trials = map(int, table.loc["accuracy", "of"].split("/"))
    assert (table.loc["accuracy", "95% low"], table.loc["accuracy", "95% high"]) == (
        pytest.approx(wilson_interval(hits, trials))
    )


def test_claim_fixed_split_cannot_tell(page):
    test = page["fixed_test"]
    assert test["p_value"] > 0.05
    split = page["split"]
    again = mcnemar_exact(split.y_test.numpy(), page["mlp_pred"], page["lr_pred"])
    assert again == test


# --------------------------------------------- rankings, on 200 splits


@pytest.fixture(scope="module")
def two_hundred(many_splits):
    """Every model of the page's sentences on 200 splits (the page's 20 and
    180 more), trained side by side (tests/many_splits.py)."""
    return many_splits["classifiers"]


def verdicts(results, a, b):
    return paired_differences(results, [(a, b)])["verdict"].droplevel(0)


def test_the_200_splits_begin_with_the_pages_20(page, two_hundred):
    first = two_hundred[two_hundred["split"] < 20].reset_index(drop=True)
    on_page = page["results"]
    for model in on_page["model"].unique():
        mine = first[first["model"] == model][list(METRICS)].to_numpy()
        theirs = on_page[on_page["model"] == model][list(METRICS)].to_numpy()
        assert mine == pytest.approx(theirs), model


def test_claim_mlp_beats_majority_in_balanced_accuracy(page, two_hundred):
    assert verdicts(page["results"], "MLP", "majority class")["balanced_accuracy"] == (
        "higher"
    )
    assert verdicts(two_hundred, "MLP", "majority class")["balanced_accuracy"] == (
        "higher"
    )


def test_claim_mlp_vs_majority_accuracy_undecided(page, two_hundred):
    for results in (page["results"], two_hundred):
        assert verdicts(results, "MLP", "majority class")["accuracy"] == "undecided"


def test_claim_mlp_vs_logistic_regression_undecided(page, two_hundred):
    for results in (page["results"], two_hundred):
        assert (verdicts(results, "MLP", "logistic regression") == "undecided").all()


def test_claim_more_splits_narrow_only_the_plain_interval(page):
    narrowing = page["narrowing"]
    # plain: the 1/k of the variance alone, sqrt(3) times the t quantiles
    t_ratio = stats.t.ppf(0.975, 19) / stats.t.ppf(0.975, 59)
    assert narrowing["plain"] == pytest.approx(math.sqrt(3) * t_ratio, rel=0.25)
    assert narrowing["corrected"] < 1.25


def test_claim_ceiling_close_to_majority(page, two_hundred):
    ceiling = page["ceiling"]
    assert ceiling == pytest.approx(bayes_accuracy(feature_genes())[0])
    means = summarise(two_hundred)["accuracy"]
    assert ceiling - means["majority class"] < 0.15
    assert means[["logistic regression", "MLP"]].max() < ceiling


def test_claim_room_below_the_balanced_ceiling(page, two_hundred):
    ceiling = page["balanced_ceiling"]
    assert ceiling == pytest.approx(bayes_accuracy(feature_genes(), prior=0.5)[0])
    means = summarise(two_hundred)["balanced_accuracy"]
    assert means.drop("majority class").max() < ceiling - 0.05
    assert means["majority class"] == 0.5


def assert_trades_precision_for_recall(results, model):
    """Recall never lower than the plain MLP's, precision lower far more
    often than higher."""
    recall = head_to_head(results, model, "MLP", "recall")
    precision = head_to_head(results, model, "MLP", "precision")
    assert recall["lower"] == 0 and recall["higher"] > 0.4 * len(
        results["split"].unique()
    )
    assert precision["lower"] > 2 * precision["higher"]


def test_claim_class_weights_trade_precision_for_recall(page, two_hundred):
    counts = page["weighted_counts"]
    assert counts["recall"]["lower"] == 0
    assert counts["precision"]["lower"] > counts["precision"]["higher"]
    assert_trades_precision_for_recall(two_hundred, "MLP, class weights")


def test_claim_threshold_trades_precision_for_recall(page, two_hundred):
    counts = page["lowered_counts"]
    assert counts["recall"]["lower"] == 0
    assert counts["precision"]["lower"] > counts["precision"]["higher"]
    assert_trades_precision_for_recall(two_hundred, "MLP, threshold")


def test_claim_class_weights_balanced_accuracy_undecided(page, two_hundred):
    on_page = page["weighting"].loc[("MLP, class weights - MLP", "balanced_accuracy")]
    assert on_page["verdict"] == "undecided"
    both = verdicts(two_hundred, "MLP, class weights", "MLP")
    assert both["balanced_accuracy"] == "undecided"


def test_claim_threshold_balanced_accuracy_undecided(page, two_hundred):
    on_page = page["lowered"].loc[("MLP, threshold - MLP", "balanced_accuracy")]
    assert on_page["verdict"] == "undecided"
    both = verdicts(two_hundred, "MLP, threshold", "MLP")
    assert both["balanced_accuracy"] == "undecided"

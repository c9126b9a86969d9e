"""Tests of tutorial_code/linear_regression.py and the claims of
docs/03_linear_regression.md."""

import math

import numpy as np
import pytest
import torch
from conftest import output_of

from hooks.tutorials import ROOT
from tutorial_code import linear_regression as lr
from tutorial_code.gbm_data import GBMDataError, label_smoking_status, load_gbm

STEM = "linear_regression"


@pytest.fixture(scope="module")
def run(page_run):
    return page_run(STEM)


@pytest.fixture(scope="module")
def ns(run):
    return run.namespace


@pytest.fixture(scope="module")
def labelled():
    return label_smoking_status(load_gbm())


def toy_data(n=200, noise=0.1, seed=0):
    """A known linear relation: t = 2 x1 - x2 + 0.5 + noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    t = (x @ torch.tensor([[2.0], [-1.0]]) + 0.5) + noise * torch.randn(
        n, 1, generator=generator
    )
    half = n // 2
    return lr.RegressionData(x[:half], t[:half], x[half:], t[half:], "t", ["a", "b"])


# ------------------------------------------------------------------ functions


def test_input_genes_drop_the_target_and_refuse_an_empty_list():
    assert lr.input_genes("B", ["A", "B", "C"]) == ["A", "C"]
    with pytest.raises(GBMDataError, match="GBM_GENES"):
        lr.input_genes("B", ["B"])


def test_regression_data_standardises_on_training_rows(labelled):
    data = lr.regression_data(labelled)
    assert data.target == "LINC00159" and data.target not in data.inputs
    assert data.x_train.shape[1] == len(data.inputs)
    assert data.t_train.shape == (len(data.x_train), 1)
    both = torch.cat([data.x_train, data.t_train], dim=1)
    assert torch.allclose(both.mean(0), torch.zeros(both.shape[1]), atol=1e-5)
    assert torch.allclose(both.std(0, correction=0), torch.ones(both.shape[1]))


def test_regression_data_names_a_missing_target_gene(labelled):
    with pytest.raises(GBMDataError, match="NOT_A_GENE"):
        lr.regression_data(labelled, target="NOT_A_GENE")


def test_new_model_is_seeded():
    a, b = lr.new_model(3), lr.new_model(3)
    assert torch.equal(a.linear.weight, b.linear.weight)
    assert not torch.equal(a.linear.weight, lr.new_model(3, seed=1).linear.weight)


def test_least_squares_recovers_a_known_relation():
    data = toy_data(noise=0.0)
    weights, bias = lr.least_squares(data.x_train, data.t_train)
    assert torch.allclose(weights, torch.tensor([2.0, -1.0], dtype=weights.dtype))
    assert bias.item() == pytest.approx(0.5)
    assert lr.least_squares_test_r2(data) == pytest.approx(1.0)


def test_training_reaches_the_least_squares_answer():
    data = toy_data()
    model = lr.new_model(2)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    history = lr.train(model, data, optimiser, epochs=200)
    weights, bias = lr.least_squares(data.x_train, data.t_train)
    assert torch.allclose(model.linear.weight[0].double(), weights, atol=1e-4)
    assert model.linear.bias.item() == pytest.approx(bias.item(), abs=1e-4)
    assert len(history["train"]) == len(history["test"]) == 200
    assert history["test"][-1] < 0.1 * history["test"][0]


def test_train_leaves_the_model_in_evaluation_mode_without_graphs():
    data = toy_data()
    model = lr.new_model(2)
    lr.train(model, data, torch.optim.SGD(model.parameters(), lr=0.1), epochs=2)
    assert not model.training
    assert all(
        isinstance(v, float)
        for v in lr.train(
            model, data, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1
        )["test"]
    )


def test_r_squared_of_perfect_mean_and_worse_predictions():
    t = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert lr.r_squared(t, t) == 1.0
    assert lr.r_squared(torch.full_like(t, t.mean()), t) == 0.0
    assert lr.r_squared(-t, t) < 0


def test_predict_uses_evaluation_mode_and_no_autograd():
    model = lr.new_model(2)
    model.train()
    out = lr.predict(model, torch.ones(3, 2))
    assert not model.training and not out.requires_grad
    assert out.shape == (3, 1)


def test_loss_curves_have_titles_and_a_line_per_history():
    fig = lr.loss_curves({"a": [3, 2, 1], "b": [1, 10, 100]}, "T", log_y=True)
    assert fig.layout.title.text == "T"
    assert fig.layout.xaxis.title.text == "Epoch"
    assert "log" in fig.layout.yaxis.title.text and fig.layout.yaxis.type == "log"
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].x) == [1, 2, 3]


# ------------------------------------------------------------------ the page


def test_page_shows_four_figures(run):
    assert len(run.figures) == 4


def test_page_leaves_no_file_behind(ns):
    saved = ns["path"]
    assert not saved.exists() and not saved.parent.exists()
    assert not (ROOT / saved.name).exists()


def test_claim_parameter_count(run, ns):
    count = sum(p.numel() for p in ns["model"].parameters())
    assert count == ns["n_parameters"] == len(ns["data"].inputs) + 1 == 5
    assert f"parameters: {count}" in output_of(run, "solution_parameters")


def test_claim_mse_by_hand(ns):
    assert ns["loss"].item() == pytest.approx(ns["by_hand"].item(), rel=1e-6)
    assert ns["loss"].item() > 1  # worse than predicting the mean, 0


def test_claim_sgd_step_by_hand(run, ns):
    out = output_of(run, "sgd_step").splitlines()
    assert out[1].split()[-1] == out[2].split()[-1]  # after == by hand


def test_claim_adam_first_step_is_lr(run):
    out = output_of(run, "adam_step").splitlines()
    gradient = float(out[0].split()[-1])
    change = float(out[1].split()[-1])
    assert change == pytest.approx(-math.copysign(lr.LEARNING_RATE, gradient))
    assert abs(gradient) * lr.LEARNING_RATE < abs(change)  # SGD's is smaller


def test_claim_sgd_loss_falls(ns):
    train = np.array(ns["history"]["train"])
    assert (np.diff(train[:30]) < 0).all()
    assert np.abs(train[30:] - train[-1]).max() < 1e-4


def test_claim_test_loss_below_train(ns):
    history = ns["history"]
    assert history["test"][-1] < history["train"][-1]
    assert abs(history["test"][-1] - history["test"][-10]) < 1e-3


def test_claim_learning_rates(ns):
    by_rate = ns["by_rate"]
    slow, good, edge, wild = (by_rate[r] for r in lr.LEARNING_RATES)
    assert slow[-1] > 0.75 * slow[0] and slow[-1] > good[-1] + 0.3  # far off
    minimum = ns["history"]["train"][-1]
    assert good[-1] == pytest.approx(minimum, abs=1e-4)
    assert edge[-1] == pytest.approx(minimum, abs=1e-4)
    assert wild[-1] > 1e6 * wild[0] and all(map(math.isfinite, wild))


def test_claim_ten_times_smaller_rate(run, ns):
    slow, fast = output_of(run, "solution_epochs_for_lr").splitlines()
    assert "1000 epochs" in slow and f"{lr.EPOCHS} epochs" in fast
    slow_loss, fast_loss = float(slow.split()[-1]), float(fast.split()[-1])
    assert slow_loss == pytest.approx(fast_loss, abs=1e-3)
    assert fast_loss == pytest.approx(ns["history"]["train"][-1], abs=1e-4)


def test_claim_no_zero_grad_never_settles(run, ns):
    (cell,) = [c for c in run.cells if c.section.name == "solution_no_zero_grad"]
    (figure,) = cell.figures
    curves = {trace["name"]: list(trace["y"]) for trace in figure["data"]}
    piled, proper = curves["without zero_grad"], ns["history"]["train"]
    assert curves["with zero_grad"] == pytest.approx(proper, abs=1e-5)
    last = piled[-20:]
    assert min(last) < proper[-1] + 0.1  # from near the minimum...
    assert max(last) > 0.9 * piled[0]  # ...back up to about the start


def test_claim_adam_reaches_same_minimum(ns):
    adam, sgd = ns["adam_history"]["train"][-1], ns["history"]["train"][-1]
    assert adam == pytest.approx(sgd, abs=1e-3)


def test_claim_r2_on_split(ns):
    """Training R² positive, test R² negative although the test loss is lower:
    the test targets vary less than the model's test error."""
    data, history = ns["data"], ns["history"]
    assert 0.1 < ns["train_r2"] < 0.25 and ns["test_r2"] < 0
    assert ns["spread"] == pytest.approx(data.t_test.var(correction=0).item())
    assert ns["spread"] < history["test"][-1] < history["train"][-1]
    # R² = 1 - MSE / variance of the rows it is computed on
    assert ns["test_r2"] == pytest.approx(1 - history["test"][-1] / ns["spread"])
    assert len(data.t_test) == 17


def test_claim_polynomial_fits_under_and_over(run, ns):
    """The figure's points, refitted here: the line is too rigid, degree 11
    passes through every training point and misses the new ones by far, the
    cubic is best on new points."""
    (cell,) = [c for c in run.cells if c.section.name == "show_overfitting"]
    (figure,) = cell.figures
    training, new = (
        (np.array(trace["x"]), np.array(trace["y"])) for trace in figure["data"][:2]
    )

    def errors(degree):
        fit = np.polynomial.Polynomial.fit(*training, degree)
        return (
            np.mean((fit(training[0]) - training[1]) ** 2),
            np.mean((fit(new[0]) - new[1]) ** 2),
        )

    (line_train, line_new), (cubic_train, cubic_new), (wild_train, wild_new) = map(
        errors, (1, 3, 11)
    )
    assert wild_train < 1e-6  # passes through every training point
    assert line_train > 2 * cubic_train  # too rigid
    assert cubic_new < line_new and cubic_new < wild_new
    assert wild_new > 10 * cubic_new
    assert ns["errors"][3]["new"] == pytest.approx(cubic_new, rel=1e-4)
    assert [trace["name"] for trace in figure["data"][:2]] == ["training", "new"]


def test_polynomial_helpers():
    rng = np.random.default_rng(0)
    x, y = lr.noisy_points(rng, 50)
    assert (np.diff(x) >= 0).all() and -1 <= x.min() and x.max() <= 1
    assert np.mean((y - np.sin(3 * x)) ** 2) == pytest.approx(0.25**2, rel=0.5)
    exact = (x, 2 * x**2 - 1)
    curve = lr.fit_polynomial(exact, 2)
    assert lr.mean_squared_error(curve, exact) < 1e-20
    fig = lr.overfitting_figure(exact, exact, {"quadratic": curve})
    assert fig.layout.title.text and fig.layout.xaxis.title.text
    assert [t.name for t in fig.data] == ["training", "new", "quadratic"]


def test_claim_matches_least_squares(ns):
    weights, bias = ns["weights"], ns["bias"]
    trained = ns["model"].linear.weight.detach()[0].double()
    assert torch.allclose(trained, weights, atol=5e-5)
    assert ns["model"].linear.bias.item() == pytest.approx(bias.item(), abs=5e-5)
    assert abs(bias.item()) < 1e-6


def test_claim_r2_varies_across_splits(ns):
    split_r2 = ns["split_r2"]
    low, mid, high = np.percentile(split_r2, [5, 50, 95])
    assert (low, mid, high) == (ns["low"], ns["mid"], ns["high"])
    assert low < -0.2 and abs(mid) < 0.1 and 0.1 < high < 0.4
    assert len(split_r2) == lr.N_SPLITS
    assert (split_r2 > ns["test_r2"]).mean() > 0.8  # ours was an unlucky split


def paired_gains(labelled, extra, n_splits):
    """Test R² with the extra gene minus without it, split by split."""
    genes = lr.feature_genes()
    gains = []
    for seed in range(n_splits):
        without = lr.least_squares_test_r2(lr.regression_data(labelled, seed=seed))
        with_it = lr.regression_data(labelled, genes=genes + [extra], seed=seed)
        gains.append(lr.least_squares_test_r2(with_it) - without)
    return np.array(gains)


def test_claim_extra_gene_no_gain_on_average(ns, labelled):
    """Over the page's 50 splits and over 200: EGFR helps on most splits, by
    a little (median gain > 0), and hurts a lot on a few (mean change < 0)."""
    assert ns["extra"] == "EGFR"
    page = ns["gain"]
    assert page == pytest.approx(paired_gains(labelled, "EGFR", lr.N_SPLITS))
    gains = paired_gains(labelled, "EGFR", 200)
    for sample in (page, gains):
        assert sample.mean() < 0 < np.median(sample)
        assert 0.55 < (sample > 0).mean() < 0.75
        assert -0.05 < sample.mean()  # a drop, but a small one
    assert ns["gain_low"] < 0 < ns["gain_high"]


def test_claim_linear_ceiling(run, ns):
    """The best linear R² of the generator's own model: 20,000 draws agree with
    200,000, and sit well above the median test R² of our small samples."""
    from tutorial_code.make_synthetic_gbm import sample_expression

    ceiling = ns["linear_ceiling"]
    data = ns["data"]
    genes = [*data.inputs, data.target]
    big = sample_expression(genes, 200_000, seed=5)
    x = torch.tensor(big[data.inputs].to_numpy())
    t = torch.tensor(big[[data.target]].to_numpy())
    w, b = lr.least_squares(x, t)
    assert ceiling == pytest.approx(lr.r_squared(x @ w + b, t[:, 0]), abs=0.01)
    assert 0.1 < ceiling < 0.17
    assert ceiling > np.median(ns["split_r2"]) + 0.05
    assert f"{ceiling:.3f}" in output_of(run, "solution_ceiling")


def test_claim_restored_predicts_same(run, ns):
    assert "predicts the same: True" in output_of(run, "save_load")
    restored, model = ns["restored"], ns["model"]
    for a, b in zip(
        restored.state_dict().values(), model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)

"""Tests of tutorial_code/tensors.py and the claims of docs/02_tensors.md."""

import math

import numpy as np
import pytest
import torch
from conftest import output_of

from tutorial_code import tensors
from tutorial_code.make_synthetic_gbm import SMOKING_EFFECT_SD

STEM = "tensors"


@pytest.fixture(scope="module")
def run(page_run):
    return page_run(STEM)


@pytest.fixture(scope="module")
def ns(run):
    return run.namespace


# ------------------------------------------------------------------ functions


def test_cubic_and_its_hand_derivative():
    assert tensors.cubic(torch.tensor(3.0)).item() == 21.0
    assert tensors.cubic_derivative(3.0) == 25.0


def test_autograd_gradient_gives_each_derivative_and_leaves_input_alone():
    values = torch.tensor([-1.0, 0.0, 2.0])
    grads = tensors.autograd_gradient(tensors.cubic, values)
    assert torch.equal(grads, torch.tensor([1.0, -2.0, 10.0]))
    assert not values.requires_grad and values.grad is None
    sine = tensors.autograd_gradient(torch.sin, values)
    assert torch.allclose(sine, torch.cos(values))


def test_finite_difference_approximates_a_known_derivative():
    assert tensors.finite_difference(torch.exp, 1.0) == pytest.approx(math.e)
    assert tensors.finite_difference(tensors.cubic, -1.0) == pytest.approx(1.0)


def test_pick_device_falls_back_to_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert tensors.pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert tensors.pick_device() == torch.device("cuda")


def test_gradient_figure_has_titles_and_three_traces():
    a = np.linspace(-1, 1, 21)
    fig = tensors.gradient_figure(a, a**3, 3 * a**2, 3 * a**2)
    assert fig.layout.title.text and fig.layout.xaxis.title.text
    assert fig.layout.yaxis.title.text
    assert len(fig.data) == 3
    assert len(fig.data[2].x) == 3  # the hand-derived markers: every tenth


# ------------------------------------------------------------------ the page


def test_page_shows_one_figure(run):
    assert len(run.figures) == 1


def test_page_prints_the_caught_errors(run):
    assert "same dtype" in output_of(run, "float32")
    assert "cannot be multiplied" in output_of(run, "matmul")


def test_claim_table_is_float64(ns):
    assert set(ns["X"].dtypes) == {np.dtype("float64")}
    assert ns["x64"].dtype == torch.float64
    assert tuple(ns["x64"].shape) == ns["X"].shape == (85, 5)


def test_claim_float32_half_size(ns):
    assert ns["x"].dtype == torch.float32
    assert ns["x"].element_size() * 2 == ns["x64"].element_size()


def test_claim_standardise_matches_sklearn(ns):
    by_hand, by_sklearn = ns["by_hand"].double(), ns["by_sklearn"]
    assert torch.allclose(by_hand, by_sklearn, atol=1e-5)
    assert by_hand.mean(dim=0).abs().max() < 1e-6
    assert (by_hand.std(dim=0, correction=0) - 1).abs().max() < 1e-6


def test_claim_broadcast_exercise_shapes(run, ns):
    n, k = ns["x"].shape
    out = output_of(run, "solution_broadcast").splitlines()
    assert out[0].endswith(f"-> ({n}, {k})")
    assert out[1].endswith(f"-> ({k}, {k})")
    assert "error" in out[2]
    with pytest.raises(RuntimeError):
        torch.zeros(n, k) - torch.zeros(n)


def test_claim_class_gaps(run, ns):
    """The planted genes differ most, with the generator's signs, by more than
    2.5 standard errors; the others by less than 2. The standard error is the
    spread of a gap between group means when there is no effect."""
    x, mask, genes = ns["x"], ns["is_smoker"], ns["genes"]
    z = (x - x.mean(dim=0)) / x.std(dim=0, correction=0)
    gap = dict(zip(genes, (z[mask].mean(0) - z[~mask].mean(0)).tolist(), strict=True))
    se = ns["standard_error"]
    assert se == pytest.approx((1 / int(mask.sum()) + 1 / int((~mask).sum())) ** 0.5)
    planted = [g for g in genes if g in SMOKING_EFFECT_SD]
    assert len(planted) == 3
    for gene in genes:
        if gene in planted:
            assert abs(gap[gene]) / se > 2.5
            assert np.sign(gap[gene]) == np.sign(SMOKING_EFFECT_SD[gene])
        else:
            assert abs(gap[gene]) / se < 2
    table = ns["gaps"]
    assert table["gap / SE"].to_dict() == pytest.approx(
        {g: gap[g] / se for g in genes}, abs=1e-5
    )
    ranked = sorted(gap, key=lambda g: abs(gap[g]), reverse=True)
    assert output_of(run, "solution_class_means").splitlines()[2].startswith(ranked[0])


def test_standard_error_of_a_gap_is_what_chance_gives():
    """Shuffled labels (no effect): the gaps of standardised values spread with
    the standard deviation sqrt(1/n1 + 1/n0), as the tensors page says."""
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(85, generator=generator)
    z = (values - values.mean()) / values.std(correction=0)
    gaps = []
    for _ in range(4000):
        mask = torch.zeros(85, dtype=torch.bool)
        mask[torch.randperm(85, generator=generator)[:21]] = True
        gaps.append((z[mask].mean() - z[~mask].mean()).item())
    assert np.std(gaps) == pytest.approx((1 / 21 + 1 / 64) ** 0.5, rel=0.06)


def test_claim_view_shares_memory(ns):
    assert ns["v"][0].item() == 100.0
    assert ns["grid"].data_ptr() == ns["v"].data_ptr()


def test_claim_from_numpy_shares_memory(run, ns):
    out = output_of(run, "numpy_round_trip")
    assert "from_numpy sees the change: -1.0" in out
    assert "copy does not: -1.0" not in out
    # and the array was put back, so later sections see the data unchanged
    assert ns["array"][0, 0] == ns["X"].iat[0, 0]


def test_claim_float_conversion_copies(run):
    out = output_of(run, "solution_copy_or_share")
    assert "float64 tensor: 7.0" in out and "float32 tensor: 0.0" in out


def test_claim_gradient_matches_hand(run):
    autograd = output_of(run, "autograd")
    assert "autograd df/da: 10.0" in autograd and "by hand 3a^2 - 2: 10.0" in autograd
    assert "finite difference: 10.0" in output_of(run, "finite_check")
    assert "largest gap, autograd vs hand: 0.0" in output_of(run, "gradient_plot")


def test_claim_grad_accumulates(run, ns):
    assert "after a second backward(): 20.0" in output_of(run, "accumulate")
    assert ns["a"].grad.item() == 0.0


def test_claim_loss_derivative_matches(run, ns):
    assert ns["w_guess"].grad.item() == pytest.approx(ns["derivative"].item())
    printed = output_of(run, "solution_loss_derivative").split()
    assert printed[1] == printed[4]  # "autograd: A  by hand: B", A == B
    x, t = ns["by_hand"][:, 0], ns["by_hand"][:, 1]
    w = torch.tensor(0.5, requires_grad=True)
    ((w * x - t) ** 2).mean().backward()
    hand = (2 * x * (0.5 * x - t)).mean()
    assert w.grad.item() == pytest.approx(hand.item(), abs=1e-6)


def test_claim_seed_reproduces(ns):
    assert torch.equal(ns["first_draw"], ns["again"])
    assert not torch.equal(ns["first_draw"], ns["second_draw"])

"""A first model: predict one gene's expression from the others with nn.Linear.

The loss, SGD and Adam steps by hand, the explicit training loop, epochs and
learning rate, evaluation mode, saving a state_dict, and the closed-form
least-squares answer. Page: docs/03_linear_regression.md.
"""

from __future__ import annotations

# isort: split
# --8<-- [start:imports]
from typing import NamedTuple

import torch
from torch import nn

from tutorial_code.gbm_data import (
    GBMDataError,
    feature_genes,
    select_features,
    split_and_scale,
)

# --8<-- [end:imports]
# isort: split
# --8<-- [start:plotly_import]
import plotly.graph_objects as go

# --8<-- [end:plotly_import]
# isort: split
# --8<-- [start:numpy_import]
import numpy as np

# --8<-- [end:numpy_import]
# isort: split
from tutorial_code.gbm_data import run_as_script

# --8<-- [start:settings]
SEED = 0  # initial weights
EPOCHS = 100
LEARNING_RATE = 0.1
LEARNING_RATES = (0.001, 0.1, 0.7, 0.8)  # for the comparison figure
N_SPLITS = 50  # repeated splits for the R² interval
# --8<-- [end:settings]


# --8<-- [start:regression_data]
class RegressionData(NamedTuple):
    """Standardised inputs and target, as (rows, genes) and (rows, 1)."""

    x_train: torch.Tensor
    t_train: torch.Tensor
    x_test: torch.Tensor
    t_test: torch.Tensor
    target: str
    inputs: list[str]


def input_genes(target: str, genes: list[str]) -> list[str]:
    """The genes that predict `target`: all of `genes` but the target."""
    inputs = [gene for gene in genes if gene != target]
    if not inputs:
        raise GBMDataError(
            f"No input genes left to predict {target} from: the feature "
            "genes are only the target. Set GBM_GENES to more genes."
        )
    return inputs


def regression_data(labelled, target=None, genes=None, seed=81):
    """The data page's split and scaling, with the target as last column.
    The target is the first feature gene unless named.

    split_and_scale stratifies on the smoking label, as on every page, and
    standardises the target too, with the training rows' mean and SD.
    """
    genes = genes or feature_genes()
    target = target or genes[0]  # LINC00159 on the shipped genes
    inputs = input_genes(target, genes)
    X, labels = select_features(labelled, inputs + [target])
    split = split_and_scale(X, labels, seed=seed)
    return RegressionData(
        x_train=split.X_train[:, :-1],
        t_train=split.X_train[:, -1:],  # keep (rows, 1): see the loss
        x_test=split.X_test[:, :-1],
        t_test=split.X_test[:, -1:],
        target=target,
        inputs=inputs,
    )


# --8<-- [end:regression_data]


# --8<-- [start:model]
class LinearRegressor(nn.Module):
    """prediction = x @ weight.T + bias: one weight per input gene."""

    def __init__(self, n_inputs: int):
        super().__init__()  # sets up nn.Module's parameter tracking
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def new_model(n_inputs: int, seed: int = SEED) -> LinearRegressor:
    """A LinearRegressor with the same starting weights for a given seed."""
    torch.manual_seed(seed)
    return LinearRegressor(n_inputs)


# --8<-- [end:model]


# --8<-- [start:train]
def train(model, data, optimiser, epochs=EPOCHS, zero_grad=True):
    """Full-batch training; returns the training and test loss per epoch."""
    loss_fn = nn.MSELoss()
    history = {"train": [], "test": []}
    for _ in range(epochs):
        model.train()  # training mode
        prediction = model(data.x_train)  # 1. forward pass
        loss = loss_fn(prediction, data.t_train)  # 2. loss
        if zero_grad:
            optimiser.zero_grad()  # 3. forget the last gradients
        loss.backward()  # 4. gradients of the loss
        optimiser.step()  # 5. update the parameters
        history["train"].append(loss.item())
        model.eval()  # evaluation mode
        with torch.inference_mode():  # no gradients needed here
            test_loss = loss_fn(model(data.x_test), data.t_test)
        history["test"].append(test_loss.item())
    return history


# --8<-- [end:train]


# --8<-- [start:r_squared]
def r_squared(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """1 - (squared error) / (squared deviation from the target's mean)."""
    residual = ((target - prediction) ** 2).sum()
    total = ((target - target.mean()) ** 2).sum()
    return (1 - residual / total).item()


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's predictions for x: evaluation mode, no autograd."""
    model.eval()
    with torch.inference_mode():
        return model(x)


# --8<-- [end:r_squared]


# --8<-- [start:least_squares]
def least_squares(x: torch.Tensor, t: torch.Tensor):
    """Weights and bias that minimise the squared error, solved directly."""
    ones = torch.ones(len(x), 1)  # a column of 1s: its weight is the bias
    design = torch.cat([x, ones], dim=1).double()
    solution = torch.linalg.lstsq(design, t.double()).solution
    return solution[:-1, 0], solution[-1, 0]


def least_squares_test_r2(data: RegressionData) -> float:
    """Fit on the training rows in closed form; R² on the test rows."""
    weights, bias = least_squares(data.x_train, data.t_train)
    prediction = data.x_test.double() @ weights + bias
    return r_squared(prediction, data.t_test.double()[:, 0])


# --8<-- [end:least_squares]


# --8<-- [start:figures]
def loss_curves(curves: dict, title: str, log_y: bool = False):
    """One line per named loss history against epoch."""
    fig = go.Figure()
    for name, losses in curves.items():
        epochs = list(range(1, len(losses) + 1))
        fig.add_scatter(x=epochs, y=losses, mode="lines", name=name)
    fig.update_layout(
        title=title,
        xaxis_title="Epoch",
        yaxis_title="Mean squared error" + (", log scale" if log_y else ""),
        template="plotly_white",
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


# --8<-- [end:figures]


# --8<-- [start:polynomials]
def noisy_points(rng, n: int):
    """n points x in [-1, 1] of the curve y = sin(3x), with noise added to y."""
    x = np.sort(rng.uniform(-1, 1, n))
    return x, np.sin(3 * x) + rng.normal(0, 0.25, n)


def fit_polynomial(points, degree: int):
    """The polynomial of that degree with the least squared error on points."""
    x, y = points
    return np.polynomial.Polynomial.fit(x, y, degree)


def mean_squared_error(curve, points) -> float:
    x, y = points
    return float(np.mean((curve(x) - y) ** 2))


# --8<-- [end:polynomials]


# --8<-- [start:overfitting_figure]
def overfitting_figure(training, new, curves: dict) -> go.Figure:
    """The training and new points, and each named fitted curve."""
    fig = go.Figure()
    fig.add_scatter(x=training[0], y=training[1], mode="markers", name="training")
    fig.add_scatter(
        x=new[0], y=new[1], mode="markers", name="new", marker_symbol="circle-open"
    )
    grid = np.linspace(-1, 1, 200)
    for name, curve in curves.items():
        fig.add_scatter(x=grid, y=curve(grid), mode="lines", name=name)
    fig.update_layout(
        title=f"Polynomials fitted to {len(training[0])} training points",
        xaxis_title="x",
        yaxis_title="y",
        yaxis_range=[-2.5, 2.5],
        template="plotly_white",
    )
    return fig


# --8<-- [end:overfitting_figure]


def main():
    # --8<-- [start:threads]
    # Our tensors are tiny: extra CPU threads cost more than they save.
    torch.set_num_threads(1)
    # --8<-- [end:threads]

    # --8<-- [start:data]
    from tutorial_code.gbm_data import label_smoking_status, load_gbm

    labelled = label_smoking_status(load_gbm())
    data = regression_data(labelled)
    print("predict", data.target, "from", ", ".join(data.inputs))
    print("training:", tuple(data.x_train.shape), tuple(data.t_train.shape))
    print("test:    ", tuple(data.x_test.shape), tuple(data.t_test.shape))
    # --8<-- [end:data]

    # --8<-- [start:build]
    model = new_model(len(data.inputs))
    print(model)
    for name, parameter in model.named_parameters():
        print(name, tuple(parameter.shape), parameter.requires_grad)
    # --8<-- [end:build]

    # --8<-- [start:solution_parameters]
    n_parameters = sum(p.numel() for p in model.parameters())
    print("inputs:", len(data.inputs), " parameters:", n_parameters)
    # --8<-- [end:solution_parameters]

    # --8<-- [start:loss]
    loss_fn = nn.MSELoss()
    prediction = model(data.x_train)
    loss = loss_fn(prediction, data.t_train)
    by_hand = ((prediction - data.t_train) ** 2).mean()
    print(f"MSE {loss.item():.4f}, by hand {by_hand.item():.4f}")
    # --8<-- [end:loss]

    # --8<-- [start:sgd_step]
    sgd = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    sgd.zero_grad()
    loss.backward()
    w = model.linear.weight  # one of the parameters, to follow
    before, grad = w[0, 0].item(), w.grad[0, 0].item()
    sgd.step()
    print(f"before {before:.5f}, gradient {grad:.5f}")
    print(f"after  {w[0, 0].item():.5f}")
    expected = before - LEARNING_RATE * grad
    print(f"by hand: before - lr * gradient = {expected:.5f}")
    # --8<-- [end:sgd_step]

    # --8<-- [start:adam_step]
    adam_model = new_model(len(data.inputs))
    adam = torch.optim.Adam(adam_model.parameters(), lr=LEARNING_RATE)
    adam.zero_grad()
    loss_fn(adam_model(data.x_train), data.t_train).backward()
    w = adam_model.linear.weight
    before, grad = w[0, 0].item(), w.grad[0, 0].item()
    adam.step()
    m = (1 - 0.9) * grad  # running mean of gradients
    v = (1 - 0.999) * grad**2  # running mean of squared gradients
    m_hat, v_hat = m / (1 - 0.9), v / (1 - 0.999)  # bias corrections
    change = -LEARNING_RATE * m_hat / (v_hat**0.5 + 1e-8)
    print(f"gradient {grad:.5f}")
    print(f"Adam changed the weight by {w[0, 0].item() - before:.5f}")
    print(f"by hand: {change:.5f}; SGD would: {-LEARNING_RATE * grad:.5f}")
    # --8<-- [end:adam_step]

    # --8<-- [start:fit]
    model = new_model(len(data.inputs))
    sgd = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    history = train(model, data, sgd)
    print(f"training MSE: first epoch {history['train'][0]:.3f}", end="")
    print(f", last {history['train'][-1]:.3f}")
    print(f"test MSE:     last {history['test'][-1]:.3f}")
    # --8<-- [end:fit]

    # --8<-- [start:epochs_plot]
    fig = loss_curves(
        {"Training": history["train"], "Test": history["test"]},
        f"SGD, learning rate {LEARNING_RATE}: loss vs. epoch",
    )
    fig.show()
    # --8<-- [end:epochs_plot]

    # --8<-- [start:learning_rates]
    by_rate = {}
    for lr in LEARNING_RATES:
        lr_model = new_model(len(data.inputs))
        optimiser = torch.optim.SGD(lr_model.parameters(), lr=lr)
        by_rate[lr] = train(lr_model, data, optimiser)["train"]
    for lr, losses in by_rate.items():
        print(f"lr = {lr:<6} last training MSE {losses[-1]:.4g}")
    named = {f"lr = {lr}": losses for lr, losses in by_rate.items()}
    fig = loss_curves(named, "Training loss for four learning rates", True)
    fig.show()
    # --8<-- [end:learning_rates]

    # --8<-- [start:solution_epochs_for_lr]
    slow_model = new_model(len(data.inputs))
    slow_sgd = torch.optim.SGD(slow_model.parameters(), lr=0.01)
    slow = train(slow_model, data, slow_sgd, epochs=10 * EPOCHS)["train"]
    print(f"lr 0.01, {10 * EPOCHS} epochs: {slow[-1]:.4f}")
    print(f"lr 0.1,  {EPOCHS} epochs:  {history['train'][-1]:.4f}")
    # --8<-- [end:solution_epochs_for_lr]

    # --8<-- [start:solution_no_zero_grad]
    piled_model = new_model(len(data.inputs))
    piled_sgd = torch.optim.SGD(piled_model.parameters(), lr=LEARNING_RATE)
    piled = train(piled_model, data, piled_sgd, zero_grad=False)["train"]
    curves = {"with zero_grad": history["train"], "without zero_grad": piled}
    loss_curves(curves, "Forgetting zero_grad()", log_y=True).show()
    # --8<-- [end:solution_no_zero_grad]

    # --8<-- [start:adam_fit]
    adam_model = new_model(len(data.inputs))
    adam = torch.optim.Adam(adam_model.parameters(), lr=LEARNING_RATE)
    adam_history = train(adam_model, data, adam)
    print(f"Adam, last training MSE {adam_history['train'][-1]:.4f}")
    print(f"SGD,  last training MSE {history['train'][-1]:.4f}")
    # --8<-- [end:adam_fit]

    # --8<-- [start:evaluate]
    train_r2 = r_squared(predict(model, data.x_train), data.t_train)
    test_prediction = predict(model, data.x_test)
    test_r2 = r_squared(test_prediction, data.t_test)
    print("tracks gradients:", test_prediction.requires_grad)
    print(f"R² training {train_r2:.3f}, test {test_r2:.3f}")
    spread = data.t_test.var(correction=0).item()  # MSE of the test mean
    print(f"variance of the {len(data.t_test)} test targets: {spread:.3f}")
    # --8<-- [end:evaluate]

    # --8<-- [start:show_overfitting]
    rng = np.random.default_rng(1)
    training_points = noisy_points(rng, 12)
    new_points = noisy_points(rng, 12)  # from the same curve
    curves, errors = {}, {}
    for degree, fit in [(1, "underfit"), (3, "good fit"), (11, "overfit")]:
        curve = fit_polynomial(training_points, degree)
        curves[f"{fit} (degree {degree})"] = curve
        errors[degree] = {
            "training": mean_squared_error(curve, training_points),
            "new": mean_squared_error(curve, new_points),
        }
        print(f"degree {degree:>2}: MSE", end=" ")
        print(f"training {errors[degree]['training']:.3f},", end=" ")
        print(f"new {errors[degree]['new']:.3f}")
    overfitting_figure(training_points, new_points, curves).show()
    # --8<-- [end:show_overfitting]

    # --8<-- [start:closed_form]
    weights, bias = least_squares(data.x_train, data.t_train)
    trained = model.linear.weight.detach()[0]
    print("gene        trained  least squares")
    for gene, a, b in zip(data.inputs, trained, weights, strict=True):
        print(f"{gene:<10} {a.item():8.4f} {b.item():14.4f}")
    print(f"{'bias':<10} {model.linear.bias.item():8.4f} {bias.item():14.4f}")
    # --8<-- [end:closed_form]

    # --8<-- [start:repeated_splits]
    split_r2 = []
    for seed in range(N_SPLITS):
        split_data = regression_data(labelled, seed=seed)
        split_r2.append(least_squares_test_r2(split_data))
    split_r2 = np.array(split_r2)
    low, mid, high = np.percentile(split_r2, [5, 50, 95])
    print(f"test R² over {N_SPLITS} splits: median {mid:.2f}")
    print(f"middle 90%: {low:.2f} to {high:.2f}")
    # --8<-- [end:repeated_splits]

    # --8<-- [start:solution_one_more_gene]
    from tutorial_code.gbm_data import gene_not_in_use

    # EGFR here; on a table without it (or using it), another gene
    extra = gene_not_in_use(labelled, prefer="EGFR")
    r2_with_extra = []
    for seed in range(N_SPLITS):  # the same splits as above
        extra_data = regression_data(
            labelled, genes=feature_genes() + [extra], seed=seed
        )
        r2_with_extra.append(least_squares_test_r2(extra_data))
    gain = np.array(r2_with_extra) - split_r2  # split by split
    gain_low, gain_high = np.percentile(gain, [5, 95])
    print(f"median test R² with {extra}: {np.median(r2_with_extra):.2f}")
    print(f"change: mean {gain.mean():+.3f}, median {np.median(gain):+.3f}")
    print(f"middle 90% of the changes: {gain_low:+.3f} to {gain_high:+.3f}")
    print(f"{extra} helps on {(gain > 0).mean():.0%} of the splits")
    # --8<-- [end:solution_one_more_gene]

    # --8<-- [start:solution_ceiling]
    from tutorial_code.make_synthetic_gbm import generated, sample_expression

    used = [*data.inputs, data.target]
    if generated(used):  # the shipped table, on genes its generator made
        # 20,000 new samples from the model that made the shipped table
        plenty = sample_expression(used, 20_000)
        x_plenty = torch.tensor(plenty[data.inputs].to_numpy())
        t_plenty = torch.tensor(plenty[[data.target]].to_numpy())
        w_plenty, b_plenty = least_squares(x_plenty, t_plenty)
        fitted = x_plenty @ w_plenty + b_plenty
        linear_ceiling = r_squared(fitted, t_plenty[:, 0])
        print(f"R² on 20,000 samples from the generator: {linear_ceiling:.3f}")
    else:  # a table of your own: no generator to draw new samples from
        linear_ceiling = None
        print("R² ceiling: unknown (this table has no known generator)")
    # --8<-- [end:solution_ceiling]

    # --8<-- [start:save_load]
    import tempfile
    from pathlib import Path

    print({name: tuple(v.shape) for name, v in model.state_dict().items()})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "linear_regressor.pt"
        torch.save(model.state_dict(), path)
        restored = LinearRegressor(len(data.inputs))
        restored.load_state_dict(torch.load(path, weights_only=True))
    same = torch.equal(predict(restored, data.x_test), test_prediction)
    print("restored model predicts the same:", same)
    # --8<-- [end:save_load]


if __name__ == "__main__":
    run_as_script(main)

"""Tensors and gradients: the PyTorch basics, on the GBM expression table.

Shapes, dtypes, indexing, broadcasting, the matrix-product shape rule,
reshaping, NumPy and pandas round trips, autograd on a tiny function, seeds
and devices. Page: docs/02_tensors.md.
"""

# --8<-- [start:plotly_import]
import plotly.graph_objects as go

# --8<-- [end:plotly_import]
# --8<-- [start:imports]
import torch

# --8<-- [end:imports]
from tutorial_code.gbm_data import run_as_script


# --8<-- [start:cubic]
def cubic(a: torch.Tensor) -> torch.Tensor:
    """f(a) = a^3 - 2a, a small function to differentiate."""
    return a**3 - 2 * a


def cubic_derivative(a):
    """f'(a) = 3a^2 - 2, worked out by hand."""
    return 3 * a**2 - 2


# --8<-- [end:cubic]


# --8<-- [start:autograd_gradient]
def autograd_gradient(f, a_values: torch.Tensor) -> torch.Tensor:
    """df/da at each value of a_values, computed by autograd."""
    a = a_values.detach().clone().requires_grad_(True)
    # Each f(a[i]) depends on a[i] only, so the gradient of the sum
    # holds every single derivative at once.
    f(a).sum().backward()
    return a.grad


# --8<-- [end:autograd_gradient]


# --8<-- [start:finite_difference]
def finite_difference(f, a: float, h: float = 1e-6) -> float:
    """Central difference (f(a + h) - f(a - h)) / 2h, in float64."""
    a = torch.tensor(a, dtype=torch.float64)
    return ((f(a + h) - f(a - h)) / (2 * h)).item()


# --8<-- [end:finite_difference]


# --8<-- [start:gradient_figure]
def gradient_figure(a_values, f_values, grad_values, hand_values):
    """f, its autograd derivative and the hand-derived one against a."""
    fig = go.Figure()
    fig.add_scatter(x=a_values, y=f_values, name="f(a) = a³ − 2a")
    fig.add_scatter(x=a_values, y=grad_values, name="autograd df/da")
    fig.add_scatter(
        x=a_values[::10],
        y=hand_values[::10],
        mode="markers",
        name="by hand: 3a² − 2",
    )
    fig.update_layout(
        title="A function and its gradient",
        xaxis_title="a",
        yaxis_title="value",
        template="plotly_white",
    )
    return fig


# --8<-- [end:gradient_figure]


# --8<-- [start:pick_device]
def pick_device() -> torch.device:
    """A GPU if this machine has one PyTorch can use, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():  # Apple silicon
        return torch.device("mps")
    return torch.device("cpu")


# --8<-- [end:pick_device]


def main():
    # --8<-- [start:threads]
    # Our tensors are tiny: extra CPU threads cost more than they save.
    torch.set_num_threads(1)
    # --8<-- [end:threads]

    # --8<-- [start:load]
    from tutorial_code.gbm_data import (
        feature_genes,
        label_smoking_status,
        load_gbm,
        select_features,
    )

    labelled = label_smoking_status(load_gbm())
    genes = feature_genes()
    X, y = select_features(labelled, genes)
    print("DataFrame:", X.shape, "column dtypes:", set(X.dtypes))
    x64 = torch.tensor(X.to_numpy())
    print("tensor:", x64.shape, x64.dtype)
    print("dimensions:", x64.ndim, " rows:", x64.shape[0])
    # --8<-- [end:load]

    # --8<-- [start:float32]
    x = x64.float()  # a float32 copy
    y_t = torch.tensor(y.to_numpy(), dtype=torch.float32)
    print("x:", x.dtype, x.element_size(), "bytes per number")
    print("x64:", x64.dtype, x64.element_size(), "bytes per number")
    weights = torch.ones(len(genes), 1)  # float32, like a model's
    try:
        x64 @ weights
    except RuntimeError as error:
        print("RuntimeError:", error)
    print("x @ weights:", (x @ weights).shape)
    # --8<-- [end:float32]

    # --8<-- [start:indexing]
    print("first sample:", x[0])
    print("first gene, first 4 samples:", x[:4, 0])
    print("a 3 x 2 block:\n", x[:3, :2])
    print("last sample's last gene:", x[-1, -1].item())
    print("the same value in the table:", X.iloc[-1, -1])
    # --8<-- [end:indexing]

    # --8<-- [start:masks]
    is_smoker = y_t == 1
    print("mask:", is_smoker.dtype, is_smoker.shape)
    smokers, others = x[is_smoker], x[~is_smoker]
    print("smokers:", smokers.shape, " non-smokers:", others.shape)
    print(f"mean {genes[0]}: smokers {smokers[:, 0].mean():.2f},", end=" ")
    print(f"non-smokers {others[:, 0].mean():.2f}")
    # --8<-- [end:masks]

    # --8<-- [start:broadcasting]
    means = x.mean(dim=0)  # one mean per gene (over the rows)
    print("x:", x.shape, " means:", means.shape)
    centred = x - means  # means is reused for every row
    print("centred:", centred.shape)
    print("column means now:", centred.mean(dim=0).abs().max().item())
    print((torch.ones(3, 1) + torch.zeros(1, 4)).shape)
    # --8<-- [end:broadcasting]

    # --8<-- [start:standardise]
    from sklearn.preprocessing import StandardScaler

    sds = x.std(dim=0, correction=0)  # divide by n, as sklearn does
    by_hand = (x - means) / sds
    scaler = StandardScaler().fit(X.to_numpy())
    by_sklearn = torch.tensor(scaler.transform(X.to_numpy()))
    same = torch.allclose(by_hand.double(), by_sklearn, atol=1e-5)
    print("same result:", same)
    print("largest difference:", (by_hand - by_sklearn).abs().max().item())
    # --8<-- [end:standardise]

    # --8<-- [start:solution_broadcast]
    n, k = x.shape  # samples, genes
    pairs = [((n, k), (k,)), ((k, 1), (1, k)), ((n, k), (n,))]
    for shape_a, shape_b in pairs:
        try:
            result = torch.zeros(shape_a) - torch.zeros(shape_b)
            print(shape_a, "and", shape_b, "->", tuple(result.shape))
        except RuntimeError as error:
            print(shape_a, "and", shape_b, "-> error:", error)
    # --8<-- [end:solution_broadcast]

    # --8<-- [start:solution_class_means]
    import pandas as pd

    from tutorial_code.make_synthetic_gbm import SMOKING_EFFECT_SD

    z = (x - x.mean(dim=0)) / x.std(dim=0, correction=0)
    gap = z[is_smoker].mean(dim=0) - z[~is_smoker].mean(dim=0)
    # Without any effect, a gap between two group means of standardised
    # values has a standard error of about sqrt(1/n1 + 1/n0).
    n_smokers, n_others = is_smoker.sum().item(), (~is_smoker).sum().item()
    standard_error = (1 / n_smokers + 1 / n_others) ** 0.5
    gaps = pd.DataFrame(
        {
            "gap (SDs)": gap.numpy(),
            "gap / SE": gap.numpy() / standard_error,
            "planted": [SMOKING_EFFECT_SD.get(gene, 0.0) for gene in genes],
        },
        index=genes,
    )
    print(f"standard error of a gap: {standard_error:.2f}")
    print(gaps.sort_values("gap (SDs)", key=abs, ascending=False).round(2))
    # --8<-- [end:solution_class_means]

    # --8<-- [start:matmul]
    w = torch.ones(len(genes), 2)  # one row per gene, 2 outputs
    print(tuple(x.shape), "@", tuple(w.shape), "->", tuple((x @ w).shape))
    try:
        x @ torch.ones(len(genes) + 1, 2)  # one row too many
    except RuntimeError as error:
        print("RuntimeError:", error)
    # --8<-- [end:matmul]

    # --8<-- [start:reshape]
    v = torch.arange(6.0)
    print("v:", v.shape, " view(2, 3):", v.view(2, 3).shape)
    print("reshape(3, -1):", v.reshape(3, -1).shape)
    print("unsqueeze(1):", v.unsqueeze(1).shape, " unsqueeze(0):", end=" ")
    print(v.unsqueeze(0).shape)
    column = x[:, 0].unsqueeze(1)  # an (n, 1) column
    print("column:", column.shape, " squeezed:", column.squeeze(1).shape)
    grid = v.view(2, 3)
    grid[0, 0] = 100.0  # a view shares memory with v
    print("v after editing the view:", v)
    # --8<-- [end:reshape]

    # --8<-- [start:numpy_round_trip]
    array = X.to_numpy(copy=True)  # a float64 array of our own
    shared = torch.from_numpy(array)  # no copy: same memory
    copied = torch.tensor(array)  # a copy
    array[0, 0] = -1.0
    print("from_numpy sees the change:", shared[0, 0].item())
    print("torch.tensor copy does not:", copied[0, 0].item())
    array[0, 0] = copied[0, 0]  # put the value back
    back = x.numpy()  # float32 array sharing x's memory
    print(type(back).__name__, back.dtype, back.shape)
    # --8<-- [end:numpy_round_trip]

    # --8<-- [start:pandas_round_trip]
    import pandas as pd

    frame = pd.DataFrame(by_hand.numpy(), columns=genes, index=X.index)
    print(frame.head(3).round(2).to_string())
    # --8<-- [end:pandas_round_trip]

    # --8<-- [start:solution_copy_or_share]
    import numpy as np

    zeros64 = np.zeros(3)  # float64
    as64 = torch.from_numpy(zeros64)
    as32 = torch.from_numpy(zeros64).float()
    zeros64[0] = 7.0
    print("float64 tensor:", as64[0].item())
    print("float32 tensor:", as32[0].item())
    # --8<-- [end:solution_copy_or_share]

    # --8<-- [start:autograd]
    a = torch.tensor(2.0, requires_grad=True)
    f = cubic(a)  # f(a) = a^3 - 2a
    print("f(2) =", f.item(), " built by:", f.grad_fn.name())
    f.backward()  # fills a.grad with df/da at a = 2
    print("autograd df/da:", a.grad.item())
    print("by hand 3a^2 - 2:", cubic_derivative(2.0))
    # --8<-- [end:autograd]

    # --8<-- [start:finite_check]
    print("finite difference:", round(finite_difference(cubic, 2.0), 6))
    # --8<-- [end:finite_check]

    # --8<-- [start:accumulate]
    cubic(a).backward()  # a second backward() adds to a.grad
    print("after a second backward():", a.grad.item())
    a.grad.zero_()  # what an optimiser's zero_grad() does
    print("after zero_():", a.grad.item())
    # --8<-- [end:accumulate]

    # --8<-- [start:gradient_plot]
    a_values = torch.linspace(-2, 2, 81)
    grads = autograd_gradient(cubic, a_values)
    hand = cubic_derivative(a_values)
    print("largest gap, autograd vs hand:", (grads - hand).abs().max().item())
    fig = gradient_figure(
        a_values.numpy(),
        cubic(a_values).numpy(),
        grads.numpy(),
        hand.numpy(),
    )
    fig.show()
    # --8<-- [end:gradient_plot]

    # --8<-- [start:solution_loss_derivative]
    first_gene, second_gene = by_hand[:, 0], by_hand[:, 1]  # standardised
    w_guess = torch.tensor(0.5, requires_grad=True)
    mse = ((w_guess * first_gene - second_gene) ** 2).mean()
    mse.backward()
    derivative = (2 * first_gene * (0.5 * first_gene - second_gene)).mean()
    print(f"autograd: {w_guess.grad.item():.6f}", end="  ")
    print(f"by hand: {derivative.item():.6f}")
    # --8<-- [end:solution_loss_derivative]

    # --8<-- [start:seeds]
    torch.manual_seed(0)
    first_draw = torch.randn(3)
    second_draw = torch.randn(3)  # the generator has moved on
    torch.manual_seed(0)
    again = torch.randn(3)  # same seed, same numbers
    print("first: ", first_draw)
    print("second:", second_draw)
    print("again: ", again)
    print("reproduced:", torch.equal(first_draw, again))
    # --8<-- [end:seeds]

    # --8<-- [start:devices]
    device = pick_device()
    x_on_device = x.to(device)
    print("device:", device, " x is on:", x_on_device.device)
    print("same values:", torch.equal(x_on_device.cpu(), x))
    # --8<-- [end:devices]


if __name__ == "__main__":
    run_as_script(main)

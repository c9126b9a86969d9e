"""Classifiers: predict smoking status from a few genes with a small neural network.

Also the shared toolkit for the later pages: seeding, one training loop for any
model and loss, classification metrics, loss/metric figures and a capped sample
for scatter plots. The repeated evaluation lives in tutorial_code/evaluation.py.
"""

# --8<-- [start:imports]
from collections import defaultdict

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from tutorial_code.evaluation import (
    by_split,
    describe_ceiling,
    describe_head_to_head,
    evaluate_repeatedly,
    logistic_regression,
    majority_class,
    mcnemar_exact,
    metrics_with_intervals,
    paired_figure,
    repeated_splits,
    summarise,
)
from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    run_as_script,
    select_features,
    split_and_scale,
)
from tutorial_code.make_synthetic_gbm import known_ceiling

# --8<-- [end:imports]

# --8<-- [start:settings]
SEED = 0
HIDDEN = 64
LEARNING_RATE = 1e-3
EPOCHS = 300
MAX_POINTS = 2000  # scatter plots draw at most this many samples
# --8<-- [end:settings]


# --8<-- [start:set_seed]
def set_seed(seed: int) -> None:
    """Make weight initialisation and any sampling repeatable."""
    torch.manual_seed(seed)


# --8<-- [end:set_seed]


# --8<-- [start:mlp]
class MLP(nn.Module):
    """One hidden layer; one logit (not a probability) per sample."""

    def __init__(self, n_inputs: int, hidden: int = HIDDEN):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_inputs, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze(-1)


# --8<-- [end:mlp]


# --8<-- [start:classification_loss]
bce_with_logits = nn.BCEWithLogitsLoss()


def classification_loss(model: nn.Module, batch) -> torch.Tensor:
    """Binary cross-entropy of the model's logits against the 0/1 labels."""
    x, y = batch
    return bce_with_logits(model(x), y)


def accuracy(model: nn.Module, batch) -> float:
    """The share of samples whose predicted class (logit > 0 means
    smoker) matches the label."""
    x, y = batch
    return ((model(x) > 0).float() == y).float().mean().item()


# --8<-- [end:classification_loss]


# --8<-- [start:train]
def train(
    model: nn.Module,
    loss_fn,
    train_batch,
    test_batch,
    epochs: int = EPOCHS,
    lr: float = LEARNING_RATE,
    seed: int = SEED,
    metric=None,
    weight_decay: float = 0.0,
    record: bool = True,
) -> dict[str, list[float]]:
    """Full-batch Adam on loss_fn(model, batch): the loop written out
    above, for any model and loss. After every step it records the
    training and test loss, and metric(model, batch) if a metric is
    given, under the metric's name. record=False records nothing."""
    set_seed(seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(
        trainable,
        lr=lr,
        weight_decay=weight_decay,
    )
    history = defaultdict(list)  # e.g. "test_loss": one value per epoch
    for _ in range(epochs):
        model.train()
        loss = loss_fn(model, train_batch)  # forward pass and loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if not record:
            continue
        # Score both sets the same way (after the step, in evaluation
        # mode) so that the two curves can be compared.
        model.eval()
        with torch.no_grad():
            parts = (("train", train_batch), ("test", test_batch))
            for part, batch in parts:
                loss_value = loss_fn(model, batch).item()
                history[f"{part}_loss"].append(loss_value)
                if metric is not None:
                    name = f"{part}_{metric.__name__}"
                    history[name].append(metric(model, batch))
    return dict(history)


# --8<-- [end:train]


# --8<-- [start:predict]
def predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """0/1 predictions of a trained model (1 = smoker, when logit > 0)."""
    model.eval()
    with torch.no_grad():
        return (model(x) > 0).numpy().astype(int)


# --8<-- [end:predict]


# --8<-- [start:figures]
def curve_figure(
    history: dict,
    name: str,
    title: str,
    y_title: str,
) -> go.Figure:
    """Training and test curves of one recorded quantity against epoch."""
    epochs = list(range(1, len(history[f"train_{name}"]) + 1))
    fig = go.Figure()
    for part, label in (("train", "Training"), ("test", "Test")):
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=history[f"{part}_{name}"],
                mode="lines",
                name=f"{label} {name}",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="Epoch",
        yaxis_title=y_title,
        template="plotly_white",
    )
    return fig


def loss_figure(history: dict, title: str) -> go.Figure:
    return curve_figure(history, "loss", title, "Loss")


# --8<-- [end:figures]


# --8<-- [start:train_mlp]
def train_mlp(
    split,
    seed: int = SEED,
    epochs: int = EPOCHS,
    hidden: int = HIDDEN,
    **train_options,
):
    """Build and train the smoking-status MLP; returns (model, history).
    train_options (lr, weight_decay, record) are passed on to train."""
    set_seed(seed)
    model = MLP(n_inputs=split.X_train.shape[1], hidden=hidden)
    history = train(
        model,
        classification_loss,
        train_batch=(split.X_train, split.y_train),
        test_batch=(split.X_test, split.y_test),
        epochs=epochs,
        seed=seed,
        metric=accuracy,
        **train_options,
    )
    return model, history


# --8<-- [end:train_mlp]


# --8<-- [start:mlps_on]
def mlps_on(splits, epochs=EPOCHS, hidden=HIDDEN, lr=LEARNING_RATE):
    """A fit_predict for evaluate_repeatedly: one MLP per split, trained
    side by side (MLP k on split k, starting from the weights that
    train_mlp(split, seed=k) starts from). It returns MLP k's 0/1
    predictions for split k's test rows."""
    mlps = []
    for k, split in enumerate(splits):
        set_seed(k)
        mlps.append(MLP(n_inputs=split.X_train.shape[1], hidden=hidden))
    batches = [(s.X_train, s.y_train) for s in splits]
    train_many(mlps, classification_loss, batches, epochs, lr)

    def fit_predict(split, seed: int) -> np.ndarray:
        return predict(mlps[seed], split.X_test)  # trained already

    return fit_predict


# --8<-- [end:mlps_on]


# --8<-- [start:train_many]
def train_many(
    models: list,
    loss_fn,
    batches: list,
    epochs: int = EPOCHS,
    lr: float = LEARNING_RATE,
    seed: int = SEED,
) -> torch.Tensor:
    """`train` for many models of one architecture at once: model k on
    batches[k]. Trains the models in place and returns every model's
    training loss at every epoch (epochs x models), each computed just
    before that epoch's step.
    """
    check_one_batch_each(models, batches)
    set_seed(seed)  # random draws in the loss (the VAE's) are repeatable
    # Model k's parameters become slice k of one stacked tensor each.
    params, buffers = stack_module_state(models)
    template = models[0]  # supplies the code; the parameters are swapped

    def loss_of_one(params, buffers, batch):
        def model(x):
            return functional_call(template, (params, buffers), (x,))

        return loss_fn(model, batch)

    # vmap runs loss_of_one on slice k of the parameters and batches, for
    # every k, in one pass; each model draws its own random numbers.
    losses_of_all = vmap(loss_of_one, randomness="different")
    parts = zip(*batches, strict=True)  # all inputs, all labels
    batch = tuple(torch.stack(part) for part in parts)
    trainable = [p for p in params.values() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    template.train()
    history = torch.empty(epochs, len(models))
    for epoch in range(epochs):
        optimizer.zero_grad()
        losses = losses_of_all(params, buffers, batch)
        # Model k's loss depends only on slice k, so the gradient of the
        # sum is every model's own gradient; Adam works element by element.
        losses.sum().backward()
        optimizer.step()
        history[epoch] = losses.detach()
    with torch.no_grad():
        for k, model in enumerate(models):
            for name, value in model.named_parameters():
                value.copy_(params[name][k])
    return history


def check_one_batch_each(models: list, batches: list) -> None:
    """train_many stacks the batches, so it needs one per model, all of
    the same shapes."""
    if not models or len(models) != len(batches):
        raise ValueError(
            f"train_many needs one training batch per model; got "
            f"{len(models)} models and {len(batches)} batches"
        )
    shapes = {tuple(tuple(t.shape) for t in batch) for batch in batches}
    if len(shapes) > 1:
        raise ValueError(
            "train_many needs training batches of the same shapes (splits "
            f"of one table); got {sorted(shapes)}"
        )


# --8<-- [end:train_many]


# --8<-- [start:plot_sample]
def plot_sample(frame: pd.DataFrame, by: str, cap: int = MAX_POINTS):
    """At most `cap` rows, drawn in proportion from each group of `by`, so a
    figure stays light however large the table; also says if it sampled."""
    if len(frame) <= cap:
        return frame, False
    share = cap / len(frame)
    groups = frame.groupby(by, group_keys=False)
    return groups.sample(frac=share, random_state=0), True


# --8<-- [end:plot_sample]


def main():
    # --8<-- [start:threads]
    # Our tensors are tiny: extra CPU threads cost more than they save.
    torch.set_num_threads(1)
    # --8<-- [end:threads]

    # --8<-- [start:load]
    genes = feature_genes()
    gbm = label_smoking_status(load_gbm())
    X, y = select_features(gbm, genes)
    print(f"{X.shape[0]} labelled samples, {X.shape[1]} genes")
    names = {0: "non-smoker", 1: "smoker"}
    print(y.value_counts().rename(names).to_string())
    # --8<-- [end:load]

    # --8<-- [start:pair_plot]
    status = y.map(names).rename("Smoking status")
    shown, sampled = plot_sample(pd.concat([X, status], axis=1), by=status.name)
    title = "The feature genes, coloured by smoking status"
    if sampled:
        title += f" ({len(shown)} of {len(X)} samples)"
    fig = px.scatter_matrix(
        shown,
        dimensions=genes,
        color="Smoking status",
        category_orders={"Smoking status": ["non-smoker", "smoker"]},
        title=title,
        template="plotly_white",
        height=720,  # 25 panels need room
    )
    fig.update_traces(diagonal_visible=False, marker={"size": 4})
    fig.show()
    # --8<-- [end:pair_plot]

    # --8<-- [start:split]
    split = split_and_scale(X, y)
    print("training:", tuple(split.X_train.shape))
    print("test:    ", tuple(split.X_test.shape))
    scaled = pd.DataFrame(
        {
            "training mean": split.X_train.mean(dim=0),
            "training sd": split.X_train.std(dim=0, correction=0),
            "test mean": split.X_test.mean(dim=0),
            "test sd": split.X_test.std(dim=0, correction=0),
        },
        index=split.feature_names,
    )
    # + 0.0 turns -0.00 into 0.00
    print((scaled.round(2) + 0.0).T.to_string())
    # --8<-- [end:split]

    # --8<-- [start:explicit_loop]
    set_seed(SEED)
    model = MLP(n_inputs=split.X_train.shape[1])
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses = []
    for _ in range(EPOCHS):  # each epoch: one step on all samples
        model.train()  # training mode
        logits = model(split.X_train)  # 1. forward pass
        loss = bce_with_logits(logits, split.y_train)  # 2. loss
        optimiser.zero_grad()  # 3. forget the last step's gradients
        loss.backward()  # 4. backpropagation: new gradients
        optimiser.step()  # 5. one Adam step
        losses.append(loss.item())
    print(f"training loss: epoch 1 {losses[0]:.3f}, last {losses[-1]:.3f}")
    # --8<-- [end:explicit_loop]

    # --8<-- [start:solution_parameters]
    for ex_name, ex_p in model.named_parameters():
        print(f"{ex_name:<15} {str(tuple(ex_p.shape)):<8} {ex_p.numel()}")
    print("in all:", sum(ex_p.numel() for ex_p in model.parameters()))
    # --8<-- [end:solution_parameters]

    # --8<-- [start:fit]
    mlp, mlp_history = train_mlp(split)
    print(f"final training loss {mlp_history['train_loss'][-1]:.3f}")
    print(f"final test loss     {mlp_history['test_loss'][-1]:.3f}")
    pairs = zip(model.parameters(), mlp.parameters(), strict=True)
    same = all(torch.equal(a, b) for a, b in pairs)
    print("same weights as the loop written out:", same)
    # --8<-- [end:fit]

    # --8<-- [start:loss_plot]
    fig = loss_figure(mlp_history, "MLP loss vs. epoch")
    fig.show()
    # --8<-- [end:loss_plot]

    # --8<-- [start:metric_plot]
    fig = curve_figure(
        mlp_history,
        "accuracy",
        "MLP accuracy vs. epoch",
        "Accuracy",
    )
    fig.show()
    # --8<-- [end:metric_plot]

    # --8<-- [start:solution_weight_decay]
    ex_mlp, ex_history = train_mlp(split, weight_decay=0.1)
    ex_runs = {"no weight decay": (mlp, mlp_history)}
    ex_runs["weight decay 0.1"] = (ex_mlp, ex_history)
    for ex_name, (ex_model, ex_h) in ex_runs.items():
        ex_sq = sum(
            (ex_p**2).sum().item()
            for ex_n, ex_p in ex_model.named_parameters()
            if ex_n.endswith("weight")
        )
        print(
            f"{ex_name:<17} training loss {ex_h['train_loss'][-1]:.3f}, "
            f"test loss {ex_h['test_loss'][-1]:.3f}, "
            f"sum of squared weights {ex_sq:.1f}"
        )
    # --8<-- [end:solution_weight_decay]

    # --8<-- [start:evaluate]
    mlp_pred = predict(mlp, split.X_test)
    mlp_table = metrics_with_intervals(split.y_test, mlp_pred)
    print(mlp_table.round(3).to_string(na_rep=""))
    # --8<-- [end:evaluate]

    # --8<-- [start:solution_confusion]
    ex_truth = pd.Series(split.y_test.numpy().astype(int), name="true")
    ex_called = pd.Series(mlp_pred, name="predicted")
    ex_matrix = pd.crosstab(ex_truth, ex_called)
    print(ex_matrix.to_string())
    ex_tp = ex_matrix.loc[1, 1]  # smokers called smokers
    ex_fp = ex_matrix.loc[0, 1]  # non-smokers called smokers
    ex_fn = ex_matrix.loc[1, 0]  # smokers called non-smokers
    ex_precision, ex_recall = ex_tp / (ex_tp + ex_fp), ex_tp / (ex_tp + ex_fn)
    print(f"precision = {ex_tp}/({ex_tp}+{ex_fp}) = {ex_precision:.3f}")
    print(f"recall    = {ex_tp}/({ex_tp}+{ex_fn}) = {ex_recall:.3f}")
    # --8<-- [end:solution_confusion]

    # --8<-- [start:fixed_split_pair]
    lr_pred = logistic_regression(split)
    lr_table = metrics_with_intervals(split.y_test, lr_pred)
    print("logistic regression, same 18 test samples:")
    print(lr_table.round(3).to_string(na_rep=""))
    fixed_test = mcnemar_exact(split.y_test, mlp_pred, lr_pred)
    print(f"only the MLP right:                 {fixed_test['only_a_right']}")
    print(f"only logistic regression right:     {fixed_test['only_b_right']}")
    print(f"exact McNemar test (two-sided): p = {fixed_test['p_value']:.2f}")
    # --8<-- [end:fixed_split_pair]

    # --8<-- [start:repeated]
    splits = repeated_splits(X, y)
    models = {
        "majority class": majority_class,
        "logistic regression": logistic_regression,
        "MLP": mlps_on(splits),  # one MLP per split, side by side
    }
    results = evaluate_repeatedly(models, splits)
    summary = summarise(results)
    print(summary.round(3).to_string())
    for other in ("majority class", "logistic regression"):
        print(describe_head_to_head(results, "MLP", other))
    # --8<-- [end:repeated]

    # --8<-- [start:paired_plot]
    fig = paired_figure(
        results, f"Test accuracy on {len(splits)} splits, paired by split"
    )
    fig.show()
    # --8<-- [end:paired_plot]

    # --8<-- [start:ceiling]
    # The best accuracy the synthetic generator allows (see the data page).
    ceiling = known_ceiling(genes)  # None unless the synthetic table
    split_accuracy = by_split(results)
    print(describe_ceiling(ceiling))
    if ceiling is not None:
        for name in ("logistic regression", "MLP"):
            at_or_above = int((split_accuracy[name] >= ceiling).sum())
            print(
                f"{name}: median {split_accuracy[name].median():.3f}, at or "
                f"above the ceiling in {at_or_above} of {len(splits)} splits"
            )
    # --8<-- [end:ceiling]

    # --8<-- [start:solution_hidden_and_lr]
    ex_splits = splits[:10]  # the first 10 splits: enough to see the point

    ex_variants = {
        "MLP, 8 hidden": mlps_on(ex_splits, hidden=8),
        "MLP, lr 0.01": mlps_on(ex_splits, lr=0.01),
    }
    ex_results = evaluate_repeatedly(ex_variants, ex_splits)
    ex_same = results["split"] < len(ex_splits)  # the runs above
    ex_all = pd.concat([results[ex_same], ex_results])
    ex_accuracy = summarise(ex_all).xs("accuracy", level="metric")
    print(ex_accuracy.round(3).to_string())
    for ex_name in ex_variants:
        print(describe_head_to_head(ex_all, ex_name, "MLP"))
    # --8<-- [end:solution_hidden_and_lr]


if __name__ == "__main__":
    run_as_script(main)

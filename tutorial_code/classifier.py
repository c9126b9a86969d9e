"""Classifiers: predict smoking status from a few genes with a small neural network.

Also the shared toolkit for the later pages: seeding, one training loop for any
model and loss, classification metrics, the majority-class baseline,
loss/metric figures and a capped sample for scatter plots. How sure one can be
of a result (intervals, paired tests, repeated splits) is the next page's
subject: tutorial_code/evaluation.py.
"""

# --8<-- [start:imports]
import pandas as pd

from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    run_as_script,
    select_features,
    split_and_scale,
)

# --8<-- [end:imports]
# isort: split
# --8<-- [start:imports_figures]
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# --8<-- [end:imports_figures]
# isort: split
# --8<-- [start:imports_torch]
import torch
from torch import nn

# --8<-- [end:imports_torch]
# isort: split
# --8<-- [start:imports_metrics]
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

# --8<-- [end:imports_metrics]

# --8<-- [start:settings]
SEED = 0
HIDDEN = 64
LEARNING_RATE = 1e-3
EPOCHS = 300
THRESHOLD = 0.5  # call a sample a smoker when P(smoker) > THRESHOLD
# --8<-- [end:settings]


# --8<-- [start:pair_figure]
MAX_POINTS = 2000  # scatter plots draw at most this many samples


def plot_sample(frame: pd.DataFrame, by: str, cap: int = MAX_POINTS):
    """At most `cap` rows, drawn in proportion from each group of `by`, so a
    figure stays light however large the table; also says if it sampled."""
    if len(frame) <= cap:
        return frame, False
    share = cap / len(frame)
    groups = frame.groupby(by, group_keys=False)
    return groups.sample(frac=share, random_state=0), True


PAIR_PLOT_POINTS = 400  # each panel draws every point again: keep it light
COLOURS = {"non-smoker": "#3f6fd8", "smoker": "#e8702a"}


def pair_figure(
    X: pd.DataFrame,
    status: pd.Series,
    title: str,
) -> go.Figure:
    """Every gene against every other gene, one point per sample, coloured
    by status: one panel per pair of genes, in a triangle whose bottom
    row shows the last gene against each of the others."""
    genes = list(X.columns)
    frame = pd.concat([X, status], axis=1)
    shown, sampled = plot_sample(frame, status.name, PAIR_PLOT_POINTS)
    if sampled:
        title += f" ({len(shown)} of {len(frame)} samples)"
    n = len(genes)
    # Row 1 is the bottom row, so the first axes are the bottom-left ones.
    fig = make_subplots(rows=n - 1, cols=n - 1, start_cell="bottom-left")
    for row in range(1, n):
        gene_y = genes[n - row]
        for col in range(1, n - row + 1):
            gene_x = genes[col - 1]
            for group, colour in COLOURS.items():
                points = shown[shown[status.name] == group]
                fig.add_trace(
                    go.Scatter(
                        x=points[gene_x].round(2),
                        y=points[gene_y].round(2),
                        mode="markers",
                        marker={"size": 4, "color": colour},
                        name=group,
                        legendgroup=group,
                        showlegend=(row, col) == (1, 1),
                    ),
                    row=row,
                    col=col,
                )
        fig.update_yaxes(title_text=gene_y, row=row, col=1)
    for col in range(1, n):
        fig.update_xaxes(title_text=genes[col - 1], row=1, col=col)
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=170 * (n - 1) + 130,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


# --8<-- [end:pair_figure]


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
    """Full-batch training with AdamW on loss_fn(model, batch): the loop
    written out above, for any model and loss. After every step it
    records the training and test loss, and metric(model, batch) if a
    metric is given, under the metric's name. record=False records
    nothing."""
    set_seed(seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    # AdamW is Adam plus decoupled weight decay (Exercise 2); with
    # weight_decay=0 the two take exactly the same steps.
    optimiser = torch.optim.AdamW(
        trainable,
        lr=lr,
        weight_decay=weight_decay,
    )
    history = {}  # e.g. "test_loss": one value per epoch
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
                scores = {"loss": loss_fn(model, batch).item()}
                if metric is not None:
                    scores[metric.__name__] = metric(model, batch)
                for name, value in scores.items():
                    history.setdefault(f"{part}_{name}", []).append(value)
    return history


# --8<-- [end:train]


# --8<-- [start:train_mlp]
def train_mlp(
    split,
    seed: int = SEED,
    epochs: int = EPOCHS,
    hidden: int = HIDDEN,
    loss_fn=classification_loss,
    **train_options,
):
    """Build and train the smoking-status MLP; returns (model, history).
    train_options (lr, weight_decay, record) are passed on to train."""
    set_seed(seed)
    model = MLP(n_inputs=split.X_train.shape[1], hidden=hidden)
    history = train(
        model,
        loss_fn,
        train_batch=(split.X_train, split.y_train),
        test_batch=(split.X_test, split.y_test),
        epochs=epochs,
        seed=seed,
        metric=accuracy,
        **train_options,
    )
    return model, history


# --8<-- [end:train_mlp]


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


# --8<-- [start:predict]
def predict(
    model: nn.Module, x: torch.Tensor, threshold: float = THRESHOLD
) -> np.ndarray:
    """0/1 predictions of a trained model: 1 (smoker) where the
    probability sigmoid(logit) is above the threshold."""
    model.eval()
    with torch.no_grad():
        probability = torch.sigmoid(model(x))
    return (probability > threshold).numpy().astype(int)


# --8<-- [end:predict]


# --8<-- [start:majority_class]
def majority_class(split, seed: int = 0) -> np.ndarray:
    """The baseline: the training rows' most common class, predicted for
    every test row. (seed is unused: every model of this series takes
    one, and this one has nothing random.)"""
    counts = np.bincount(split.y_train.numpy().astype(int), minlength=2)
    return np.full(len(split.y_test), counts.argmax())


# --8<-- [end:majority_class]


# --8<-- [start:label_metrics]
def label_metrics(y_true, y_pred) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall and F1 of 0/1
    predictions (1 = smoker)."""
    y_true = np.asarray(y_true).astype(int)
    y_pred = np.asarray(y_pred).astype(int)
    # Precision, recall and F1 of the smokers (pos_label=1) in one call.
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=0
    )
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def balanced_accuracy(y_true, y_pred) -> float:
    """The mean of the two classes' recalls. A test set with one class
    only (possible on a tiny table) has one recall: the accuracy."""
    if len(np.unique(y_true)) < 2:
        return accuracy_score(y_true, y_pred)
    return balanced_accuracy_score(y_true, y_pred)


# --8<-- [end:label_metrics]


# --8<-- [start:confusion]
def confusion_table(y_true, y_pred) -> pd.DataFrame:
    """Counts of true class (rows) against predicted class (columns),
    with both classes always present, even if never predicted."""
    counts = confusion_matrix(y_true, y_pred, labels=[0, 1])
    names = ["non-smoker", "smoker"]
    return pd.DataFrame(
        counts,
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )


# --8<-- [end:confusion]


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
    prevalence = y.mean()  # the share of smokers
    print(f"smokers: {prevalence:.1%} of the samples")
    # --8<-- [end:load]

    # --8<-- [start:majority_share]
    majority = int(prevalence > 0.5)  # the more common class: 1 = smoker
    majority_share = max(prevalence, 1 - prevalence)
    print(f'always answering "{names[majority]}": {majority_share:.1%} right')
    # --8<-- [end:majority_share]

    # --8<-- [start:pair_plot]
    status = y.map(names).rename("Smoking status")
    title = "The feature genes, coloured by smoking status"
    fig = pair_figure(X, status, title)
    fig.show()
    # How far apart are the classes? Smokers' mean minus non-smokers'
    # mean, in units of each gene's standard deviation:
    shift = (X[y == 1].mean() - X[y == 0].mean()) / X.std()
    print(shift.round(2).to_string())
    # --8<-- [end:pair_plot]

    # --8<-- [start:split]
    split = split_and_scale(X, y)
    n_train, n_test = len(split.y_train), len(split.y_test)
    print(f"training: {n_train} samples, {int(split.y_train.sum())} smokers")
    print(f"test:     {n_test} samples, {int(split.y_test.sum())} smokers")
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
    for name, parameter in model.named_parameters():
        shape = str(tuple(parameter.shape))
        print(f"{name:<15} {shape:<8} {parameter.numel()}")
    n_parameters = sum(p.numel() for p in model.parameters())
    print("in all:", n_parameters)
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
    train_losses = torch.tensor(mlp_history["train_loss"])
    test_losses = torch.tensor(mlp_history["test_loss"])
    falls = bool((train_losses.diff() < 0).all())
    print("training loss lower after every epoch:", falls)
    best_epoch = int(test_losses.argmin()) + 1  # epochs count from 1
    print(f"lowest test loss {test_losses.min():.3f}, at epoch {best_epoch}")
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
    decayed, decayed_history = train_mlp(split, weight_decay=1.0)
    runs = {
        "no weight decay": (mlp, mlp_history),
        "weight decay 1": (decayed, decayed_history),
    }
    rows = {}
    for name, (trained, history) in runs.items():
        squared = sum(
            (parameter**2).sum().item()
            for parameter_name, parameter in trained.named_parameters()
            if parameter_name.endswith("weight")
        )
        train_loss = history["train_loss"][-1]
        test_loss = history["test_loss"][-1]
        rows[name] = {
            "training loss": train_loss,
            "test loss": test_loss,
            "gap": test_loss - train_loss,
            "squared weights": squared,
        }
    decay_table = pd.DataFrame(rows).T
    print(decay_table.round(3).to_string())
    # --8<-- [end:solution_weight_decay]

    # --8<-- [start:evaluate]
    mlp_pred = predict(mlp, split.X_test)
    majority_pred = majority_class(split)
    y_test = split.y_test.numpy()
    scores = pd.DataFrame(
        {
            "MLP": label_metrics(y_test, mlp_pred),
            "majority class": label_metrics(y_test, majority_pred),
        }
    )
    print(scores.round(3).to_string())
    # --8<-- [end:evaluate]

    # --8<-- [start:confusion_matrix]
    mlp_confusion = confusion_table(y_test, mlp_pred)
    print(mlp_confusion.to_string())
    # --8<-- [end:confusion_matrix]

    # --8<-- [start:solution_confusion]
    counts = mlp_confusion  # rows: true class; columns: predicted class
    true_pos = counts.loc["smoker", "smoker"]  # smokers called smokers
    false_pos = counts.loc["non-smoker", "smoker"]  # non-smokers called smokers
    false_neg = counts.loc["smoker", "non-smoker"]  # smokers called non-smokers
    called = true_pos + false_pos  # every sample called a smoker
    if called > 0:
        precision = true_pos / called
        print(f"precision = {true_pos}/{called} = {precision:.3f}")
    else:
        precision = float("nan")  # nothing to divide by
        print("precision: undefined, no sample was called a smoker")
    recall = true_pos / (true_pos + false_neg)
    print(f"recall    = {true_pos}/{true_pos + false_neg} = {recall:.3f}")
    # --8<-- [end:solution_confusion]

    # --8<-- [start:solution_balanced]
    recalls = {}
    for name, row in mlp_confusion.iterrows():  # one row per true class
        recalls[name] = row[name] / row.sum()  # right / all of that class
        print(f"recall of the {name}s: {row[name]}/{row.sum()}")
    by_hand = sum(recalls.values()) / len(recalls)
    print(f"balanced accuracy = {by_hand:.3f}")
    # --8<-- [end:solution_balanced]


if __name__ == "__main__":
    run_as_script(main)

"""Classifiers: predict smoking status from five genes with a small neural network.

Also the shared toolkit for the later pages: seeding, one training loop for any
model and loss, classification metrics and loss/metric figures.
"""

# --8<-- [start:imports]
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from torch import nn

from tutorial_code.gbm_data import (
    FEATURES,
    label_smoking_status,
    load_gbm,
    run_as_script,
    select_features,
    split_and_scale,
)

# --8<-- [end:imports]

# --8<-- [start:settings]
SEED = 0
HIDDEN = 64
LEARNING_RATE = 1e-3
EPOCHS = 300
# --8<-- [end:settings]


# --8<-- [start:set_seed]
def set_seed(seed: int) -> None:
    """Make weight initialisation and any sampling repeatable."""
    torch.manual_seed(seed)


# --8<-- [end:set_seed]


# --8<-- [start:mlp]
class MLP(nn.Module):
    """One hidden layer; returns one logit (not a probability) per sample."""

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


def classification_scores(model: nn.Module, batch) -> dict[str, float]:
    """Loss and accuracy from one forward pass. Accuracy is the share of
    samples whose predicted class (logit > 0 means smoker) matches the label."""
    x, y = batch
    logits = model(x)
    return {
        "loss": bce_with_logits(logits, y).item(),
        "accuracy": ((logits > 0).float() == y).float().mean().item(),
    }


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
    scores=None,
) -> dict[str, list[float]]:
    """Full-batch Adam on `loss_fn(model, batch)`; returns per-epoch history.

    `scores(model, batch)` returns a dict of named numbers, computed in one
    forward pass; it is recorded on both batches every epoch. By default it
    is just the loss.
    """
    set_seed(seed)
    scores = scores or (lambda m, b: {"loss": loss_fn(m, b).item()})
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    history = {}
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        loss_fn(model, train_batch).backward()
        optimizer.step()
        # Score train and test the same way (after the step, in eval mode)
        # so that the two curves can be compared.
        model.eval()
        with torch.no_grad():
            for part, batch in (("train", train_batch), ("test", test_batch)):
                for name, value in scores(model, batch).items():
                    history.setdefault(f"{part}_{name}", []).append(value)
    return history


# --8<-- [end:train]


# --8<-- [start:classification_metrics]
def classification_metrics(y_true: torch.Tensor, logits: torch.Tensor) -> dict:
    """Accuracy, precision, recall and F1, predicting 'smoker' when logit > 0."""
    y_true = y_true.numpy().astype(int)
    y_pred = (logits > 0).numpy().astype(int)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred, zero_division=0),
        "f1": f1_score(y_true, y_pred, zero_division=0),
    }


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """`classification_metrics` of a trained model's predictions for x."""
    model.eval()
    with torch.no_grad():
        return classification_metrics(y, model(x))


def metrics_table(metrics_by_model: dict[str, dict]) -> pd.DataFrame:
    """One row per model, one column per metric, rounded for printing."""
    return pd.DataFrame(metrics_by_model).T.round(3)


# --8<-- [end:classification_metrics]


# --8<-- [start:figures]
def curve_figure(history: dict, name: str, title: str, y_title: str) -> go.Figure:
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
        title=title, xaxis_title="Epoch", yaxis_title=y_title, template="plotly_white"
    )
    return fig


def loss_figure(history: dict, title: str) -> go.Figure:
    return curve_figure(history, "loss", title, "Loss")


# --8<-- [end:figures]


# --8<-- [start:train_mlp]
def train_mlp(split, seed: int = SEED, epochs: int = EPOCHS):
    """Build and train the smoking-status MLP; returns (model, history)."""
    set_seed(seed)
    model = MLP(n_inputs=split.X_train.shape[1])
    history = train(
        model,
        classification_loss,
        train_batch=(split.X_train, split.y_train),
        test_batch=(split.X_test, split.y_test),
        epochs=epochs,
        seed=seed,
        scores=classification_scores,
    )
    return model, history


# --8<-- [end:train_mlp]


def main():
    # --8<-- [start:threads]
    # Our tensors are tiny: extra CPU threads cost more than they save.
    torch.set_num_threads(1)
    # --8<-- [end:threads]

    # --8<-- [start:load]
    gbm = label_smoking_status(load_gbm())
    X, y = select_features(gbm, FEATURES)
    print(f"{X.shape[0]} labelled samples, {X.shape[1]} genes")
    print(y.value_counts().rename({0: "non-smoker", 1: "smoker"}).to_string())
    # --8<-- [end:load]

    # --8<-- [start:pair_plot]
    status = y.map({0: "non-smoker", 1: "smoker"}).rename("Smoking status")
    fig = px.scatter_matrix(
        pd.concat([X, status], axis=1),
        dimensions=FEATURES,
        color="Smoking status",
        title="Five genes, coloured by smoking status",
        template="plotly_white",
        height=720,  # 25 panels need room
    )
    fig.update_traces(diagonal_visible=False, marker={"size": 4})
    fig.show()
    # --8<-- [end:pair_plot]

    # --8<-- [start:split]
    split = split_and_scale(X, y)
    print("training:", tuple(split.X_train.shape), "test:", tuple(split.X_test.shape))
    scaled = pd.DataFrame(
        {
            "training mean": split.X_train.mean(dim=0),
            "training sd": split.X_train.std(dim=0, correction=0),
            "test mean": split.X_test.mean(dim=0),
            "test sd": split.X_test.std(dim=0, correction=0),
        },
        index=split.feature_names,
    )
    print((scaled.round(2) + 0.0).T.to_string())  # + 0.0 turns -0.00 into 0.00
    # --8<-- [end:split]

    # --8<-- [start:fit]
    mlp, mlp_history = train_mlp(split)
    print(f"final training loss {mlp_history['train_loss'][-1]:.3f}")
    print(f"final test loss     {mlp_history['test_loss'][-1]:.3f}")
    # --8<-- [end:fit]

    # --8<-- [start:loss_plot]
    fig = loss_figure(mlp_history, "MLP loss vs. epoch")
    fig.show()
    # --8<-- [end:loss_plot]

    # --8<-- [start:metric_plot]
    fig = curve_figure(mlp_history, "accuracy", "MLP accuracy vs. epoch", "Accuracy")
    fig.show()
    # --8<-- [end:metric_plot]

    # --8<-- [start:evaluate]
    mlp_metrics = evaluate(mlp, split.X_test, split.y_test)
    print(metrics_table({"MLP": mlp_metrics}).to_string())
    # --8<-- [end:evaluate]


if __name__ == "__main__":
    run_as_script(main)

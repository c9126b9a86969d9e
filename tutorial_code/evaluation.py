"""How sure are we? Evaluating classifiers on small data.

One split of 85 samples into 68 for training and 17 for testing gives one
noisy number per model. This module holds the tools the classifier,
autoencoder and VAE pages share, and the Evaluation page's story:

- 95 % Wilson intervals for the metrics of one split, and the exact McNemar
  test for two models scored on the same test samples;
- repeated evaluation: train and score every model on many stratified splits
  (and model seeds), report each metric's mean over the splits, and compare
  two models by their mean paired difference with a 95 % interval that
  allows for the overlap between splits (Nadeau and Bengio's corrected
  resampled t interval);
- the baselines every comparison includes: the majority class (from the
  Classifiers page) and a logistic regression on the same inputs;
- imbalance: balanced accuracy, class weights and the decision threshold;
- training many small models at once (torch.func), for the build's speed
  only: it gives what training them one by one gives.
"""

# --8<-- [start:imports]
import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression

from tutorial_code.classifier import (
    THRESHOLD,
    label_metrics,
    majority_class,
    predict,
    train_mlp,
)
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
# --8<-- [start:imports_many]
from torch.func import functional_call, stack_module_state, vmap

from tutorial_code.classifier import (
    EPOCHS,
    HIDDEN,
    LEARNING_RATE,
    MLP,
    SEED,
    classification_loss,
    set_seed,
)

# --8<-- [end:imports_many]
# isort: split
# --8<-- [start:imports_figures]
import plotly.graph_objects as go

# --8<-- [end:imports_figures]
# isort: split
# --8<-- [start:imports_ceiling]
from tutorial_code.make_synthetic_gbm import known_ceiling

# --8<-- [end:imports_ceiling]
# isort: split
# --8<-- [start:imports_weights]
from torch import nn

# --8<-- [end:imports_weights]

# --8<-- [start:settings]
N_SPLITS = 20  # repeated stratified 80/20 splits (seeds 0, 1, ..., 19)
METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1")
# --8<-- [end:settings]


# --8<-- [start:wilson]
def wilson_interval(hits: int, trials: int) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion of hits/trials."""
    if trials == 0:
        return (float("nan"), float("nan"))
    ci = stats.binomtest(hits, trials).proportion_ci(0.95, method="wilson")
    return (ci.low, ci.high)


def metrics_with_intervals(y_true, y_pred) -> pd.DataFrame:
    """Each metric of one split, with a 95 % Wilson interval where the
    metric is a proportion of samples (balanced accuracy and F1 are not,
    so they have none)."""
    y_true = np.asarray(y_true).astype(int)
    y_pred = np.asarray(y_pred).astype(int)
    hits = int(((y_pred == 1) & (y_true == 1)).sum())
    counts = {
        "accuracy": (int((y_pred == y_true).sum()), len(y_true)),
        "precision": (hits, int(y_pred.sum())),  # of those called smokers
        "recall": (hits, int(y_true.sum())),  # of the real smokers
    }
    rows = {}
    for metric, value in label_metrics(y_true, y_pred).items():
        hits_of, trials = counts.get(metric, (0, 0))
        low, high = wilson_interval(hits_of, trials)
        rows[metric] = {
            "value": value,
            "of": f"{hits_of}/{trials}" if trials else "",
            "95% low": low,
            "95% high": high,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# --8<-- [end:wilson]


# --8<-- [start:mcnemar]
def mcnemar_exact(y_true, pred_a, pred_b) -> dict:
    """Exact McNemar test of two models on the same test samples.

    Only the samples exactly one model gets right can tell them apart. If
    the models were equally good, each of those would be a fair coin
    flip; the p-value is the two-sided binomial test of that.
    """
    y_true = np.asarray(y_true).astype(int)
    right_a = np.asarray(pred_a).astype(int) == y_true
    right_b = np.asarray(pred_b).astype(int) == y_true
    only_a = int((right_a & ~right_b).sum())
    only_b = int((right_b & ~right_a).sum())
    n = only_a + only_b
    p = stats.binomtest(only_a, n, 0.5).pvalue if n else 1.0
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": p}


# --8<-- [end:mcnemar]


# --8<-- [start:baselines]
def logistic_regression(split, seed: int = 0) -> np.ndarray:
    """A linear model of the log-odds, fitted by scikit-learn (with its
    default mild L2 penalty); its 0/1 predictions for the test rows.
    (seed is unused: the fit has nothing random.)"""
    # Newton's method fits the same model as the default solver, and is
    # many times quicker with a few inputs.
    model = LogisticRegression(solver="newton-cholesky")
    model.fit(split.X_train.numpy(), split.y_train.numpy())
    return model.predict(split.X_test.numpy()).astype(int)


# --8<-- [end:baselines]


# --8<-- [start:repeated]
def repeated_splits(X, y, n_splits: int = N_SPLITS) -> list:
    """Stratified 80/20 splits with seeds 0 .. n_splits - 1, each scaled
    with its own training rows, exactly as the page's one split."""
    return [split_and_scale(X, y, seed=seed) for seed in range(n_splits)]


def evaluate_repeatedly(models: dict, splits: list) -> pd.DataFrame:
    """Every model's test metrics on every split: one row per pair.

    `models` maps a name to a function of (split, seed) that trains the
    model on the split's training rows and returns its 0/1 predictions
    for the split's test rows. Split k trains with seed k, so the samples
    and the initial weights both change from one split to the next.
    """
    rows = []
    for k, split in enumerate(splits):
        for name, fit_predict in models.items():
            y_pred = fit_predict(split, seed=k)
            scores = label_metrics(split.y_test.numpy(), y_pred)
            sizes = {
                "n_train": len(split.y_train),
                "n_test": len(split.y_test),
            }
            rows.append({"split": k, "model": name, **scores, **sizes})
    return pd.DataFrame(rows)


def by_split(results: pd.DataFrame, metric="accuracy") -> pd.DataFrame:
    """One row per split, one column per model: the metric's test values."""
    return results.pivot(index="split", columns="model", values=metric)


# --8<-- [end:repeated]


# --8<-- [start:mlp_predictions]
def mlp_predictions(split, seed: int, threshold: float = THRESHOLD):
    """The Classifiers page's MLP as a model of evaluate_repeatedly:
    trained on the split's training rows from seed `seed`, its 0/1
    predictions for the split's test rows."""
    model, _ = train_mlp(split, seed=seed, record=False)
    return predict(model, split.X_test, threshold)


# --8<-- [end:mlp_predictions]


# --8<-- [start:summarise]
def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Each model's mean of each metric over the splits (models in the
    order given, one column per metric)."""
    # dict.fromkeys keeps each model once, in the order first seen
    models = list(dict.fromkeys(results["model"]))
    metrics = [m for m in METRICS if m in results.columns]
    return results.groupby("model")[metrics].mean().loc[models]


# --8<-- [end:summarise]


# --8<-- [start:paired_difference]
def paired_difference(
    results, a: str, b: str, metric="accuracy", corrected=True
) -> dict:
    """The mean over the splits of (a's metric - b's metric) on the same
    split, with a 95 % interval: Nadeau and Bengio's corrected resampled
    t interval (corrected=False: the plain t interval, too narrow here).

    Repeated splits share most of their samples, so their differences
    are not independent: the variance of the mean is taken as
    (1/k + n_test/n_train) times the variance of the k differences,
    instead of 1/k times it.
    """
    wide = by_split(results, metric)
    difference = wide[a] - wide[b]
    k = len(difference)
    sizes = results.groupby("split")[["n_test", "n_train"]].first()
    ratio = (sizes["n_test"] / sizes["n_train"]).mean()
    overlap = ratio if corrected else 0
    se = np.sqrt((1 / k + overlap) * difference.var())
    half = stats.t.ppf(0.975, k - 1) * se
    mean = difference.mean()
    return {"mean": mean, "low": mean - half, "high": mean + half}


def paired_differences(results, pairs, metrics=METRICS) -> pd.DataFrame:
    """paired_difference for every pair (a, b) and metric, as a table."""
    rows = {}
    for a, b in pairs:
        for metric in metrics:
            name = f"{a} - {b}"
            rows[name, metric] = paired_difference(results, a, b, metric)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["difference", "metric"]
    table["verdict"] = [verdict(row) for _, row in table.iterrows()]
    return table


def verdict(difference: dict) -> str:
    """'higher' or 'lower' where the 95 % interval excludes 0, else
    'undecided'."""
    if difference["low"] > 0:
        return "higher"
    if difference["high"] < 0:
        return "lower"
    return "undecided"


# --8<-- [end:paired_difference]


# --8<-- [start:head_to_head]
def head_to_head(results, a: str, b: str, metric="accuracy") -> dict:
    """In how many splits model a scores above, equal to and below b."""
    wide = by_split(results, metric)
    diff = (wide[a] - wide[b]).to_numpy()
    tied = np.isclose(diff, 0)
    return {
        "higher": int((~tied & (diff > 0)).sum()),
        "equal": int(tied.sum()),
        "lower": int((~tied & (diff < 0)).sum()),
    }


# --8<-- [end:head_to_head]


# --8<-- [start:describe_head_to_head]
def describe_head_to_head(results, a: str, b: str, metric="accuracy") -> str:
    """One printed line: how often a's test metric beats b's."""
    n = results["split"].nunique()
    c = head_to_head(results, a, b, metric)
    return (
        f"{a} vs {b}, of {n} splits: {c['higher']} higher, "
        f"{c['equal']} equal, {c['lower']} lower"
    )


# --8<-- [end:describe_head_to_head]


# --8<-- [start:describe_ceiling]
def describe_ceiling(ceiling: float | None, metric="accuracy") -> str:
    """One printed line: the best score any model could reach, where the
    data's generator is known (None: a real table)."""
    if ceiling is None:
        return f"{metric} ceiling: unknown, as for any real table"
    return f"{metric} ceiling (Bayes classifier): {ceiling:.3f}"


# --8<-- [end:describe_ceiling]


# --8<-- [start:paired_figure]
def paired_figure(
    results, title: str, metric="accuracy", ceiling: float | None = None
) -> go.Figure:
    """One line per split joining its models' scores, so each line shows
    which model did better on the same test samples; a dashed line at the
    ceiling, if it is known."""
    models = list(dict.fromkeys(results["model"]))
    wide = by_split(results, metric)[models]
    n = len(wide)
    x = np.arange(len(models))
    fig = go.Figure()
    for k, (split, row) in enumerate(wide.iterrows()):
        # Shift each split a little sideways: ties would hide each other.
        shift = (k - (n - 1) / 2) * 0.4 / n
        fig.add_trace(
            go.Scatter(
                x=x + shift,
                y=row.to_numpy(),
                mode="lines+markers",
                line={"color": "rgba(128, 128, 128, 0.45)", "width": 1},
                marker={"size": 5, "color": "rgba(63, 111, 216, 0.8)"},
                name=f"split {split}",
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=wide.mean().to_numpy(),
            mode="markers",
            marker={
                "size": 14,
                "symbol": "line-ew-open",
                "color": "#e8702a",
                "line": {"width": 3},
            },
            name="mean over the splits",
        )
    )
    if ceiling is not None:
        fig.add_trace(
            go.Scatter(
                x=[-0.5, len(models) - 0.5],
                y=[ceiling, ceiling],
                mode="lines",
                line={"color": "#2ca02c", "dash": "dash"},
                name="ceiling",
            )
        )
    fig.update_layout(
        title=title,
        xaxis={"tickvals": list(x), "ticktext": models},
        xaxis_title="Model (one line per split)",
        yaxis_title=f"Test {metric.replace('_', ' ')}",
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


# --8<-- [end:paired_figure]


# --8<-- [start:class_weighted_loss]
def class_weighted_loss(model: nn.Module, batch) -> torch.Tensor:
    """Binary cross-entropy in which each smoker counts as much as
    (non-smokers / smokers) non-smokers of the batch: when training, the
    ratio of the training rows, so both classes weigh the same in all."""
    x, y = batch
    smokers = y.sum()
    pos_weight = (len(y) - smokers) / smokers.clamp(min=1)
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)(model(x), y)


# --8<-- [end:class_weighted_loss]


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


# --8<-- [start:mlps_on]
def mlps_on(
    splits,
    epochs=EPOCHS,
    hidden=HIDDEN,
    lr=LEARNING_RATE,
    loss_fn=classification_loss,
):
    """mlp_predictions for every split, trained all at once: MLP k starts
    from the weights train_mlp(split, seed=k) starts from and is trained
    on split k by train_many. Returns a model for evaluate_repeatedly
    (a function of split, seed and an optional threshold) that gives
    MLP k's 0/1 predictions for split k's test rows."""
    mlps = []
    for k, split in enumerate(splits):
        set_seed(k)
        mlps.append(MLP(n_inputs=split.X_train.shape[1], hidden=hidden))
    batches = [(s.X_train, s.y_train) for s in splits]
    train_many(mlps, loss_fn, batches, epochs, lr)

    def fit_predict(split, seed: int, threshold: float = THRESHOLD):
        return predict(mlps[seed], split.X_test, threshold)  # trained

    return fit_predict


# --8<-- [end:mlps_on]


def main():
    # --8<-- [start:threads]
    # Our tensors are tiny: extra CPU threads cost more than they save.
    torch.set_num_threads(1)
    # --8<-- [end:threads]

    # --8<-- [start:one_split]
    genes = feature_genes()
    X, y = select_features(label_smoking_status(load_gbm()), genes)
    split = split_and_scale(X, y)  # the Classifiers page's split
    mlp, _ = train_mlp(split, record=False)  # and its MLP
    mlp_pred = predict(mlp, split.X_test)
    y_test = split.y_test.numpy()
    n_test, test_smokers = len(y_test), int(y_test.sum())
    print(f"test set: {n_test} samples, {test_smokers} smokers")
    # --8<-- [end:one_split]

    # --8<-- [start:intervals]
    mlp_table = metrics_with_intervals(y_test, mlp_pred)
    print(mlp_table.round(3).to_string(na_rep=""))
    # --8<-- [end:intervals]

    # --8<-- [start:paired_test]
    lr_pred = logistic_regression(split)
    lr_table = metrics_with_intervals(y_test, lr_pred)
    print(f"logistic regression, the same {n_test} test samples:")
    print(lr_table.round(3).to_string(na_rep=""))
    fixed_test = mcnemar_exact(y_test, mlp_pred, lr_pred)
    print(f"only the MLP right:                 {fixed_test['only_a_right']}")
    print(f"only logistic regression right:     {fixed_test['only_b_right']}")
    print(f"exact McNemar test (two-sided): p = {fixed_test['p_value']:.2f}")
    # --8<-- [end:paired_test]

    # --8<-- [start:repeated_run]
    splits = repeated_splits(X, y)
    models = {
        "majority class": majority_class,
        "logistic regression": logistic_regression,
        # mlp_predictions on every split, all trained at once to keep
        # this page quick (see "Going further" below): same predictions
        "MLP": mlps_on(splits),
    }
    results = evaluate_repeatedly(models, splits)
    spread = by_split(results, "accuracy")["MLP"]
    print(f"MLP test accuracy over {len(splits)} splits:")
    print(f"lowest {spread.min():.3f}, highest {spread.max():.3f}")
    # --8<-- [end:repeated_run]

    # --8<-- [start:summary]
    summary = summarise(results)
    print(summary.round(3).to_string())
    # --8<-- [end:summary]

    # --8<-- [start:differences]
    pairs = [
        ("MLP", "majority class"),
        ("logistic regression", "majority class"),
        ("MLP", "logistic regression"),
    ]
    differences = paired_differences(results, pairs)
    print(differences.round(3).to_string())
    # --8<-- [end:differences]

    # --8<-- [start:solution_more_splits]
    cheap = {
        "logistic regression": logistic_regression,
        "majority class": majority_class,
    }
    many = evaluate_repeatedly(cheap, repeated_splits(X, y, 100))
    widths = {}
    for n_splits in (20, 100):
        first = many[many["split"] < n_splits]  # the first n_splits splits
        for kind in ("plain", "corrected"):
            d = paired_difference(
                first,
                "logistic regression",
                "majority class",
                "balanced_accuracy",
                corrected=(kind == "corrected"),
            )
            widths[kind, n_splits] = d["high"] - d["low"]
            print(
                f"{n_splits:>3} splits, {kind:<9}: {d['mean']:+.3f} "
                f"({d['low']:+.3f} to {d['high']:+.3f})"
            )
    narrowing = {}
    for kind in ("plain", "corrected"):
        if widths[kind, 100] == 0:  # the same difference on every split
            print(f"{kind} interval: no spread at all")
            continue
        narrowing[kind] = widths[kind, 20] / widths[kind, 100]
        print(f"{kind} interval, 100 splits: {narrowing[kind]:.1f}x narrower")
    # --8<-- [end:solution_more_splits]

    # --8<-- [start:ceiling]
    # The best accuracy the synthetic generator allows (see the data page).
    ceiling = known_ceiling(genes)  # None unless the synthetic table
    print(describe_ceiling(ceiling))
    title = f"Test accuracy on {len(splits)} splits, paired by split"
    fig = paired_figure(results, title, "accuracy", ceiling)
    fig.show()
    # --8<-- [end:ceiling]

    # --8<-- [start:balanced_plot]
    title = f"Test balanced accuracy on {len(splits)} splits"
    fig = paired_figure(results, title, "balanced_accuracy")
    fig.show()
    # --8<-- [end:balanced_plot]

    # --8<-- [start:solution_class_weights]
    weighted_mlp, _ = train_mlp(
        split,
        loss_fn=class_weighted_loss,
        record=False,
    )
    weighted_pred = predict(weighted_mlp, split.X_test)
    one_split = pd.DataFrame(
        {
            "MLP": label_metrics(y_test, mlp_pred),
            "MLP, class weights": label_metrics(y_test, weighted_pred),
        }
    )
    print(one_split.round(3).to_string())
    weighted = {
        "MLP": models["MLP"],  # trained already
        "MLP, class weights": mlps_on(splits, loss_fn=class_weighted_loss),
    }
    weighted_results = evaluate_repeatedly(weighted, splits)
    pair = ("MLP, class weights", "MLP")
    weighting = paired_differences(weighted_results, [pair])
    print(weighting.round(3).to_string())
    weighted_counts = {}  # in how many splits higher, equal, lower
    for metric in ("recall", "precision"):
        weighted_counts[metric] = head_to_head(weighted_results, *pair, metric)
        print(metric, weighted_counts[metric])
    # --8<-- [end:solution_class_weights]

    # --8<-- [start:solution_threshold]
    mlp_on_splits = models["MLP"]  # trained already: no training here

    def mlp_at_prevalence(split, seed):
        """Call a smoker where P(smoker) is above the share of smokers
        among the split's training rows, instead of above 0.5."""
        share = split.y_train.mean().item()
        return mlp_on_splits(split, seed, threshold=share)

    thresholds = {"MLP": mlp_on_splits, "MLP, threshold": mlp_at_prevalence}
    threshold_results = evaluate_repeatedly(thresholds, splits)
    pair = ("MLP, threshold", "MLP")
    lowered = paired_differences(threshold_results, [pair])
    print(lowered.round(3).to_string())
    lowered_counts = {}  # in how many splits higher, equal, lower
    for metric in ("recall", "precision"):
        lowered_counts[metric] = head_to_head(threshold_results, *pair, metric)
        print(metric, lowered_counts[metric])
    # --8<-- [end:solution_threshold]


if __name__ == "__main__":
    run_as_script(main)

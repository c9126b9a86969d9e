"""Evidence for comparing models: uncertainty on one split, and many splits.

One split of 88 samples into 70 for training and 18 for testing gives one
noisy number per model. This module holds the tools the classifier,
autoencoder and VAE pages share:

- 95 % Wilson intervals for the metrics of one split, and the exact McNemar
  test for two models scored on the same test samples;
- repeated evaluation: train and score every model on many stratified splits
  (and model seeds), summarise the distribution of each metric, count how
  often one model beats another, and draw every split;
- the two baselines every comparison includes: the majority class and a
  logistic regression on the same inputs.
"""

# --8<-- [start:imports]
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
)

from tutorial_code.gbm_data import split_and_scale

# --8<-- [end:imports]

# --8<-- [start:settings]
N_SPLITS = 20  # repeated stratified 80/20 splits (seeds 0, 1, ..., 19)
METRICS = ("accuracy", "precision", "recall", "f1")
# --8<-- [end:settings]


# --8<-- [start:label_metrics]
def label_metrics(y_true, y_pred) -> dict[str, float]:
    """Accuracy, precision, recall, F1 of 0/1 predictions (1 = smoker)."""
    y_true = np.asarray(y_true).astype(int)
    y_pred = np.asarray(y_pred).astype(int)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred, zero_division=0),
        "f1": f1_score(y_true, y_pred, zero_division=0),
    }


# --8<-- [end:label_metrics]


# --8<-- [start:wilson]
def wilson_interval(hits: int, trials: int) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion of hits/trials."""
    if trials == 0:
        return (float("nan"), float("nan"))
    ci = binomtest(hits, trials).proportion_ci(0.95, method="wilson")
    return (ci.low, ci.high)


def metrics_with_intervals(y_true, y_pred) -> pd.DataFrame:
    """Each metric of one split, with a 95 % Wilson interval where the
    metric is a proportion of samples (F1 is not, so it has none)."""
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
    p = binomtest(only_a, n, 0.5).pvalue if n else 1.0
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": p}


# --8<-- [end:mcnemar]


# --8<-- [start:baselines]
def majority_class(split, seed: int = 0) -> np.ndarray:
    """Predict the training rows' most common class for every test row."""
    counts = np.bincount(split.y_train.numpy().astype(int), minlength=2)
    return np.full(len(split.y_test), counts.argmax())


def logistic_regression(split, seed: int = 0) -> np.ndarray:
    """A linear model of the log-odds, fitted by scikit-learn (with its
    default mild L2 penalty); its 0/1 predictions for the test rows."""
    model = LogisticRegression()
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

    `models` maps a name to `fit_predict(split, seed)`, which returns 0/1
    predictions for the split's test rows from a model trained on its
    training rows (trained in the call, or beforehand for all splits at
    once). Split k trains with seed k, so the samples and the initial
    weights both change from one split to the next.
    """
    rows = []
    for k, split in enumerate(splits):
        for name, fit_predict in models.items():
            y_pred = fit_predict(split, seed=k)
            scores = label_metrics(split.y_test.numpy(), y_pred)
            rows.append({"split": k, "model": name, **scores})
    return pd.DataFrame(rows)


# --8<-- [end:repeated]


# --8<-- [start:summarise]
def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Median and 2.5th/97.5th percentiles of each metric over the splits.

    The percentiles bracket the middle 95 % of the split results: how far
    one split's number can move, not a confidence interval of the median.
    """
    long = results.melt(
        id_vars=["split", "model"],
        value_vars=list(METRICS),
        var_name="metric",
    )
    # Keep the models in the order given, each with its four metrics.
    for column, order in (("model", results["model"]), ("metric", METRICS)):
        order = list(dict.fromkeys(order))
        long[column] = pd.Categorical(long[column], order, ordered=True)
    by = long.groupby(["model", "metric"], observed=True)["value"]
    return pd.DataFrame(
        {
            "median": by.median(),
            "2.5%": by.quantile(0.025),
            "97.5%": by.quantile(0.975),
        }
    )


def by_split(results: pd.DataFrame, metric="accuracy") -> pd.DataFrame:
    """One row per split, one column per model: the metric's test values."""
    return results.pivot(index="split", columns="model", values=metric)


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


def describe_head_to_head(results, a: str, b: str) -> str:
    """One printed line: how often a's test accuracy beats b's."""
    n = results["split"].nunique()
    c = head_to_head(results, a, b)
    return (
        f"{a} vs {b}, of {n} splits: {c['higher']} higher, "
        f"{c['equal']} equal, {c['lower']} lower"
    )


def describe_ceiling(ceiling: float | None) -> str:
    """One printed line: the best accuracy any model could reach, where the
    data's generator is known (None: a real table)."""
    if ceiling is None:
        return "ceiling: unknown, as for any real table"
    return f"ceiling (Bayes classifier): {ceiling:.3f}"


# --8<-- [end:summarise]


# --8<-- [start:paired_figure]
def paired_figure(results, title: str, metric="accuracy") -> go.Figure:
    """One line per split joining its models' scores, so each line
    shows which model did better on the same test samples."""
    models = list(dict.fromkeys(results["model"]))
    wide = by_split(results, metric)[models]
    n = len(wide)
    fig = go.Figure()
    for k, (split, row) in enumerate(wide.iterrows()):
        # Shift each split a little sideways: ties would hide each other.
        shift = (k - (n - 1) / 2) * 0.4 / n
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(models)) + shift,
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
            x=np.arange(len(models)),
            y=wide.median().to_numpy(),
            mode="markers",
            marker={
                "size": 14,
                "symbol": "line-ew-open",
                "color": "#e8702a",
                "line": {"width": 3},
            },
            name="median",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"tickvals": list(range(len(models))), "ticktext": models},
        xaxis_title="Model (one line per split)",
        yaxis_title=f"Test {metric}",
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


# --8<-- [end:paired_figure]

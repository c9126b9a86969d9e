"""The models of the Evaluation, Autoencoders and VAE pages on 200 repeated
splits, for the claim tests of the sentences that rank them (the pages show 20).

    python tests/many_splits.py OUT.pickle

Everything is computed once per test session, in a process of its own that
tests/conftest.py starts as soon as the tests are collected (fixture
`many_splits`), and shared by the three test files: the splits, the
classifiers, the autoencoders, VAEs and heads (trained side by side, as the
pages train them), and the baselines. The metrics the sentences use,
accuracy and balanced accuracy, are computed here with numpy (scikit-learn's
functions take most of the time at this size; a test checks that both
agree), in the layout of `evaluate_repeatedly`, so that the pages' own
`paired_differences` reads them.
"""

import pickle
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tutorial_code.autoencoders import (
    fit_autoencoders_side_by_side,
    fit_pca,
    heads_side_by_side,
    mean_prediction_error,
    model_encoder,
    pca_encoder,
    pca_reconstruction_error,
    reconstruction_error,
)
from tutorial_code.classifier import majority_class
from tutorial_code.evaluation import (
    class_weighted_loss,
    evaluate_repeatedly,
    logistic_regression,
    mlps_on,
    repeated_splits,
)
from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    select_features,
)
from tutorial_code.vae import fit_vaes_side_by_side

N_SPLITS = 200


@cache
def splits() -> list:
    X, y = select_features(label_smoking_status(load_gbm()), feature_genes())
    return repeated_splits(X, y, N_SPLITS)


@cache
def autoencoders() -> list:
    return fit_autoencoders_side_by_side(splits())


@cache
def pca_encoders() -> list:
    return [pca_encoder(fit_pca(s)) for s in splits()]


@cache
def vae_encoders() -> list:
    return [model_encoder(v) for v in fit_vaes_side_by_side(splits())]


def scores(y_true, y_pred) -> dict:
    """Accuracy and balanced accuracy (the mean of the recalls of the
    classes present in y_true)."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred)
    recalls = [(y_pred[y_true == c] == c).mean() for c in np.unique(y_true)]
    return {
        "accuracy": (y_pred == y_true).mean(),
        "balanced_accuracy": float(np.mean(recalls)),
    }


@cache
def predictions() -> dict:
    """Each model's 0/1 test predictions on each split."""
    ae_encoders = [model_encoder(a) for a in autoencoders()]
    models = {
        "majority class": majority_class,
        "logistic regression": logistic_regression,
        "PCA head": heads_side_by_side(pca_encoders(), splits()),
        "AE head": heads_side_by_side(ae_encoders, splits()),
        "VAE head": heads_side_by_side(vae_encoders(), splits()),
    }
    return {
        name: [fit_predict(s, seed=k) for k, s in enumerate(splits())]
        for name, fit_predict in models.items()
    }


@cache
def results() -> pd.DataFrame:
    """Every model's test scores on every split, as evaluate_repeatedly
    lays them out."""
    rows = []
    for name, by_split in predictions().items():
        for k, (s, y_pred) in enumerate(zip(splits(), by_split, strict=True)):
            sizes = {"n_train": len(s.y_train), "n_test": len(s.y_test)}
            score = scores(s.y_test.numpy(), y_pred)
            rows.append({"split": k, "model": name, **score, **sizes})
    return pd.DataFrame(rows)


@cache
def reconstruction() -> pd.DataFrame:
    """Test reconstruction errors of the mean, PCA and the autoencoder,
    one row per split, in the layout of the results (model "PCA" etc.)."""
    rows = []
    for k, (s, a) in enumerate(zip(splits(), autoencoders(), strict=True)):
        with torch.no_grad():
            ae_error = reconstruction_error(a.eval()(s.X_test), s.X_test).item()
        errors = {
            "predict the mean": mean_prediction_error(s.X_test),
            "PCA": pca_reconstruction_error(fit_pca(s), s.X_test),
            "autoencoder": ae_error,
        }
        for name, error in errors.items():
            sizes = {"n_train": len(s.y_train), "n_test": len(s.y_test)}
            rows.append({"split": k, "model": name, "error": error, **sizes})
    return pd.DataFrame(rows)


def classifier_results() -> pd.DataFrame:
    """The Evaluation page's models on the 200 splits (the page's 20 first),
    scored by the page's own evaluate_repeatedly."""
    mlp = mlps_on(splits())

    def mlp_at_prevalence(split, seed):
        return mlp(split, seed, threshold=split.y_train.mean().item())

    models = {
        "majority class": majority_class,
        "logistic regression": logistic_regression,
        "MLP": mlp,
        "MLP, class weights": mlps_on(splits(), loss_fn=class_weighted_loss),
        "MLP, threshold": mlp_at_prevalence,
    }
    return evaluate_repeatedly(models, splits())


def main(out: str) -> None:
    torch.set_num_threads(1)  # tiny models: one thread is fastest
    found = {
        "classifiers": classifier_results(),
        "models": results(),
        "predictions": predictions(),
        "reconstruction": reconstruction(),
        "first_split": splits()[0],
    }
    Path(out).write_bytes(pickle.dumps(found))


if __name__ == "__main__":
    main(*sys.argv[1:])

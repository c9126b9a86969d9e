"""Tests of the synthetic data generator and the shipped CSV it produced."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from hooks.tutorials import ROOT
from tutorial_code import make_synthetic_gbm as synth
from tutorial_code.gbm_data import (
    FEATURES,
    LABEL,
    SHIPPED_DATA,
    SMOKING_CATEGORIES,
    label_smoking_status,
    load_gbm,
    select_features,
    split_and_scale,
)


@pytest.fixture(scope="module")
def shipped():
    return pd.read_csv(SHIPPED_DATA)


def test_regenerating_gives_the_shipped_file_byte_for_byte(tmp_path):
    out = tmp_path / "gbm_data.csv"
    subprocess.run(
        [sys.executable, "-m", "tutorial_code.make_synthetic_gbm", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == SHIPPED_DATA.read_bytes()


def test_layout_expression_then_clinical(shipped):
    assert len(shipped) == synth.N_SAMPLES == 96
    assert list(shipped.columns[: len(synth.GENES)]) == synth.GENES
    assert set(FEATURES) <= set(synth.GENES)
    assert list(shipped.columns[len(synth.GENES) :]) == [
        "PATIENT_ID",
        "SAMPLE_ID",
        "AGE",
        "SEX",
        "SMOKING_HISTORY",
        "TUMOR_SITE",
    ]
    assert shipped["PATIENT_ID"].str.fullmatch(r"C3[LN]-\d{5}").all()
    assert shipped["PATIENT_ID"].is_unique
    assert set(shipped["SEX"]) == {"Male", "Female"}


def test_expression_values_look_like_log2_fpkm(shipped):
    expression = shipped[synth.GENES]
    assert expression.min().min() >= 0 and expression.max().max() <= 14
    assert expression.mean().std() > 1  # gene-specific means


def test_smoking_history_uses_the_study_strings_and_comma_is_quoted(shipped):
    assert set(shipped["SMOKING_HISTORY"].dropna()) == set(SMOKING_CATEGORIES)
    assert '"Current reformed smoker, more than 15 years"' in SHIPPED_DATA.read_text()


def test_missing_values_for_cleaning_to_report(shipped):
    assert shipped["SMOKING_HISTORY"].isna().sum() == 6
    assert 1 <= shipped["AGE"].isna().sum() <= 5
    assert shipped[FEATURES].isna().sum().to_dict() == {
        gene: (2 if gene == synth.GENE_WITH_MISSING_VALUES else 0) for gene in FEATURES
    }


def test_roughly_half_of_labelled_rows_are_smokers():
    labelled = label_smoking_status(load_gbm())
    assert 0.45 <= labelled[LABEL].mean() <= 0.55


def test_signal_is_learnable_but_not_perfect():
    split = split_and_scale(*select_features(label_smoking_status(load_gbm())))
    model = LogisticRegression().fit(split.X_train.numpy(), split.y_train.numpy())
    accuracy = model.score(split.X_test.numpy(), split.y_test.numpy())
    majority = max(split.y_test.mean().item(), 1 - split.y_test.mean().item())
    assert majority + 0.15 <= accuracy <= 0.9


def test_only_the_planted_genes_differ_between_groups(shipped):
    labelled = label_smoking_status(load_gbm())
    by_group = labelled.groupby(LABEL)[synth.GENES].mean()
    shift = (by_group.loc[1] - by_group.loc[0]) / labelled[synth.GENES].std()
    assert set(shift[shift.abs() > 0.55].index) == set(synth.SMOKING_EFFECT_SD)


# ------------------------------------------------------------------ the ceiling


def test_gene_parameters_are_the_generators():
    params = synth.gene_parameters()
    assert list(params.index) == synth.GENES
    assert params["effect"].to_dict() == {
        gene: synth.SMOKING_EFFECT_SD.get(gene, 0.0) for gene in synth.GENES
    }
    assert params["loading"].to_dict() == {
        gene: synth.SHARED_FACTOR_LOADING.get(gene, 0.0) for gene in synth.GENES
    }
    assert params["mean"].between(1.5, 10.5).all()
    assert params["sd"].between(0.6, 1.8).all()


def test_gene_parameters_explain_the_shipped_values(shipped):
    """A gene with no smoking effect is centred on its drawn mean, with its SD."""
    params = synth.gene_parameters()
    for gene in ("EFTUD1P1", "RPL7L1P9", "EGFR"):
        values = shipped[gene].dropna()
        se = params.loc[gene, "sd"] / len(values) ** 0.5
        assert abs(values.mean() - params.loc[gene, "mean"]) < 4 * se, gene
        assert 0.7 < values.std() / params.loc[gene, "sd"] < 1.3, gene


def test_ceiling_without_clipping_matches_the_closed_form():
    """Two normal classes with one covariance and equal priors: Phi(Delta / 2)."""
    params = synth.gene_parameters().loc[FEATURES]
    loading, effect = params["loading"].to_numpy(), params["effect"].to_numpy()
    cov = np.outer(loading, loading) + np.diag(1 - loading**2)
    delta = np.sqrt(effect @ np.linalg.solve(cov, effect))
    assert synth.smoker_prior() == 0.5
    estimate, se = synth.bayes_accuracy(FEATURES, clip=False)
    assert estimate == pytest.approx(norm.cdf(delta / 2), abs=4 * se)


def test_clipping_can_only_lower_the_ceiling():
    clipped, se = synth.bayes_accuracy(FEATURES)
    unclipped, _ = synth.bayes_accuracy(FEATURES, clip=False)
    assert clipped <= unclipped + 2 * se
    assert 0.76 < clipped < 0.80


def test_genes_without_signal_leave_only_the_prior():
    estimate, se = synth.bayes_accuracy(["EGFR", "PTEN"], n_draws=20_000)
    assert estimate == pytest.approx(0.5, abs=4 * se + 1e-3)


def test_a_classifier_fitted_on_plenty_of_data_does_not_beat_the_ceiling():
    """Logistic regression trained and tested on 100,000 fresh draws from the
    generator's model, clipped as in the file, lands just under the ceiling."""
    params = synth.gene_parameters().loc[FEATURES]
    loading = params["loading"].to_numpy()
    rng = np.random.default_rng(7)

    def draw(n):
        smoker = rng.random(n) < synth.smoker_prior()
        z = np.outer(rng.standard_normal(n), loading)
        z += np.sqrt(1 - loading**2) * rng.standard_normal((n, len(loading)))
        z += np.outer(smoker, params["effect"].to_numpy())
        x = params["mean"].to_numpy() + params["sd"].to_numpy() * z
        return np.clip(x, *synth.CLIP_RANGE), smoker

    model = LogisticRegression().fit(*draw(100_000))
    accuracy = model.score(*draw(100_000))
    ceiling, se = synth.bayes_accuracy(FEATURES)
    assert ceiling - 0.02 < accuracy < ceiling + 4 * se + 0.003


def test_ceiling_refuses_genes_the_generator_never_made():
    with pytest.raises(ValueError, match="NOT_A_GENE.*synthetic table"):
        synth.bayes_accuracy(["LINC00159", "NOT_A_GENE"])


def test_the_generator_describes_only_the_shipped_table_on_its_own_genes(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("GBM_DATA", raising=False)
    assert synth.generated(["EGFR", "LINC00159"])
    assert not synth.generated(["EGFR", "NOT_A_GENE"])
    assert synth.known_ceiling(["EGFR", "NOT_A_GENE"]) is None
    copy = tmp_path / "copy.csv"  # the same rows, but a table of the user's
    copy.write_bytes(synth.DEFAULT_OUT.read_bytes())
    monkeypatch.setenv("GBM_DATA", str(copy))
    assert not synth.generated(["EGFR", "LINC00159"])
    assert synth.known_ceiling(["EGFR", "LINC00159"]) is None


def test_ceiling_cli_prints_it():
    result = subprocess.run(
        [sys.executable, "-m", "tutorial_code.make_synthetic_gbm", "--ceiling"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "best possible accuracy: 0.7" in result.stdout

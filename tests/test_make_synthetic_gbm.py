"""Tests of the synthetic data generator and the shipped CSV it produced."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

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
    assert len(shipped) == synth.N_SAMPLES == 99
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
    assert shipped["SMOKING_HISTORY"].isna().sum() == synth.N_MISSING_SMOKING == 8
    assert 1 <= shipped["AGE"].isna().sum() <= 5
    assert shipped[FEATURES].isna().sum().to_dict() == {
        gene: (2 if gene == synth.GENE_WITH_MISSING_VALUES else 0) for gene in FEATURES
    }


def test_about_a_quarter_of_the_samples_kept_are_smokers():
    """As in the study's export: 21 smokers among the 85 samples kept."""
    X, y = select_features(label_smoking_status(load_gbm()))
    assert (int(y.sum()), len(y)) == (21, 85)
    assert 0.2 <= y.mean() <= 0.35


def test_truncated_lines_are_cut_short(shipped):
    """The lines the generator cut short lost their last field."""
    truncated = synth.make_synthetic_gbm().attrs["truncated_rows"]
    assert len(truncated) == synth.N_TRUNCATED_LINES
    assert shipped.loc[truncated, "TUMOR_SITE"].isna().all()
    assert shipped["TUMOR_SITE"].notna().sum() == synth.N_SAMPLES - len(truncated)


def test_signal_is_learnable_but_not_perfect():
    """Cross-validated balanced accuracy of a logistic regression: well above
    chance (0.5), below the ceiling."""
    X, y = select_features(label_smoking_status(load_gbm()))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(
        LogisticRegression(), X, y, cv=folds, scoring="balanced_accuracy"
    )
    assert 0.6 <= scores.mean() <= synth.known_balanced_ceiling(FEATURES) + 0.05


def test_the_planted_genes_differ_most_between_groups(shipped):
    """In standard errors of the gap: the planted genes lie beyond 3, every
    other column within 2.5 (chance, over 27 columns)."""
    labelled = label_smoking_status(load_gbm())
    by_group = labelled.groupby(LABEL)[synth.GENES].mean()
    shift = (by_group.loc[1] - by_group.loc[0]) / labelled[synth.GENES].std()
    n = labelled[LABEL].value_counts()
    in_se = shift / np.sqrt(1 / n[0] + 1 / n[1])
    assert set(in_se[in_se.abs() > 2.5].index) == set(synth.SMOKING_EFFECT_SD)
    assert (in_se[list(synth.SMOKING_EFFECT_SD)].abs() > 3).all()


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


def closed_form_delta(genes) -> float:
    params = synth.gene_parameters().loc[genes]
    loading, effect = params["loading"].to_numpy(), params["effect"].to_numpy()
    cov = np.outer(loading, loading) + np.diag(1 - loading**2)
    return float(np.sqrt(effect @ np.linalg.solve(cov, effect)))


def test_class_distance_is_the_mahalanobis_distance():
    assert synth.class_distance(FEATURES) == pytest.approx(closed_form_delta(FEATURES))
    # one gene: its own shift; genes without an effect add nothing
    assert synth.class_distance(["LINC00159"]) == pytest.approx(1.0)
    assert synth.class_distance(["EGFR", "PTEN"]) == 0.0
    assert round(synth.class_distance(FEATURES), 2) == 1.54


def test_ceiling_without_clipping_matches_the_closed_form():
    """Two normal classes with one covariance. Equal priors: the best accuracy,
    that is the best balanced accuracy, is Phi(Delta / 2). Prior p: the Bayes
    rule's threshold moves by t = ln((1 - p) / p) / Delta."""
    delta = closed_form_delta(FEATURES)
    balanced, se = synth.bayes_accuracy(FEATURES, clip=False, prior=0.5)
    assert balanced == pytest.approx(norm.cdf(delta / 2), abs=4 * se)
    p = synth.smoker_prior()
    assert p == 0.25
    t = np.log((1 - p) / p) / delta
    expected = p * norm.cdf(delta / 2 - t) + (1 - p) * norm.cdf(delta / 2 + t)
    accuracy, se = synth.bayes_accuracy(FEATURES, clip=False)
    assert accuracy == pytest.approx(expected, abs=4 * se)


def test_clipping_can_only_lower_the_ceiling():
    for prior in (0.5, None):
        clipped, se = synth.bayes_accuracy(FEATURES, prior=prior)
        unclipped, _ = synth.bayes_accuracy(FEATURES, clip=False, prior=prior)
        assert clipped <= unclipped + 2 * se
    assert 0.76 < synth.bayes_accuracy(FEATURES, prior=0.5)[0] < 0.80
    assert 0.81 < synth.bayes_accuracy(FEATURES)[0] < 0.85


def test_genes_without_signal_leave_only_the_prior():
    for prior in (0.5, 0.25, 0.9):
        estimate, se = synth.bayes_accuracy(["EGFR", "PTEN"], 20_000, prior=prior)
        assert estimate == pytest.approx(max(prior, 1 - prior), abs=4 * se + 1e-3)


@pytest.mark.parametrize("prior", [0.1, 0.4, 0.75])
def test_one_set_of_draws_serves_every_prior(prior):
    """The draws are made once per gene list (half from each class) and
    weighed by the prior: at any prior they match the closed form."""
    delta = closed_form_delta(FEATURES)
    t = np.log((1 - prior) / prior) / delta
    expected = prior * norm.cdf(delta / 2 - t) + (1 - prior) * norm.cdf(delta / 2 + t)
    estimate, se = synth.bayes_accuracy(FEATURES, clip=False, prior=prior)
    assert estimate == pytest.approx(expected, abs=4 * se)


def test_sample_expression_draws_from_the_shipped_tables_model():
    genes = ["LINC00159", "EFTUD1P1", "EGFR"]
    big = synth.sample_expression(genes, 50_000, seed=1)
    params = synth.gene_parameters().loc[genes]
    assert list(big.columns) == [*genes, "smoker"]
    assert big["smoker"].mean() == pytest.approx(synth.smoker_prior(), abs=0.01)
    others = big[big["smoker"] == 0]
    for gene in genes:  # non-smokers: the drawn mean and SD (little clipping)
        assert others[gene].mean() == pytest.approx(params.loc[gene, "mean"], abs=0.03)
        assert others[gene].std() == pytest.approx(params.loc[gene, "sd"], rel=0.03)
    smokers = big[big["smoker"] == 1]
    shift = smokers["LINC00159"].mean() - others["LINC00159"].mean()
    assert shift == pytest.approx(params.loc["LINC00159", "sd"], rel=0.05)
    assert big[genes].min().min() >= 0 and big[genes].max().max() <= 14
    # the shared factor's correlation: loadings 0.5 and 0.4
    corr = others[["LINC00159", "EFTUD1P1"]].corr().iloc[0, 1]
    assert corr == pytest.approx(0.5 * 0.4, abs=0.02)
    with pytest.raises(ValueError, match="NOT_A_GENE"):
        synth.sample_expression(["NOT_A_GENE"], 10)


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
    assert synth.known_balanced_ceiling(["EGFR", "NOT_A_GENE"]) is None
    assert synth.known_balanced_ceiling(["EGFR", "LINC00159"]) == pytest.approx(
        synth.bayes_accuracy(["EGFR", "LINC00159"], prior=0.5)[0]
    )
    copy = tmp_path / "copy.csv"  # the same rows, but a table of the user's
    copy.write_bytes(synth.DEFAULT_OUT.read_bytes())
    monkeypatch.setenv("GBM_DATA", str(copy))
    assert not synth.generated(["EGFR", "LINC00159"])
    assert synth.known_ceiling(["EGFR", "LINC00159"]) is None
    assert synth.known_balanced_ceiling(["EGFR", "LINC00159"]) is None


def test_ceiling_cli_prints_it():
    result = subprocess.run(
        [sys.executable, "-m", "tutorial_code.make_synthetic_gbm", "--ceiling"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "best balanced accuracy                0.779" in result.stdout
    assert "best accuracy at 25% smokers          0.828" in result.stdout

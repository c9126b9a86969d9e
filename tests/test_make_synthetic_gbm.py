"""Tests of the synthetic data generator and the shipped CSV it produced."""

import subprocess
import sys

import pandas as pd
import pytest
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

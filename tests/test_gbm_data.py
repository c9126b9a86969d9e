"""Tests of the data layer: loading, cleaning, splitting and its error messages."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tutorial_code import gbm_data
from tutorial_code.gbm_data import (
    DATA_ENV_VAR,
    FEATURES,
    LABEL,
    SHIPPED_DATA,
    SMOKING_CATEGORIES,
    GBMDataError,
    MalformedRowsWarning,
    cleaning_report,
    data_path,
    label_smoking_status,
    load_gbm,
    select_features,
    split_and_scale,
)

NON_SMOKER = "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime"
COMMA_CATEGORY = "Current reformed smoker, more than 15 years"


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)


@pytest.fixture
def gbm():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_gbm()


@pytest.fixture
def labelled(gbm):
    return label_smoking_status(gbm)


def small_frame(smoking, n_per_row=None):
    """A tiny valid frame: five genes, PATIENT_ID/SAMPLE_ID and SMOKING_HISTORY."""
    rng = np.random.default_rng(0)
    n = len(smoking)
    frame = pd.DataFrame(rng.normal(5, 1, size=(n, len(FEATURES))), columns=FEATURES)
    ids = [f"C3L-{k:05d}" for k in range(n)]
    return frame.assign(PATIENT_ID=ids, SAMPLE_ID=ids, SMOKING_HISTORY=smoking)


# ------------------------------------------------------------ happy path


def test_data_path_prefers_argument_then_env_then_shipped(monkeypatch, tmp_path):
    assert data_path() == SHIPPED_DATA
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "env.csv"))
    assert data_path() == tmp_path / "env.csv"
    assert data_path(tmp_path / "arg.csv") == tmp_path / "arg.csv"


def test_load_reads_the_shipped_file(gbm):
    assert gbm.shape == (96, 36)
    assert set(FEATURES) <= set(gbm.columns)
    assert gbm.columns.get_loc("PATIENT_ID") > max(
        gbm.columns.get_loc(g) for g in FEATURES
    )
    assert gbm.attrs["malformed_lines"] == []


def test_clinical_columns_start_at_patient_id(gbm):
    assert gbm_data.clinical_columns(gbm)[:2] == ["PATIENT_ID", "SAMPLE_ID"]
    assert "SMOKING_HISTORY" in gbm_data.clinical_columns(gbm)
    assert not set(FEATURES) & set(gbm_data.clinical_columns(gbm))


def test_label_mapping_covers_the_four_categories():
    assert SMOKING_CATEGORIES[NON_SMOKER] == 0
    assert sorted(SMOKING_CATEGORIES.values()) == [0, 1, 1, 1]
    frame = small_frame(list(SMOKING_CATEGORIES) + [None])
    labelled = label_smoking_status(frame)
    assert labelled[LABEL].tolist() == list(SMOKING_CATEGORIES.values())
    assert labelled[LABEL].dtype == np.int64


def test_label_returns_a_new_frame_and_leaves_input_alone(gbm):
    before = gbm.copy()
    labelled = label_smoking_status(gbm)
    assert labelled is not gbm
    assert LABEL not in gbm.columns
    pd.testing.assert_frame_equal(gbm, before)
    assert len(labelled) == gbm["SMOKING_HISTORY"].notna().sum()


def test_label_ignores_surrounding_whitespace():
    labelled = label_smoking_status(small_frame([f"  {NON_SMOKER} ", COMMA_CATEGORY]))
    assert labelled[LABEL].tolist() == [0, 1]


def test_select_features_shapes_and_types(labelled):
    X, y = select_features(labelled)
    assert list(X.columns) == FEATURES
    assert X.shape == (88, 5) and y.shape == (88,)
    assert all(dtype == "float64" for dtype in X.dtypes)
    assert set(y.unique()) == {0, 1}
    assert X.index.equals(y.index)
    assert not X.isna().any().any()


def test_cleaning_report_counts_each_step(gbm):
    report = cleaning_report(gbm)
    assert report.rows_read == 96
    assert report.malformed_skipped == 0
    assert report.missing_smoking_history == 6
    assert report.missing_selected_gene == 2
    assert report.rows_kept == 88
    text = str(report)
    assert "rows kept" in text and "88" in text


def test_split_tensors_shapes_and_dtypes(labelled):
    split = split_and_scale(*select_features(labelled))
    assert split.X_train.shape == (70, 5) and split.X_test.shape == (18, 5)
    assert split.y_train.shape == (70,) and split.y_test.shape == (18,)
    for tensor in (split.X_train, split.X_test, split.y_train, split.y_test):
        assert tensor.dtype == torch.float32
    assert set(split.y_train.unique().tolist()) == {0.0, 1.0}
    assert split.feature_names == FEATURES


def test_scaler_is_fitted_on_training_rows_only(labelled):
    X, y = select_features(labelled)
    split = split_and_scale(X, y)
    train_raw = split.scaler.inverse_transform(split.X_train.numpy())
    np.testing.assert_allclose(split.scaler.mean_, train_raw.mean(axis=0), rtol=1e-5)
    assert not np.allclose(split.scaler.mean_, X.mean().to_numpy())
    assert split.X_train.mean(dim=0).abs().max() < 1e-5
    assert split.X_test.mean(dim=0).abs().max() > 1e-3


def test_split_is_stratified(labelled):
    X, y = select_features(labelled)
    split = split_and_scale(X, y)
    assert abs(split.y_train.mean().item() - y.mean()) < 0.03
    assert abs(split.y_test.mean().item() - y.mean()) < 0.06


def test_split_is_deterministic(labelled):
    X, y = select_features(labelled)
    first, second = split_and_scale(X, y), split_and_scale(X, y)
    assert torch.equal(first.X_test, second.X_test)
    assert torch.equal(first.y_train, second.y_train)
    other_seed = split_and_scale(X, y, seed=1)
    assert not torch.equal(first.y_test, other_seed.y_test) or not torch.equal(
        first.X_test, other_seed.X_test
    )


def test_whole_pipeline_raises_no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gbm = load_gbm()
        split_and_scale(*select_features(label_smoking_status(gbm)))
        cleaning_report(gbm)


def test_main_prints_the_story(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gbm_data.main()
    out = capsys.readouterr().out
    assert "96 samples x 36 columns" in out
    assert "rows kept" in out
    assert "train: 70 rows" in out and "test: 18 rows" in out


def test_run_as_script_sets_data_env(monkeypatch, tmp_path):
    csv_path = tmp_path / "mine.csv"
    csv_path.write_bytes(SHIPPED_DATA.read_bytes())
    seen = {}
    monkeypatch.setattr("sys.argv", ["prog", "--data", str(csv_path)])
    gbm_data.run_as_script(lambda: seen.setdefault("path", data_path()))
    assert seen["path"] == csv_path


# ------------------------------------------------------------- bad input


def test_missing_file_says_where_the_shipped_file_is(tmp_path):
    with pytest.raises(GBMDataError) as caught:
        load_gbm(tmp_path / "nope.csv")
    message = str(caught.value)
    assert "nope.csv" in message
    assert str(SHIPPED_DATA) in message
    assert DATA_ENV_VAR in message and "--data" in message


def test_missing_file_from_env_names_the_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "gone.csv"))
    with pytest.raises(GBMDataError, match=r"gone\.csv \(from \$GBM_DATA\)"):
        load_gbm()


def test_run_as_script_turns_data_errors_into_a_clean_exit(monkeypatch, tmp_path):
    monkeypatch.setattr("sys.argv", ["prog", "--data", str(tmp_path / "x.csv")])
    with pytest.raises(SystemExit) as caught:
        gbm_data.run_as_script(load_gbm)
    assert str(caught.value).startswith("error: GBM data file not found")


def write_with_unquoted_commas(tmp_path: Path) -> Path:
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 5)
    lines = frame.to_csv(index=False, lineterminator="\n").splitlines()
    # file lines 3 and 5 hold the comma category; without quotes they get
    # one field too many
    for i in (2, 4):
        lines[i] = lines[i].replace('"', "")
    path = tmp_path / "unquoted.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_rows_give_one_warning_with_count_and_lines(tmp_path):
    path = write_with_unquoted_commas(tmp_path)
    with pytest.warns(MalformedRowsWarning) as record:
        gbm = load_gbm(path)
    assert len(record) == 1
    message = str(record[0].message)
    assert "2 malformed row(s)" in message
    assert "line(s) 3, 5" in message
    assert "unquoted comma" in message
    assert len(gbm) == 8
    assert cleaning_report(gbm).malformed_skipped == 2


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(GBMDataError, match="empty"):
        load_gbm(path)


def test_absent_gene_columns_are_named_with_close_matches(labelled):
    with pytest.raises(GBMDataError) as caught:
        select_features(labelled, ["LINC0159", "EGFR", "NOTAGENE"])
    message = str(caught.value)
    assert "LINC0159 (close: LINC00159" in message
    assert "NOTAGENE (no similar column)" in message
    assert "EGFR (" not in message


def test_non_numeric_expression_names_column_value_and_row(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 3)
    frame["KRT17P8"] = frame["KRT17P8"].astype(object)
    frame.loc[4, "KRT17P8"] = "high"
    path = tmp_path / "text.csv"
    frame.to_csv(path, index=False)
    labelled = label_smoking_status(load_gbm(path))
    with pytest.raises(GBMDataError) as caught:
        select_features(labelled)
    message = str(caught.value)
    assert "KRT17P8" in message and "'high'" in message
    assert "sample C3L-00004 (row 4)" in message


def test_select_features_without_label_says_what_to_call(gbm):
    with pytest.raises(GBMDataError, match="label_smoking_status"):
        select_features(gbm)


def test_no_smoking_history_column(gbm):
    with pytest.raises(GBMDataError, match="no SMOKING_HISTORY column"):
        label_smoking_status(gbm.drop(columns="SMOKING_HISTORY"))


def test_unrecognised_smoking_categories_are_listed_with_known_ones():
    frame = small_frame([NON_SMOKER, "Ex-smoker", "Never", "Never"])
    with pytest.raises(GBMDataError) as caught:
        label_smoking_status(frame)
    message = str(caught.value)
    assert "2 unrecognised value(s): 'Ex-smoker', 'Never'" in message
    for category in SMOKING_CATEGORIES:
        assert category in message


def test_single_class_after_cleaning():
    frame = small_frame([NON_SMOKER] * 10 + [None] * 2)
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="Only one class is left"):
        split_and_scale(X, y)


def test_too_few_rows_says_how_many_are_needed():
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY, NON_SMOKER, COMMA_CATEGORY])
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="needs at least 6 rows"):
        split_and_scale(X, y)


def test_a_class_with_one_row_is_too_few():
    frame = small_frame([NON_SMOKER] * 9 + [COMMA_CATEGORY])
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="least 2 of each class"):
        split_and_scale(X, y)


def test_no_rows_left_is_an_error():
    frame = small_frame([None, None])
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="No rows left"):
        split_and_scale(X, y)


# ------------------------------------------------------- claims on the page


def test_claim_classes_roughly_balanced(page_run):
    counts = page_run("gbm_data").namespace["counts"]
    assert 0.45 <= counts[1] / counts.sum() <= 0.55


def test_claim_cleaning_keeps_most_rows(page_run):
    namespace = page_run("gbm_data").namespace
    assert len(namespace["X"]) >= 0.9 * len(namespace["gbm"])


def test_claim_split_keeps_class_balance(page_run):
    split = page_run("gbm_data").namespace["split"]
    assert abs(split.y_train.mean() - split.y_test.mean()) < 0.05


def test_page_prints_the_cleaning_report(page_run):
    out = page_run("gbm_data").stdout
    assert "dropped: no SMOKING_HISTORY" in out and "rows kept" in out


def test_claim_ceiling_about_78_percent(page_run):
    """The data page's ceiling: about 0.78, and clipping hardly moves it."""
    namespace = page_run("gbm_data").namespace
    assert round(namespace["ceiling"], 2) == 0.78
    assert abs(namespace["unclipped"] - namespace["ceiling"]) < 0.005
    assert f"{namespace['ceiling']:.3f}" in page_run("gbm_data").stdout
    # Most clipped values are C20orf202 cut at 0 (a low value means smoker).
    X = namespace["X"]
    clipped = ((X <= 0) | (X >= 14)).sum()
    assert clipped.idxmax() == "C20orf202" and clipped.max() > clipped.sum() / 2
    by_class = namespace["labelled"].groupby("smoking_status")["C20orf202"].mean()
    assert by_class[1] < by_class[0]

"""Tests of the data layer: loading, cleaning, splitting, the gene setting, and
the message every kind of bad table gets."""

import gzip
import importlib
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import output_of, page_file
from gbm_tables import write_project_table

from hooks.tutorials import ROOT, run_page
from tutorial_code import gbm_data
from tutorial_code import make_synthetic_gbm as synth
from tutorial_code.data_paths import DEFAULT_GENES, GENES_ENV_VAR
from tutorial_code.gbm_data import (
    DATA_ENV_VAR,
    FEATURES,
    LABEL,
    SHIPPED_DATA,
    SMOKING_CATEGORIES,
    GBMDataError,
    cleaning_report,
    data_path,
    feature_genes,
    gene_not_in_use,
    label_smoking_status,
    load_gbm,
    select_features,
    split_and_scale,
    suggest_genes,
)

NON_SMOKER = "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime"
COMMA_CATEGORY = "Current reformed smoker, more than 15 years"


NOBODY = 65534  # the unprivileged user's id on Linux

# What the generator wrote into the shipped table.
WELL_FORMED = synth.N_SAMPLES - synth.N_TRUNCATED_LINES
KEPT = WELL_FORMED - synth.N_MISSING_SMOKING - synth.N_MISSING_GENE


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch):
    """The shipped table and genes; an empty value counts as unset, and unlike
    delenv, setenv restores the variables however a test changes them."""
    monkeypatch.setenv(DATA_ENV_VAR, "")
    monkeypatch.setenv(GENES_ENV_VAR, "")


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
    assert gbm.shape == (WELL_FORMED, len(synth.GENES) + 6) == (95, 36)
    assert set(FEATURES) <= set(gbm.columns)
    assert gbm.columns.get_loc("PATIENT_ID") > max(
        gbm.columns.get_loc(g) for g in FEATURES
    )
    # the lines the generator cut short (line 1 is the header)
    truncated = synth.make_synthetic_gbm().attrs["truncated_rows"]
    assert gbm.attrs["malformed_lines"] == [row + 2 for row in truncated]
    assert set(gbm.attrs["malformed_kinds"].values()) == {"short"}


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
    assert X.shape == (KEPT, 5) and y.shape == (KEPT,)
    assert all(dtype == "float64" for dtype in X.dtypes)
    assert set(y.unique()) == {0, 1}
    assert X.index.equals(y.index)
    assert not X.isna().any().any()


def test_cleaning_report_counts_each_step(gbm):
    report = cleaning_report(gbm)
    assert report.rows_read == WELL_FORMED
    assert report.malformed_skipped == synth.N_TRUNCATED_LINES
    assert report.missing_smoking_history == synth.N_MISSING_SMOKING
    assert report.missing_selected_gene == synth.N_MISSING_GENE
    assert report.rows_kept == KEPT == 85
    text = str(report)
    assert "rows kept" in text and str(KEPT) in text
    assert f"{synth.N_TRUNCATED_LINES} cut short" in text
    assert "more fields" not in text  # no line of the shipped table is too long


def test_split_tensors_shapes_and_dtypes(labelled):
    split = split_and_scale(*select_features(labelled))
    n_test = int(np.ceil(0.2 * KEPT))
    assert split.X_train.shape == (KEPT - n_test, 5)
    assert split.X_test.shape == (n_test, 5)
    assert split.y_train.shape == (KEPT - n_test,) and split.y_test.shape == (n_test,)
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
    assert f"{WELL_FORMED} samples x 36 columns" in out
    assert "rows kept" in out
    assert "best balanced accuracy" in out  # the ceiling, from the generator
    assert "train: 68 rows" in out and "test: 17 rows" in out


def test_run_as_script_sets_data_and_genes(tmp_path):
    csv_path = tmp_path / "mine.csv"
    csv_path.write_bytes(SHIPPED_DATA.read_bytes())
    seen = {}

    def story():
        seen.update(path=data_path(), genes=feature_genes())

    gbm_data.run_as_script(story, ["--data", str(csv_path), "--genes", "EGFR,TP53"])
    assert seen == {"path": csv_path, "genes": ["EGFR", "TP53"]}


@pytest.mark.parametrize("n_genes", [10, 2_000, 60_000])
def test_wide_tables_load_and_clean_without_warnings(tmp_path, n_genes):
    genes = [f"G{k}" for k in range(n_genes)]
    path = tmp_path / "wide.csv"
    write_project_table(path, n_samples=30, genes=genes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gbm = load_gbm(path)
        labelled = label_smoking_status(gbm)
        chosen = list(suggest_genes(gbm, 3).index)
        split = split_and_scale(*select_features(labelled, chosen))
        report = cleaning_report(gbm, chosen)
    assert gbm.shape == (30, n_genes + 5)
    assert len(gbm_data.expression_columns(gbm)) == n_genes
    assert split.feature_names == chosen and report.rows_kept == 30


# ------------------------------------------------------------- bad input
#
# One test for each kind of bad table: the loader's GBMDataError names the
# file, the problem and what to do. The command lines are tested further down.


def write_csv(tmp_path: Path, frame: pd.DataFrame, name="table.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def load_error(path) -> str:
    with pytest.raises(GBMDataError) as caught:
        load_gbm(path)
    return str(caught.value)


def test_missing_file_says_where_the_shipped_file_is(tmp_path):
    message = load_error(tmp_path / "nope.csv")
    assert "not found" in message and "nope.csv" in message
    assert str(SHIPPED_DATA) in message
    assert DATA_ENV_VAR in message and "--data" in message


def test_missing_file_from_env_names_the_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "gone.csv"))
    with pytest.raises(GBMDataError, match=r"gone\.csv \(from \$GBM_DATA or --data\)"):
        load_gbm()


def test_a_directory_is_not_a_csv(tmp_path):
    message = load_error(tmp_path)
    assert f"{tmp_path} (passed explicitly) is a directory" in message
    assert "the CSV file itself" in message


def test_a_pipe_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert "is not a regular file" in load_error(fifo)


@contextmanager
def without_root_privileges():
    """Root reads a file whatever its mode; act as 'nobody' for the call."""
    if os.geteuid() != 0:
        yield
        return
    try:
        os.seteuid(NOBODY)
    except PermissionError:
        pytest.skip("running as root without the right to switch users")
    try:
        yield
    finally:
        os.seteuid(0)


def test_an_unreadable_file_says_so():
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # others may look inside, not read the file
        path = Path(folder) / "locked.csv"
        path.write_bytes(SHIPPED_DATA.read_bytes())
        path.chmod(0)
        with without_root_privileges(), pytest.raises(GBMDataError) as caught:
            load_gbm(path)
    message = str(caught.value)
    assert f"{path} (passed explicitly) cannot be read: Permission denied" in message
    assert "chmod u+r" in message


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert f"{path} is empty" in load_error(path)


def test_blank_lines_only_are_empty_too(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n  \n")
    assert "is empty" in load_error(path)


def test_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(SHIPPED_DATA.read_text().splitlines()[0] + "\n")
    assert "has a header row but no data rows" in load_error(path)


def test_binary_file(tmp_path):
    path = tmp_path / "model.csv"
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 5000).tolist()))
    assert "is a binary file, not CSV text" in load_error(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_text(tmp_path, encoding):
    path = tmp_path / "utf16.csv"
    path.write_text(SHIPPED_DATA.read_text(), encoding=encoding)
    message = load_error(path)
    assert "is UTF-16 text, not UTF-8" in message and "iconv" in message


def test_latin1_text_names_the_line_and_byte(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 4)
    frame.loc[2, "SAMPLE_ID"] = "Tumör-2"
    path = tmp_path / "latin1.csv"
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    message = load_error(path)
    assert "is not UTF-8 text: line 4 holds the byte 0xF6" in message
    assert "Latin-1" in message and "re-save it as UTF-8" in message


def test_gzip_file(tmp_path):
    path = tmp_path / "gbm.csv.gz"
    path.write_bytes(gzip.compress(SHIPPED_DATA.read_bytes()))
    message = load_error(path)
    assert "is gzip-compressed" in message and "gunzip" in message


@pytest.mark.parametrize(("name", "sep"), [("tab", "\t"), ("semicolon", ";")])
def test_wrong_delimiter(tmp_path, name, sep):
    path = tmp_path / "other.csv"
    pd.read_csv(SHIPPED_DATA).to_csv(path, sep=sep, index=False)
    message = load_error(path)
    assert f"looks {name}-separated" in message
    assert "Save it with commas" in message


def test_duplicated_column_names(tmp_path):
    path = tmp_path / "dup.csv"
    lines = SHIPPED_DATA.read_text().splitlines(keepends=True)
    path.write_text(lines[0].replace("PTEN", "EGFR") + "".join(lines[1:]))
    message = load_error(path)
    assert "1 repeated column name(s): EGFR (2 times)" in message
    assert "build_gbm_from_cbioportal" in message


def test_duplicated_sample_ids(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 4)
    frame.loc[5, "SAMPLE_ID"] = frame.loc[1, "SAMPLE_ID"]
    message = load_error(write_csv(tmp_path, frame))
    assert "SAMPLE_ID repeats in" in message
    assert "C3L-00001 (2 rows)" in message and "Each row must be one sample" in message


def test_non_numeric_expression_value_is_found_at_load(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 3)
    frame["KRT17P8"] = frame["KRT17P8"].astype(object)
    frame.loc[4, "KRT17P8"] = "high"
    message = load_error(write_csv(tmp_path, frame))
    assert "1 expression value(s) in" in message and "are not numbers" in message
    assert "'high' in column KRT17P8, sample C3L-00004 (row 4)" in message


def test_infinite_expression_value(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 3)
    frame.loc[3, "EFTUD1P1"] = np.inf
    message = load_error(write_csv(tmp_path, frame))
    assert "are infinite, e.g. inf in column" in message
    assert "column EFTUD1P1, sample C3L-00003 (row 3)" in message


def test_negative_expression_values_name_the_expected_range(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 3)
    frame.loc[0, "RPL7L1P9"] = -1.5
    message = load_error(write_csv(tmp_path, frame))
    assert "Expression values below 0" in message and "e.g. -1.5 in" in message
    assert "log2(FPKM + 1) values from 0 to about 40" in message
    assert "z-scores" in message


def test_linear_scale_values_are_recognised(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 3)
    frame[FEATURES] = 2 ** (frame[FEATURES] * 2)  # FPKM-like: up to thousands
    message = load_error(write_csv(tmp_path, frame))
    assert "this looks like a linear scale, not a log scale" in message
    assert "Apply log2(x + 1)" in message


def test_log_values_as_high_as_real_exports_load(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 3)
    frame[FEATURES] = np.linspace(6, 27, frame[FEATURES].size).reshape(6, -1)
    gbm = load_gbm(write_csv(tmp_path, frame))
    assert gbm[FEATURES].max().max() == 27


def test_no_patient_id_column(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY]).drop(columns="PATIENT_ID")
    message = load_error(write_csv(tmp_path, frame))
    assert "has no PATIENT_ID column" in message and "expression columns" in message


def test_zip_or_excel_file(tmp_path):
    path = tmp_path / "gbm.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("sheet.xml", "<sheet/>")
    assert "is a ZIP archive or an Excel workbook" in load_error(path)


def test_no_smoking_history_column_at_load(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY]).drop(columns="SMOKING_HISTORY")
    message = load_error(write_csv(tmp_path, frame))
    assert "has no SMOKING_HISTORY column" in message and "table.csv" in message


def test_no_smoking_history_column(gbm):
    with pytest.raises(GBMDataError, match="no SMOKING_HISTORY column"):
        label_smoking_status(gbm.drop(columns="SMOKING_HISTORY"))


def test_unrecognised_smoking_categories_are_listed_with_known_ones(tmp_path):
    frame = small_frame([NON_SMOKER, "Ex-smoker", "Never", "Never"])
    message = load_error(write_csv(tmp_path, frame))
    assert "2 unrecognised value(s): 'Ex-smoker', 'Never'" in message
    for category in SMOKING_CATEGORIES:
        assert category in message
    assert "\n" not in message  # one line on a command line


def test_case_and_spacing_variants_of_categories_are_accepted():
    variants = [
        NON_SMOKER.upper(),
        "current  smoker:  includes daily and non-daily smokers",
    ]
    labelled = label_smoking_status(small_frame(variants))
    assert labelled[LABEL].tolist() == [0, 1]


def test_cbioportal_placeholders_are_missing_labels(tmp_path):
    """A clinical table exported from cBioPortal as it is writes
    '[Not Available]' where the smoking history is unknown."""
    frame = small_frame([NON_SMOKER, "[Not Available]", "[Unknown]", COMMA_CATEGORY])
    gbm = load_gbm(write_csv(tmp_path, frame))
    assert label_smoking_status(gbm)[LABEL].tolist() == [0, 1]


def test_single_class_after_cleaning():
    frame = small_frame([NON_SMOKER] * 10 + [None] * 2)
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="Only one class is left"):
        split_and_scale(X, y)


def test_errors_after_loading_name_the_file(tmp_path):
    path = write_csv(tmp_path, small_frame([NON_SMOKER] * 10))
    X, y = select_features(label_smoking_status(load_gbm(path)))
    with pytest.raises(GBMDataError, match=f"after cleaning in {path}"):
        split_and_scale(X, y)


def test_too_few_rows_says_how_many_are_needed():
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY, NON_SMOKER, COMMA_CATEGORY])
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="needs at least 6 rows"):
        split_and_scale(X, y)


def test_a_class_with_one_row_is_too_few():
    frame = small_frame([NON_SMOKER] * 9 + [COMMA_CATEGORY])
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="least 2 of each class") as caught:
        split_and_scale(X, y)
    assert "9 non-smoker(s) and 1 smoker(s)" in str(caught.value)


def test_a_gene_column_without_values_is_named(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 5)
    frame[FEATURES[1]] = np.nan
    labelled = label_smoking_status(load_gbm(write_csv(tmp_path, frame)))
    with pytest.raises(GBMDataError, match=f"{FEATURES[1]}.* hold no value"):
        select_features(labelled)
    X, _ = select_features(labelled, [FEATURES[0], FEATURES[2]])  # others work
    assert len(X) == 10


def test_no_rows_left_is_an_error():
    frame = small_frame([None, None])
    X, y = select_features(label_smoking_status(frame))
    with pytest.raises(GBMDataError, match="No rows left"):
        split_and_scale(X, y)


def test_select_features_without_label_says_what_to_call(gbm):
    with pytest.raises(GBMDataError, match="label_smoking_status"):
        select_features(gbm)


# --------------------------------------------------------- malformed rows


def write_with_unquoted_commas(tmp_path: Path, rows=(2, 4), n=10) -> Path:
    """Data rows alternate non-smoker / comma category; the rows listed (file
    line numbers minus one) lose their quotes, so a comma row gets one field
    too many."""
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * (n // 2))
    lines = frame.to_csv(index=False, lineterminator="\n").splitlines()
    for i in rows:
        lines[i] = lines[i].replace('"', "")
    path = tmp_path / "unquoted.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_rows_are_skipped_without_a_warning(tmp_path):
    path = write_with_unquoted_commas(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gbm = load_gbm(path)
    assert len(gbm) == 8
    assert gbm.attrs["malformed_lines"] == [3, 5]


def test_the_cleaning_report_shows_malformed_lines_in_a_note(tmp_path):
    report = cleaning_report(load_gbm(write_with_unquoted_commas(tmp_path)))
    assert report.malformed_skipped == 2
    text = str(report)
    assert "note: skipped 2 malformed row(s) of unquoted.csv" in text
    assert "2 with more fields than the header" in text
    assert "unquoted comma" in text and "at line(s) 3, 5." in text
    assert "cut short" not in text


def test_the_note_tells_lines_cut_short_from_lines_too_long(tmp_path):
    genes = ["A", "B", "C"]
    path = write_project_table(tmp_path / "t.csv", 40, genes, malformed=4)
    text = str(cleaning_report(load_gbm(path), genes))
    assert "skipped 4 malformed row(s) of t.csv: 2 cut short" in text
    assert "; 2 with more fields than the header" in text


def test_a_line_cut_inside_a_quoted_value_is_named_by_its_first_line(tmp_path):
    """The open quote swallows the lines up to the next quote: one record over
    several lines, reported from the line where it starts."""
    path = write_with_unquoted_commas(tmp_path, rows=(), n=10)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][: lines[2].index('"') + 8]  # cut inside the quotes
    path.write_text("\n".join(lines) + "\n")
    gbm = load_gbm(path)
    assert gbm.attrs["malformed_lines"] == [3]
    text = str(cleaning_report(gbm))
    assert "1 running on over several lines" in text and "at lines 3-5" in text
    assert len(gbm) == 7  # the next quoted value, on line 5, closed the quote


def test_the_note_lists_at_most_twenty_lines(tmp_path):
    path = write_with_unquoted_commas(tmp_path, rows=range(2, 100, 2), n=200)
    text = str(cleaning_report(load_gbm(path)))
    assert "skipped 49 malformed row(s)" in text
    assert "41 (and 29 more)" in text


def test_more_malformed_rows_than_good_ones_is_an_error(tmp_path):
    path = write_with_unquoted_commas(tmp_path, rows=range(2, 21, 2), n=20)
    path.write_text(path.read_text().replace(NON_SMOKER, "Lifelong non-smoker, never"))
    message = load_error(path)
    assert "20 of 20 data rows have a different number of fields" in message
    assert "a delimiter other than a comma" in message
    assert "commas inside values that are not quoted" in message


# ---------------------------------------------------------------- genes


def test_feature_genes_default_to_the_five(monkeypatch):
    assert feature_genes() == list(DEFAULT_GENES) == FEATURES


def test_gbm_genes_sets_the_feature_genes(monkeypatch, labelled):
    monkeypatch.setenv(GENES_ENV_VAR, " EGFR, PTEN,TP53 ")
    assert feature_genes() == ["EGFR", "PTEN", "TP53"]
    X, _ = select_features(labelled)
    assert list(X.columns) == ["EGFR", "PTEN", "TP53"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("EGFR,,PTEN", "has an empty entry"),
        ("EGFR,PTEN,", "has an empty entry"),
        ("EGFR,PTEN,EGFR", "names EGFR more than once"),
        ("EGFR", "names one gene: the tutorials need at least two"),
    ],
)
def test_a_malformed_gene_list_is_an_error(monkeypatch, value, expected):
    monkeypatch.setenv(GENES_ENV_VAR, value)
    with pytest.raises(GBMDataError, match=expected) as caught:
        feature_genes()
    assert "from $GBM_GENES" in str(caught.value)


def test_absent_gene_columns_are_named_with_close_matches(labelled):
    with pytest.raises(GBMDataError) as caught:
        select_features(labelled, ["LINC0159", "EGFR", "NOTAGENE", "AGE", "pten"])
    message = str(caught.value)
    assert "LINC0159 (close: LINC00159" in message
    assert "pten (close: PTEN" in message  # case aside
    assert "NOTAGENE (no similar column)" in message
    assert "AGE (a clinical column, not a gene)" in message
    assert "EGFR (" not in message
    assert "$GBM_GENES or --genes" in message and "--suggest-genes" in message


def test_suggested_genes_are_the_most_variable_columns(gbm):
    suggested = suggest_genes(gbm, 4)
    spread = gbm[gbm_data.expression_columns(gbm)].std()
    assert list(suggested.index) == list(spread.nlargest(4).index)
    assert suggested.is_monotonic_decreasing


def test_a_gene_not_in_use_is_the_preferred_one_else_the_first_left(gbm, monkeypatch):
    assert gene_not_in_use(gbm, prefer="EGFR") == "EGFR"
    monkeypatch.setenv("GBM_GENES", "EGFR,PTEN")  # the preferred one is in use
    unused = [g for g in gbm_data.expression_columns(gbm) if g not in ("EGFR", "PTEN")]
    assert gene_not_in_use(gbm, prefer="EGFR") == unused[0]
    only_those = gbm[["EGFR", "PTEN", *gbm_data.clinical_columns(gbm)]]
    with pytest.raises(GBMDataError, match="already in use .*GBM_GENES"):
        gene_not_in_use(only_those, prefer="EGFR")


# ---------------------------------------------------------- command lines


def run_script(argv, capsys, entry=gbm_data.script):
    """Run a module's command line in-process: (exit status, stdout, stderr)."""
    try:
        entry(argv)
        status = 0
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def gzip_table(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(SHIPPED_DATA.read_bytes()))
    return path


def latin1_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(SHIPPED_DATA.read_bytes().replace(b"Female", b"F\xe9male"))
    return path


def infinite_table(tmp_path):
    frame = small_frame([NON_SMOKER, COMMA_CATEGORY] * 3)
    frame.loc[1, FEATURES[0]] = np.inf
    return write_csv(tmp_path, frame)


BAD_TABLES = {
    "missing": lambda tmp_path: tmp_path / "missing.csv",
    "directory": lambda tmp_path: tmp_path,
    "gzip": gzip_table,
    "latin1": latin1_table,
    "infinite": infinite_table,
}


@pytest.mark.parametrize("kind", sorted(BAD_TABLES))
def test_the_command_line_prints_one_error_line(tmp_path, capsys, kind):
    path = BAD_TABLES[kind](tmp_path)
    status, out, err = run_script(["--data", str(path)], capsys)
    assert status == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert str(path) in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize("module", ["classifier", "autoencoders"])
def test_every_tutorial_module_answers_a_bad_table_the_same_way(
    tmp_path, capsys, module
):
    entry = importlib.import_module(f"tutorial_code.{module}").main
    status, _, err = run_script(
        ["--data", str(tmp_path / "none.csv")],
        capsys,
        lambda argv: gbm_data.run_as_script(entry, argv),
    )
    assert status == 2
    assert err.startswith("error: GBM data file not found")


def test_a_malformed_genes_option_is_one_error_line(capsys):
    status, out, err = run_script(["--genes", "EGFR,,PTEN"], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: The gene list 'EGFR,,PTEN'")


def test_genes_option_picks_the_genes_of_the_story(capsys):
    status, out, _ = run_script(["--genes", "EGFR,PTEN"], capsys)
    assert status == 0
    assert "2 feature genes: EGFR, PTEN" in out
    assert "X: (" in out and ", 2), y:" in out


def test_suggest_genes_option_prints_a_setting_to_copy(capsys):
    status, out, _ = run_script(["--suggest-genes", "3"], capsys)
    assert status == 0
    top = list(suggest_genes(load_gbm(), 3).index)
    assert out.rstrip().endswith(f"GBM_GENES={','.join(top)}")


def test_python_m_gbm_data_with_a_missing_file_has_no_traceback(tmp_path):
    missing = tmp_path / "missing.csv"
    result = subprocess.run(
        [sys.executable, "-m", "tutorial_code.gbm_data", "--data", str(missing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, DATA_ENV_VAR: "", GENES_ENV_VAR: ""},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: GBM data file not found: {missing}")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


# ------------------------------------------------------- claims on the page


def test_claim_split_keeps_class_balance(page_run):
    split = page_run("gbm_data").namespace["split"]
    assert abs(split.y_train.mean() - split.y_test.mean()) < 0.05


def test_page_teaches_prevalence_and_the_majority_baseline(page_run):
    """The imbalance section: 21 smokers of 85 (24.7 %); always answering
    "non-smoker" is right for 75.3 % but has a balanced accuracy of 50 %."""
    namespace = page_run("gbm_data").namespace
    y = namespace["y"]
    assert (int(y.sum()), len(y)) == (21, 85)
    assert namespace["prevalence"] == pytest.approx(21 / 85)
    assert namespace["baseline_accuracy"] == pytest.approx(64 / 85)
    assert namespace["baseline_balanced"] == 0.5
    assert namespace["recall"] == {0: 1.0, 1: 0.0}
    out = output_of(page_run("gbm_data"), "majority_baseline")
    assert "accuracy 75.3%" in out and "balanced accuracy" in out


def test_page_prints_the_cleaning_report(page_run):
    out = page_run("gbm_data").stdout
    assert "dropped: no SMOKING_HISTORY" in out and "rows kept" in out


def test_the_page_stays_the_same_size_on_a_large_table(page_run, monkeypatch, tmp_path):
    """Nothing on the data page grows with the number of samples or genes."""
    genes = [f"G{k}" for k in range(20)]
    path = write_project_table(tmp_path / "large.csv", n_samples=20_000, genes=genes)
    monkeypatch.setenv(DATA_ENV_VAR, str(path))
    monkeypatch.setenv(GENES_ENV_VAR, "G1,G2,G3")
    large = run_page(page_file("gbm_data"))
    shipped = page_run("gbm_data")
    assert "20000 samples x 25 columns" in large.stdout
    assert len(large.stdout) < 1.5 * len(shipped.stdout)
    assert len(large.figures) == len(shipped.figures)


def test_claim_clipping_costs_little(page_run):
    """Clipping hardly moves the ceiling: in the generator's model the bounds
    are at least 2.5 SDs from every feature gene's mean (smokers included),
    and no value of the table sits on them."""
    namespace = page_run("gbm_data").namespace
    assert abs(namespace["balanced_unclipped"] - namespace["balanced_ceiling"]) < 0.005
    params = synth.gene_parameters().loc[FEATURES]
    effect = params["effect"].clip(lower=0), params["effect"].clip(upper=0)
    low = (params["mean"] + params["sd"] * effect[1]) / params["sd"]
    high = (14 - params["mean"] - params["sd"] * effect[0]) / params["sd"]
    assert min(low.min(), high.min()) > 2.5
    X = namespace["X"]
    assert ((X == 0) | (X == 14)).to_numpy().sum() == 0


def test_page_shows_the_ceiling_computation(page_run):
    """Delta, Phi(Delta / 2), the clipped balanced ceiling and the accuracy
    ceiling at the generator's prevalence, as make_synthetic_gbm computes them."""
    namespace = page_run("gbm_data").namespace
    genes = namespace["genes"]
    assert namespace["delta"] == pytest.approx(synth.class_distance(genes))
    assert namespace["balanced_ceiling"] == synth.known_balanced_ceiling(genes)
    assert namespace["accuracy_ceiling"] == synth.known_ceiling(genes)
    assert round(namespace["accuracy_ceiling"], 2) == 0.83
    assert round(namespace["balanced_ceiling"], 2) == 0.78
    out = output_of(page_run("gbm_data"), "ceiling")
    assert f"{namespace['accuracy_ceiling']:.3f}" in out


def test_claim_generator_as_described():
    """The data page's description of the generator."""
    assert synth.smoker_prior() == 0.25
    assert synth.SMOKING_EFFECT_SD == {
        "LINC00159": 1.0,
        "C20orf202": -0.9,
        "KRT17P8": 0.8,
    }
    loaded = [g for g in DEFAULT_GENES if synth.SHARED_FACTOR_LOADING.get(g)]
    assert len(loaded) == 4
    assert synth.CLIP_RANGE == (0.0, 14.0)


# ------------------------------------------------------------------ exercises


def test_count_by_hand_matches_the_label(page_run):
    namespace = page_run("gbm_data").namespace
    counts, recorded = namespace["counts"], namespace["recorded"]
    smoker_categories = [c for c, label in SMOKING_CATEGORIES.items() if label]
    assert (
        namespace["smokers_by_hand"] == counts[1] == recorded[smoker_categories].sum()
    )
    assert namespace["non_smokers_by_hand"] == counts[0] == recorded[NON_SMOKER]
    out = output_of(page_run("gbm_data"), "solution_count_by_hand")
    assert out.split() == ["smokers", "by", "hand:", "23", "non-smokers:", "64"]


def test_recent_rule_makes_smokers_rarer(page_run):
    namespace = page_run("gbm_data").namespace
    recent = namespace["recent"].value_counts()
    assert (recent[1], recent[0]) == (19, 68)
    assert namespace["recent_share"] < namespace["ever_share"] < 0.5
    # the page's own label is untouched by the exercise
    assert namespace["labelled"]["smoking_status"].sum() == 23


def test_claim_feature_gene_ranks(page_run):
    from tutorial_code.make_synthetic_gbm import SMOKING_EFFECT_SD

    namespace = page_run("gbm_data").namespace
    rank = namespace["rank"]
    assert namespace["in_top_ten"] == [g for g in DEFAULT_GENES if rank[g] <= 10]
    strongest = max(SMOKING_EFFECT_SD, key=SMOKING_EFFECT_SD.get)
    assert strongest == "LINC00159" and rank[strongest] > 10
    above = [gene for gene, r in rank.items() if r < rank[strongest]]
    # "most of the columns above it carry no smoking effect at all"
    assert sum(gene not in SMOKING_EFFECT_SD for gene in above) > len(above) / 2

"""Tests of the cBioPortal builder on small fixture files in the study's format."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gbm_tables import write_cbioportal_study

from tutorial_code import build_gbm_from_cbioportal as builder
from tutorial_code.gbm_data import (
    FEATURES,
    LABEL,
    GBMDataError,
    cleaning_report,
    expression_columns,
    label_smoking_status,
    load_gbm,
    select_features,
    split_and_scale,
    suggest_genes,
)

FIXTURES = Path(__file__).parent / "fixtures" / "cbioportal"
COMMA_CATEGORY = "Current reformed smoker, more than 15 years"


@pytest.fixture
def study(tmp_path):
    """A writable copy of the fixture study folder."""
    return Path(shutil.copytree(FIXTURES, tmp_path / "study"))


@pytest.fixture
def table():
    return builder.build_gbm_table(FIXTURES, note=lambda _: None)


def test_reads_past_the_hash_metadata_lines():
    assert builder.count_comment_lines(FIXTURES / builder.PATIENT_FILE) == 4
    assert builder.count_comment_lines(FIXTURES / builder.EXPRESSION_FILE) == 0


def test_one_row_per_profiled_sample_with_clinical_data(table):
    assert table["SAMPLE_ID"].tolist() == [
        "C3L-00016-T",
        "C3L-00104-T",
        "C3L-00365-T",
        "C3N-00662-T",
        "C3N-01334-T",
    ]
    assert table["PATIENT_ID"].tolist() == [s[:-2] for s in table["SAMPLE_ID"]]


def test_expression_columns_then_clinical_columns(table):
    genes = ["LINC00159", "EFTUD1P1", "C20orf202", "KRT17P8", "RPL7L1P9"]
    assert list(table.columns) == genes + ["EGFR", "PTEN"] + [
        "PATIENT_ID",
        "SAMPLE_ID",
        "AGE",
        "SEX",
        "SMOKING_HISTORY",
        "RACE",
        "TUMOR_SITE",
        "CANCER_TYPE",
    ]


def test_values_are_log2_fpkm_plus_one(table):
    first = table.set_index("SAMPLE_ID").loc["C3L-00016-T"]
    assert first["LINC00159"] == 2.0  # FPKM 3
    assert first["EGFR"] == pytest.approx(np.log2(151), abs=1e-4)


def test_duplicate_symbol_keeps_the_row_with_higher_mean(table):
    # KRT17P8 rows have means 5.21 and 5.0; the first (0.5, 0.75, ...) wins
    assert table["KRT17P8"].iloc[0] == pytest.approx(np.log2(1.5), abs=1e-4)


def test_row_without_symbol_is_dropped_and_notes_say_so(capsys):
    builder.build_gbm_table(FIXTURES)
    notes = capsys.readouterr().out
    assert "dropped 1 row(s) without a Hugo_Symbol" in notes
    assert "1 Hugo_Symbol(s) appeared on more than one row" in notes
    assert "dropped 1 expression sample(s) missing from" in notes
    assert "applied log2(FPKM + 1)" in notes


def test_cbioportal_placeholders_become_missing(table):
    assert table["AGE"].isna().sum() == 1
    assert table["SMOKING_HISTORY"].isna().sum() == 1
    assert table["PTEN"].isna().sum() == 1


def test_csv_round_trips_through_load_gbm(table, tmp_path):
    out = tmp_path / "gbm_data.csv"
    builder.write_gbm_csv(table, out)
    assert f'"{COMMA_CATEGORY}"' in out.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gbm = load_gbm(out)
        labelled = label_smoking_status(gbm)
        X, y = select_features(labelled)
    assert gbm["SMOKING_HISTORY"].tolist()[1] == COMMA_CATEGORY
    assert labelled[LABEL].tolist() == [0, 1, 1, 1]
    assert X.shape == (4, len(FEATURES))


def test_cli_writes_the_csv(tmp_path, capsys):
    out = tmp_path / "sub" / "gbm.csv"
    builder.main([str(FIXTURES), "--out", str(out), "--genes", "EGFR, PTEN"])
    assert "wrote 5 samples x 10 columns" in capsys.readouterr().out
    assert list(pd.read_csv(out).columns[:2]) == ["EGFR", "PTEN"]


def test_already_log_skips_the_transform(capsys):
    table = builder.build_gbm_table(FIXTURES, already_log=True, genes=["LINC00159"])
    assert table["LINC00159"].iloc[0] == 3.0
    assert "no log2" in capsys.readouterr().out


def test_small_values_get_a_hint_about_already_log(study, capsys):
    path = study / builder.EXPRESSION_FILE
    text = path.read_text().replace("1023.0", "10.0").replace("511.0", "9.0")
    path.write_text(text.replace("300.0", "8.0").replace("150.0", "7.0"))
    text = path.read_text()
    for big in ("255.0", "127.0", "90.0", "70.0", "63.0", "31.0"):
        text = text.replace(big, "4.0")
    path.write_text(text)
    builder.build_gbm_table(study)
    assert "rerun with --already-log" in capsys.readouterr().out


def test_negative_values_ask_for_already_log(study):
    path = study / builder.EXPRESSION_FILE
    path.write_text(path.read_text().replace("\t3.0\t", "\t-1.5\t", 1))
    with pytest.raises(GBMDataError, match="--already-log"):
        builder.build_gbm_table(study, note=lambda _: None)


def test_missing_study_file_is_named(study):
    (study / builder.SAMPLE_FILE).unlink()
    with pytest.raises(GBMDataError, match="data_clinical_sample.txt not found"):
        builder.build_gbm_table(study, note=lambda _: None)


def test_missing_study_folder(tmp_path):
    with pytest.raises(GBMDataError, match="Study folder not found"):
        builder.build_gbm_table(tmp_path / "nowhere")


def test_missing_hugo_symbol_column(study):
    path = study / builder.EXPRESSION_FILE
    path.write_text(path.read_text().replace("Hugo_Symbol", "Gene", 1))
    with pytest.raises(GBMDataError, match="has no column.s. Hugo_Symbol"):
        builder.build_gbm_table(study, note=lambda _: None)


def test_missing_sample_id_column(study):
    path = study / builder.SAMPLE_FILE
    path.write_text(
        path.read_text().replace("\nPATIENT_ID\tSAMPLE_ID", "\nPATIENT_ID\tID")
    )
    with pytest.raises(GBMDataError, match="no column.s. SAMPLE_ID"):
        builder.build_gbm_table(study, note=lambda _: None)


def test_non_numeric_expression_value(study):
    path = study / builder.EXPRESSION_FILE
    path.write_text(path.read_text().replace("\t15.0\t", "\thigh\t", 1))
    with pytest.raises(GBMDataError, match="'high' for gene LINC00159 in sample C3L"):
        builder.build_gbm_table(study, note=lambda _: None)


def test_unknown_gene_in_genes_option_suggests_close_names():
    with pytest.raises(GBMDataError, match=r"EGRF \(close: EGFR\)"):
        builder.build_gbm_table(FIXTURES, genes=["EGRF"], note=lambda _: None)


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        builder.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.csv")])
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("error: Study folder not found")


def test_cli_refuses_a_malformed_genes_option(tmp_path, capsys):
    with pytest.raises(SystemExit):
        builder.main([str(FIXTURES), "--out", str(tmp_path / "x.csv"), "--genes", "A,"])
    assert "'A,' (--genes) has an empty entry" in capsys.readouterr().err


# ------------------------------------------------- a study of realistic size
#
# About 20,000 genes x 100 samples, generated (tests/gbm_tables.py) with the
# quirks of a real download: Entrez_Gene_Id, rows without a Hugo symbol,
# symbols on two rows, NA values, '#' lines, sample IDs != patient IDs.

CHOSEN_GENES = ["EGFR", "PTEN", "TP53"]


@pytest.fixture(scope="session")
def realistic(tmp_path_factory):
    """(study folder, the CSV the builder wrote from it, the builder's notes)"""
    folder = tmp_path_factory.mktemp("realistic")
    study = write_cbioportal_study(folder / "study")
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = builder.build_gbm_table(study, note=notes.append)
        builder.write_gbm_csv(table, folder / "gbm_real.csv")
    return study, folder / "gbm_real.csv", notes


def test_a_realistic_study_builds_one_column_per_named_gene(realistic):
    study, csv_path, notes = realistic
    symbols = pd.read_csv(study / builder.EXPRESSION_FILE, sep="\t", usecols=[0])
    named = symbols["Hugo_Symbol"].dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gbm = load_gbm(csv_path)
    assert len(expression_columns(gbm)) == named.nunique() > 19_900
    assert len(gbm) == 100
    assert (gbm["SAMPLE_ID"] == gbm["PATIENT_ID"] + "-T").all()
    assert gbm[expression_columns(gbm)].isna().to_numpy().any()  # NA kept missing
    assert any("without a Hugo_Symbol" in n for n in notes)
    assert any("appeared on more than one row" in n for n in notes)


def test_genes_of_a_realistic_table_are_selected_without_warnings(realistic):
    _, csv_path, _ = realistic
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gbm = load_gbm(csv_path)
        split = split_and_scale(
            *select_features(label_smoking_status(gbm), CHOSEN_GENES)
        )
        report = cleaning_report(gbm, CHOSEN_GENES)
        candidates = suggest_genes(gbm, 10)
    assert split.feature_names == CHOSEN_GENES
    assert report.missing_smoking_history == 3  # '[Not Available]' in the study
    assert set(candidates.index) <= set(expression_columns(gbm))

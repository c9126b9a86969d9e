"""Generate the synthetic stand-in for the cBioPortal GBM export.

The file has the layout of a CSV built from cBioPortal study ``gbm_cptac_2021``
(see ``build_gbm_from_cbioportal.py``): one row per tumour sample, expression
columns first (log2(FPKM + 1)-like values), then clinical columns. The values
are random draws with a small planted smoking signal, so the tutorials have
something learnable without shipping patient data. Like the study's real
export, about a quarter of the labelled samples are smokers, some samples have
no smoking history, and a few lines are malformed.

Regenerate (byte-identical) with::

    python -m tutorial_code.make_synthetic_gbm [--out PATH]
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_OUT = Path(__file__).parent / "data" / "gbm_data.csv"
SEED = 2034
N_SAMPLES = 99  # rows generated, malformed ones included, as in the real export

# Expression columns in file order: the five tutorial features are mixed in
# with glioma driver genes and other lncRNA/pseudogene-like names.
GENES = [
    "EGFR",
    "PTEN",
    "TP53",
    "LINC00159",
    "IDH1",
    "NF1",
    "PDGFRA",
    "CDKN2A",
    "EFTUD1P1",
    "MGMT",
    "PIK3CA",
    "RB1",
    "ATRX",
    "C20orf202",
    "CDK4",
    "MDM2",
    "SOX2",
    "OLIG2",
    "GFAP",
    "KRT17P8",
    "VIM",
    "CHI3L1",
    "MALAT1",
    "NEAT1",
    "RPL7L1P9",
    "LINC01088",
    "HNRNPA1P48",
    "RPS26P11",
    "MIR4435-2HG",
    "TERT",
]

# Shift of the smokers' mean, in units of the gene's own SD. Only these genes
# carry signal; every other column is noise around its gene mean.
SMOKING_EFFECT_SD = {"LINC00159": 1.0, "C20orf202": -0.9, "KRT17P8": 0.8}

# Genes that share one latent factor (loading), giving them some correlation.
SHARED_FACTOR_LOADING = {
    "LINC00159": 0.5,
    "EFTUD1P1": 0.4,
    "KRT17P8": 0.35,
    "RPL7L1P9": -0.45,
    "EGFR": 0.3,
    "CHI3L1": 0.3,
}

# About a quarter smokers, as in the study's export (and most clinical cohorts).
SMOKING_HISTORY_PROBS = {
    "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime": 0.75,
    "Current smoker: Includes daily and non-daily smokers": 0.14,
    "Current reformed smoker within past 15 years": 0.06,
    "Current reformed smoker, more than 15 years": 0.05,
}
NON_SMOKER = "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime"
TUMOR_SITES = ["Frontal lobe", "Temporal lobe", "Parietal lobe", "Occipital lobe"]

N_MISSING_SMOKING = 8
N_MISSING_AGE = 3
GENE_WITH_MISSING_VALUES = "EFTUD1P1"
N_MISSING_GENE = 2
# Lines written cut short (their last field lost), as a broken export leaves
# them: the loader skips them and the cleaning report names their lines.
N_TRUNCATED_LINES = 4


def make_patient_ids(rng: np.random.Generator, n: int) -> list[str]:
    numbers = rng.choice(np.arange(1, 4000), size=n, replace=False)
    prefixes = rng.choice(["C3L", "C3N"], size=n, p=[0.6, 0.4])
    return sorted(f"{p}-{k:05d}" for p, k in zip(prefixes, numbers, strict=True))


def make_smoking_history(rng: np.random.Generator, n: int) -> np.ndarray:
    categories = list(SMOKING_HISTORY_PROBS)
    probs = list(SMOKING_HISTORY_PROBS.values())
    return rng.choice(categories, size=n, p=probs)


def make_expression(
    rng: np.random.Generator,
    is_smoker: np.ndarray,
    parameters: dict | None = None,
) -> pd.DataFrame:
    """Expression columns; the drawn per-gene parameters go into `parameters`."""
    n = len(is_smoker)
    shared = rng.standard_normal(n)
    columns = {}
    for gene in GENES:
        mean = rng.uniform(1.5, 10.5)
        sd = rng.uniform(0.6, 1.8)
        loading = SHARED_FACTOR_LOADING.get(gene, 0.0)
        if parameters is not None:
            effect = SMOKING_EFFECT_SD.get(gene, 0.0)
            parameters[gene] = {"mean": mean, "sd": sd, "loading": loading}
            parameters[gene]["effect"] = effect
        noise = rng.standard_normal(n)
        z = loading * shared + np.sqrt(1 - loading**2) * noise
        z = z + SMOKING_EFFECT_SD.get(gene, 0.0) * is_smoker
        columns[gene] = np.clip(mean + sd * z, 0.0, 14.0).round(4)
    return pd.DataFrame(columns)


def make_clinical(rng: np.random.Generator, smoking: np.ndarray) -> pd.DataFrame:
    n = len(smoking)
    patient_ids = make_patient_ids(rng, n)
    age = np.clip(rng.normal(58, 12, size=n), 21, 88).round().astype(int)
    return pd.DataFrame(
        {
            "PATIENT_ID": patient_ids,
            # one tumour sample per patient, as in the CPTAC study
            "SAMPLE_ID": patient_ids,
            "AGE": pd.array(age, dtype="Int64"),
            "SEX": rng.choice(["Male", "Female"], size=n, p=[0.6, 0.4]),
            "SMOKING_HISTORY": pd.array(smoking, dtype=object),
            "TUMOR_SITE": rng.choice(TUMOR_SITES, size=n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def punch_holes(rng: np.random.Generator, gbm: pd.DataFrame) -> pd.DataFrame:
    """Blank out a few values so the cleaning steps have something to drop."""
    gbm = gbm.copy()
    rows = rng.permutation(len(gbm))
    no_smoking = rows[:N_MISSING_SMOKING]
    no_gene = rows[N_MISSING_SMOKING : N_MISSING_SMOKING + N_MISSING_GENE]
    no_age = rng.choice(len(gbm), size=N_MISSING_AGE, replace=False)
    gbm.loc[no_smoking, "SMOKING_HISTORY"] = None
    gbm.loc[no_gene, GENE_WITH_MISSING_VALUES] = np.nan
    gbm.loc[no_age, "AGE"] = pd.NA
    gbm.attrs["truncated_rows"] = sorted(
        rng.choice(len(gbm), size=N_TRUNCATED_LINES, replace=False).tolist()
    )
    return gbm


def make_synthetic_gbm(
    seed: int = SEED, n: int = N_SAMPLES, parameters: dict | None = None
) -> pd.DataFrame:
    """The synthetic table; pass a dict as `parameters` to receive each
    gene's drawn mean, SD, shared-factor loading and smoking effect."""
    rng = np.random.default_rng(seed)
    smoking = make_smoking_history(rng, n)
    is_smoker = (smoking != NON_SMOKER).astype(float)
    expression = make_expression(rng, is_smoker, parameters)
    clinical = make_clinical(rng, smoking)
    return punch_holes(rng, pd.concat([expression, clinical], axis=1))


# ---------------------------------------------------------------- the ceiling
# Expression values are clipped to this range, as in make_expression.
CLIP_RANGE = (0.0, 14.0)


def gene_parameters(seed: int = SEED, n: int = N_SAMPLES) -> pd.DataFrame:
    """Each gene's drawn mean and SD (log2 units), shared-factor loading and
    smoking effect (in SDs), replayed from the generator itself."""
    parameters: dict = {}
    make_synthetic_gbm(seed, n, parameters)
    return pd.DataFrame.from_dict(parameters, orient="index")


def smoker_prior() -> float:
    """P(smoker) among labelled samples: missing histories are punched at
    random, so they do not change it."""
    return 1.0 - SMOKING_HISTORY_PROBS[NON_SMOKER]


def _check_generated(genes: list[str]) -> None:
    unknown = [gene for gene in genes if gene not in GENES]
    if unknown:
        raise ValueError(
            f"No generator parameters for {', '.join(unknown)}: the ceiling "
            "exists only for genes of the synthetic table "
            f"(make_synthetic_gbm.GENES), e.g. {', '.join(GENES[:3])}."
        )


def within_class_covariance(loading: np.ndarray) -> np.ndarray:
    """Covariance of the standardised genes within either class: the shared
    factor's loadings off the diagonal, 1 on it (as make_expression draws)."""
    return np.outer(loading, loading) + np.diag(1 - loading**2)


# --8<-- [start:class_distance]
def class_distance(genes) -> float:
    """Mahalanobis distance between the smokers' and the non-smokers' mean
    in the generator's model: the gap between the two class means, measured
    in standard deviations along the direction that separates them best."""
    params = gene_parameters().loc[list(genes)]
    # The smokers' mean minus the others', in standard deviations:
    shift = params["effect"].to_numpy()
    covariance = within_class_covariance(params["loading"].to_numpy())
    # delta^2 = shift' covariance^-1 shift
    return float(np.sqrt(shift @ np.linalg.solve(covariance, shift)))


# --8<-- [end:class_distance]


def draw_standardised(
    genes, n: int, rng: np.random.Generator, prior: float
) -> tuple[np.ndarray, np.ndarray]:
    """n new samples from the generator's own model on `genes`: the class
    (smoker with probability `prior`) and the standardised values z, before
    clipping (a gene's value is its mean + SD * z)."""
    params = gene_parameters().loc[list(genes)]
    covariance = within_class_covariance(params["loading"].to_numpy())
    smoker = rng.random(n) < prior
    z = rng.multivariate_normal(np.zeros(len(params)), covariance, size=n)
    return smoker, z + np.outer(smoker, params["effect"].to_numpy())


def sample_expression(genes, n: int, seed: int = 0) -> pd.DataFrame:
    """n new samples of `genes` from the model that made the shipped table (its
    drawn means and SDs, the shared factor, the smoking effects, the share of
    smokers, the clipping), in log2 units, with their smoking status."""
    genes = list(genes)
    _check_generated(genes)
    params = gene_parameters().loc[genes]
    smoker, z = draw_standardised(genes, n, np.random.default_rng(seed), smoker_prior())
    values = params["mean"].to_numpy() + params["sd"].to_numpy() * z
    frame = pd.DataFrame(np.clip(values, *CLIP_RANGE), columns=genes)
    return frame.assign(smoker=smoker.astype(int))


def _log_likelihood(z, censored, low, high, mean, cov):
    """log p(observed | class) of standardised values z, where censored[i, j]
    is -1/+1 when gene j was clipped at the low/high end, else 0.

    Clipped values only say "at or beyond the bound": their likelihood is
    the probability of that tail, given the unclipped genes."""
    out = np.empty(len(z))
    # Rows grouped by which genes were clipped, each pattern read as one base-3
    # number: sorting those is much quicker than sorting the rows themselves.
    codes = (censored + 1) @ 3 ** np.arange(censored.shape[1])
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        pattern = censored[rows[0]]
        cut, kept = np.flatnonzero(pattern), np.flatnonzero(pattern == 0)
        zk = z[np.ix_(rows, kept)]
        out[rows] = (
            stats.multivariate_normal(mean[kept], cov[np.ix_(kept, kept)]).logpdf(zk)
            if len(kept)
            else 0.0
        )
        if not len(cut):
            continue
        # The clipped genes given the kept ones: a conditional normal.
        gain = cov[np.ix_(cut, kept)] @ np.linalg.inv(cov[np.ix_(kept, kept)])
        cond_mean = mean[cut] + (zk - mean[kept]) @ gain.T
        cond_cov = cov[np.ix_(cut, cut)] - gain @ cov[np.ix_(kept, cut)]
        # Flip genes clipped at the top so every tail reads "w <= bound".
        sign = -pattern[cut].astype(float)
        bound = np.where(pattern[cut] < 0, low[cut], high[cut]) * sign
        upper = bound - cond_mean * sign
        if len(cut) == 1:
            out[rows] += stats.norm.logcdf(upper[:, 0] / np.sqrt(cond_cov[0, 0]))
        else:
            flipped = cond_cov * np.outer(sign, sign)
            tail = stats.multivariate_normal(np.zeros(len(cut)), flipped)
            out[rows] += np.log(np.atleast_1d(tail.cdf(upper)))
    return out


@functools.lru_cache(maxsize=4)
def _class_log_likelihoods(genes: tuple[str, ...], n_draws: int, seed: int, clip: bool):
    """n_draws samples x from the generator's model, about half from each
    class: their class, log p(x | non-smoker) and log p(x | smoker) (as
    observed: clipped unless clip=False)."""
    params = gene_parameters().loc[list(genes)]
    effect = params["effect"].to_numpy()
    cov = within_class_covariance(params["loading"].to_numpy())
    low = (CLIP_RANGE[0] - params["mean"].to_numpy()) / params["sd"].to_numpy()
    high = (CLIP_RANGE[1] - params["mean"].to_numpy()) / params["sd"].to_numpy()
    if not clip:
        low, high = np.full(len(genes), -np.inf), np.full(len(genes), np.inf)
    smoker, z = draw_standardised(genes, n_draws, np.random.default_rng(seed), 0.5)
    censored = np.where(z <= low, -1, np.where(z >= high, 1, 0))
    z = np.clip(z, low, high)
    return (
        smoker,
        _log_likelihood(z, censored, low, high, 0 * effect, cov),
        _log_likelihood(z, censored, low, high, effect, cov),
    )


def bayes_accuracy(
    genes,
    n_draws: int = 200_000,
    seed: int = 0,
    clip: bool = True,
    prior: float | None = None,
) -> tuple[float, float]:
    """Monte Carlo estimate (and its standard error) of the best accuracy
    any classifier can reach on `genes` of the synthetic table, when a
    share `prior` of the samples are smokers (default: the generator's).
    With prior=0.5 it is the best *balanced* accuracy at any share of smokers
    (balanced accuracy weighs the two classes equally).

    Draws samples from the generator's own model (standardised genes normal
    with the class's mean shift and the shared factor's covariance; clipped
    to CLIP_RANGE unless clip=False), and averages the Bayes classifier's
    probability of being right, max_c P(c | x), computed exactly from those
    parameters: over the smokers' draws and the others' separately, weighed
    by the prior (so one set of draws serves every prior). The gene means
    and SDs matter only through the clipping; rounding to 4 decimals is
    ignored (it moves values by at most 0.00005 log2 units).
    """
    genes = tuple(genes)
    _check_generated(list(genes))
    prior = smoker_prior() if prior is None else prior
    smoker, log_p0, log_p1 = _class_log_likelihoods(genes, n_draws, seed, clip)
    log_joint = np.stack([np.log1p(-prior) + log_p0, np.log(prior) + log_p1])
    right = np.exp(log_joint.max(axis=0) - np.logaddexp(*log_joint))
    estimate, variance = 0.0, 0.0
    for weight, draws in [(prior, right[smoker]), (1 - prior, right[~smoker])]:
        estimate += weight * draws.mean()
        variance += weight**2 * draws.var() / len(draws)
    return float(estimate), float(np.sqrt(variance))


def generated(genes) -> bool:
    """Whether the generator describes the tutorials' data on `genes`: the table
    they read is the shipped synthetic one and the genes are the generator's.
    Nobody knows the generator of real data."""
    from tutorial_code.data_paths import SHIPPED_DATA, data_path

    shipped = data_path().resolve() == SHIPPED_DATA.resolve()
    return shipped and all(gene in GENES for gene in genes)


def known_ceiling(genes: list[str]) -> float | None:
    """The best accuracy any classifier can expect on the table the tutorials
    read, at the generator's share of smokers, when the generator describes
    it (see `generated`); None otherwise."""
    return bayes_accuracy(genes)[0] if generated(genes) else None


def known_balanced_ceiling(genes: list[str]) -> float | None:
    """The best balanced accuracy any classifier can expect on the table the
    tutorials read (see `bayes_accuracy`), when the generator describes it;
    None otherwise."""
    return bayes_accuracy(genes, prior=0.5)[0] if generated(genes) else None


def show_ceiling() -> None:
    """The ceiling as the data page shows it."""
    # --8<-- [start:ceiling]
    from scipy.stats import norm

    from tutorial_code.data_paths import feature_genes
    from tutorial_code.make_synthetic_gbm import (
        bayes_accuracy,
        class_distance,
        generated,
        smoker_prior,
    )

    # From the generator's own parameters, not from the rows we have.
    genes = feature_genes()
    if generated(genes):  # the shipped table, on genes the generator made
        delta = class_distance(genes)
        balanced_unclipped = norm.cdf(delta / 2)
        balanced_ceiling, _ = bayes_accuracy(genes, prior=0.5)
        smokers = smoker_prior()  # the generator's share of smokers
        accuracy_ceiling, _ = bayes_accuracy(genes, prior=smokers)
        majority = max(smokers, 1 - smokers)
        ceilings = {
            "distance between the class means": delta,
            "best balanced accuracy, no clipping": balanced_unclipped,
            "best balanced accuracy": balanced_ceiling,
            f"best accuracy at {smokers:.0%} smokers": accuracy_ceiling,
            "always answering the larger class": majority,
        }
        for name, value in ceilings.items():
            print(f"{name:<37} {value:.3f}")
    else:  # a table of your own: nobody knows its generator
        delta = balanced_ceiling = accuracy_ceiling = None
        print("best possible accuracy: unknown (not the synthetic table)")
    # --8<-- [end:ceiling]


def write_csv(gbm: pd.DataFrame, out: Path) -> None:
    """The table as CSV, with the rows in attrs["truncated_rows"] cut short."""
    # fixed line ending so the file is byte-identical on every platform
    lines = gbm.to_csv(index=False, lineterminator="\n").split("\n")
    for row in gbm.attrs.get("truncated_rows", []):
        lines[row + 1] = lines[row + 1].rsplit(",", 1)[0]  # line 1 is the header
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8", newline="")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="print the best accuracy the table allows instead of writing it",
    )
    args = parser.parse_args(argv)
    if args.ceiling:
        show_ceiling()
        return
    gbm = make_synthetic_gbm()
    write_csv(gbm, args.out)
    print(f"wrote {len(gbm)} rows x {gbm.shape[1]} columns to {args.out}")


if __name__ == "__main__":
    main()

"""Variational autoencoders on the feature genes.

A VAE encodes each sample as a normal distribution over a two-number code and
is trained with a reconstruction term plus β times a KL term. This module
trains it for several β, compares each latent dimension's KL with what the
linear theory predicts, generates new samples from the prior (next to the
plain autoencoder's decoder), interpolates between samples, and compares a
classifier head on its means with PCA and logistic regression on repeated
splits. It builds on tutorial_code/autoencoders.py.

The page shows each group of imports where it is first needed; the
`# isort: split` lines keep the groups apart when the imports are sorted.
"""

# --8<-- [start:imports_model]
import torch
from torch import nn

from tutorial_code.autoencoders import (
    HIDDEN,
    LATENT_DIM,
    reconstruction_error,
)

# --8<-- [end:imports_model]
# isort: split
# --8<-- [start:imports_training]
from functools import partial

import pandas as pd

from tutorial_code.classifier import (
    EPOCHS,
    SEED,
    loss_figure,
    set_seed,
    train,
)
from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    select_features,
    split_and_scale,
)

# --8<-- [end:imports_training]
# isort: split
# --8<-- [start:imports_beta]
import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from tutorial_code.autoencoders import codes, mean_prediction_error
from tutorial_code.classifier import plot_sample

# --8<-- [end:imports_beta]
# isort: split
# --8<-- [start:imports_generate]
from plotly.subplots import make_subplots

from tutorial_code.autoencoders import fit_autoencoder

# --8<-- [end:imports_generate]
# isort: split
# --8<-- [start:imports_heads]
from tutorial_code.autoencoders import (
    fit_code_classifier,
    fit_pca,
    heads_side_by_side,
    model_encoder,
    pca_encoder,
)
from tutorial_code.classifier import majority_class, predict
from tutorial_code.evaluation import (
    describe_ceiling,
    evaluate_repeatedly,
    logistic_regression,
    metrics_with_intervals,
    paired_differences,
    paired_figure,
    repeated_splits,
    summarise,
)
from tutorial_code.make_synthetic_gbm import (
    known_balanced_ceiling,
    known_ceiling,
)

# --8<-- [end:imports_heads]
# isort: split
# --8<-- [start:imports_side_by_side]
from tutorial_code.evaluation import train_many

# --8<-- [end:imports_side_by_side]
# isort: split
from tutorial_code.gbm_data import run_as_script

# --8<-- [start:settings]
BETAS = (0.1, 1.0, 4.0)
N_GENERATED = 1000  # samples drawn from the trained VAE
# The decoder's noise variance that makes the summed squared error a
# Gaussian negative log-likelihood (see the page): 1/2 per gene.
DECODER_VARIANCE = 0.5
# --8<-- [end:settings]


# --8<-- [start:vae]
def reparameterise(mu, logvar, generator=None) -> torch.Tensor:
    """z = mu + sigma * eps, with eps drawn from N(0, I)."""
    sigma = torch.exp(0.5 * logvar)
    eps = torch.randn(sigma.shape, generator=generator)
    return mu + sigma * eps


class VAE(nn.Module):
    """Encode each sample as a normal distribution (mean, log-variance)
    over the code; decode a code back to the genes."""

    def __init__(
        self,
        n_features: int,
        latent_dim: int = LATENT_DIM,
        hidden: int = HIDDEN,
    ):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
        )
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_features),
        )

    def encode(self, x: torch.Tensor):
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        # Sample while training; in eval mode decode the mean, so
        # results are deterministic.
        if self.training:
            z = reparameterise(mu, logvar)
        else:
            z = mu
        return self.decoder(z), mu, logvar


# --8<-- [end:vae]


# --8<-- [start:vae_loss]
def kl_to_standard_normal(mu, logvar) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)): summed over the latent dimensions,
    averaged over the samples."""
    per_dim = -0.5 * (1 + logvar - mu**2 - logvar.exp())
    return per_dim.sum(dim=1).mean()


def vae_terms(model: VAE, batch, beta: float = 1.0):
    """(loss, reconstruction, KL) from one forward pass: rec + β·KL."""
    x, _ = batch
    x_hat, mu, logvar = model(x)
    reconstruction = reconstruction_error(x_hat, x)
    kl = kl_to_standard_normal(mu, logvar)
    return reconstruction + beta * kl, reconstruction, kl


def vae_loss(model: VAE, batch, beta: float = 1.0) -> torch.Tensor:
    return vae_terms(model, batch, beta)[0]


def vae_scores(model: VAE, batch, beta: float = 1.0) -> dict:
    """The loss and its two terms in evaluation mode (decoding mu), and
    the sampled objective: the loss with z drawn from each sample's
    distribution, as the optimiser saw it in training."""
    model.eval()
    with torch.no_grad():
        loss, reconstruction, kl = vae_terms(model, batch, beta)
        x, _ = batch
        mu, logvar = model.encode(x)
        # Its own generator: the global random numbers stay untouched.
        fixed = torch.Generator().manual_seed(0)
        z = reparameterise(mu, logvar, generator=fixed)
        sampled = reconstruction_error(model.decoder(z), x) + beta * kl
    return {
        "loss": loss.item(),
        "reconstruction": reconstruction.item(),
        "kl": kl.item(),
        "sampled loss": sampled.item(),
    }


# --8<-- [end:vae_loss]


# --8<-- [start:fit_vae]
def fit_vae(
    split,
    beta: float = 1.0,
    seed: int = SEED,
    epochs: int = EPOCHS,
    record: bool = True,
):
    """Build and train a VAE with the given β; the history records the
    training and test loss (record=False: nothing)."""
    set_seed(seed)
    model = VAE(n_features=split.X_train.shape[1])
    history = train(
        model,
        partial(vae_loss, beta=beta),
        train_batch=(split.X_train, split.y_train),
        test_batch=(split.X_test, split.y_test),
        epochs=epochs,
        seed=seed,
        record=record,
    )
    return model, history


# --8<-- [end:fit_vae]


# --8<-- [start:collapse_rule]
def variances_by_direction(x: torch.Tensor) -> np.ndarray:
    """Eigenvalues of the covariance of x, largest first: the variance
    of the data along each of its principal directions."""
    cov = np.cov(x.numpy(), rowvar=False, bias=True)
    return np.linalg.eigvalsh(cov)[::-1]


def linear_vae_kl(
    variances: np.ndarray, beta: float, latent_dim: int = LATENT_DIM
) -> np.ndarray:
    """The KL of each latent dimension of the best *linear* VAE, largest
    first: ½ ln(λ / (β/2)) for the latent_dim largest variances λ, and 0
    where λ ≤ β/2 (that dimension is left at the prior)."""
    top = np.sort(variances)[::-1][:latent_dim]
    return np.maximum(0.5 * np.log(top / (beta / 2)), 0.0)


def kl_per_dimension(model: VAE, x: torch.Tensor) -> np.ndarray:
    """Average KL to the prior of each latent dimension, largest first
    (the dimensions are interchangeable: only their order differs)."""
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encode(x)
    per_dim = -0.5 * (1 + logvar - mu**2 - logvar.exp())
    return np.sort(per_dim.mean(dim=0).numpy())[::-1]


def kl_against_theory(model: VAE, x: torch.Tensor, beta: float) -> dict:
    """Each latent dimension's KL next to the linear theory's, largest
    first, for one trained VAE."""
    kl = kl_per_dimension(model, x)
    theory = linear_vae_kl(variances_by_direction(x), beta, len(kl))
    row = {}
    for k in range(len(kl)):
        row[f"KL {k + 1}"] = kl[k]
        row[f"theory {k + 1}"] = theory[k]
    return row


def follows_theory(
    table: pd.DataFrame,
    absolute: float = 0.05,
    relative: float = 0.5,
) -> bool:
    """Whether every dimension in a table of kl_against_theory rows has a
    KL within `absolute` of the theory's, or within `relative` times the
    theory's KL where that is the larger margin."""
    for k in range(1, LATENT_DIM + 1):
        kl, theory = table[f"KL {k}"], table[f"theory {k}"]
        margin = np.maximum(absolute, relative * theory)
        if ((kl - theory).abs() > margin).any():
            return False
    return True


# --8<-- [end:collapse_rule]


# --8<-- [start:latent_frame]
def latent_frame(model: nn.Module, split) -> pd.DataFrame:
    """Every sample's code (mu), with its smoking status."""
    x = torch.cat([split.X_train, split.X_test])
    y = torch.cat([split.y_train, split.y_test]).numpy()
    z = codes(model, x).numpy()
    status = np.where(y == 1, "smoker", "non-smoker")
    return pd.DataFrame(
        {
            "z1": z[:, 0],
            "z2": z[:, 1],
            "Smoking status": status,
        }
    )


def code_spread(latents: pd.DataFrame, beta: float) -> float:
    """How widely the codes of one β spread: the square root of their
    total variance."""
    z = latents.loc[latents["beta"] == beta, ["z1", "z2"]]
    return float(np.sqrt(z.var().sum()))


def class_gap(latents: pd.DataFrame, beta: float) -> float:
    """The distance between the smokers' and the non-smokers' average
    code, for one β (0 if a class is missing)."""
    rows = latents[latents["beta"] == beta]
    means = rows.groupby("Smoking status")[["z1", "z2"]].mean()
    if len(means) < 2:
        return 0.0
    return float(np.linalg.norm(means.iloc[0] - means.iloc[1]))


# --8<-- [end:latent_frame]


# --8<-- [start:generate]
def decode_prior_draws(model: nn.Module, n: int, seed: int = SEED):
    """Decode n codes drawn from N(0, I): the decoder's means, no noise.
    Works for any model with a `decoder` whose first layer is Linear."""
    g = torch.Generator().manual_seed(seed)
    latent_dim = model.decoder[0].in_features
    z = torch.randn(n, latent_dim, generator=g)
    model.eval()
    with torch.no_grad():
        return model.decoder(z)


def generate(model: VAE, n: int, seed: int = SEED) -> torch.Tensor:
    """n new samples: codes from the prior N(0, I), decoded, plus the
    decoder's own noise (variance DECODER_VARIANCE per gene)."""
    means = decode_prior_draws(model, n, seed)
    g = torch.Generator().manual_seed(seed + 1)  # other draws for the noise
    noise = torch.randn(means.shape, generator=g)
    return means + DECODER_VARIANCE**0.5 * noise


def interpolate(
    model: nn.Module,
    x_a: torch.Tensor,
    x_b: torch.Tensor,
    steps: int = 11,
) -> torch.Tensor:
    """Decode evenly spaced points on the line from the code of x_a to
    the code of x_b."""
    model.eval()
    with torch.no_grad():
        z_a, z_b = model.code(x_a[None]), model.code(x_b[None])
        t = torch.linspace(0, 1, steps)[:, None]
        return model.decoder((1 - t) * z_a + t * z_b)


# --8<-- [end:generate]


# --8<-- [start:prior_check]
def prior_check(model: nn.Module, x: torch.Tensor) -> dict:
    """Where a model's codes for x lie, and how widely its decoder's
    outputs for codes drawn from N(0, I) spread compared with its
    reconstructions of x (mean over genes of the ratio of their SDs:
    near 1 when N(0, I) covers what the samples' codes cover)."""
    z = codes(model, x)
    with torch.no_grad():
        rebuilt = model.decoder(z)
    drawn = decode_prior_draws(model, N_GENERATED)
    ratio = (drawn.std(dim=0) / rebuilt.std(dim=0)).mean().item()
    return {
        "largest |code mean|": z.mean(dim=0).abs().max().item(),
        "smallest code SD": z.std(dim=0).min().item(),
        "largest code SD": z.std(dim=0).max().item(),
        "spread of prior draws / reconstructions": ratio,
    }


def path_steps(path: torch.Tensor) -> dict:
    """How a decoded path moves: its largest change of any gene from one
    end to the other, and between neighbouring points, and their ratio
    times the number of steps (1 for an evenly paced straight line)."""
    change = (path[-1] - path[0]).abs().max().item()
    step = path.diff(dim=0).abs().max().item()
    return {
        "end-to-end change": change,
        "largest step": step,
        "unevenness": step * (len(path) - 1) / change,
    }


# --8<-- [end:prior_check]


# --8<-- [start:pair_figure]
def pair_figure(frame: pd.DataFrame, columns: list, by: str, title: str):
    """A scatter plot of every pair of columns (lower triangle), one
    colour per value of `by`."""
    n = len(columns) - 1
    fig = make_subplots(
        rows=n,
        cols=n,
        shared_xaxes="columns",  # one x range per column of panels
        shared_yaxes="rows",
        horizontal_spacing=0.02,
        vertical_spacing=0.02,
    )
    colours = px.colors.qualitative.Plotly
    for g, (group, rows) in enumerate(frame.groupby(by, sort=False)):
        for i in range(1, n + 1):  # row i: columns[i] on the y axis
            for j in range(i):  # column j: columns[j] on the x axis
                fig.add_trace(
                    go.Scatter(
                        x=rows[columns[j]],
                        y=rows[columns[i]],
                        mode="markers",
                        marker={
                            "size": 3,
                            "opacity": 0.6,
                            "color": colours[g],
                        },
                        name=str(group),
                        legendgroup=str(group),
                        showlegend=(i, j) == (1, 0),
                    ),
                    row=i,
                    col=j + 1,
                )
    for k in range(n):
        fig.update_xaxes(title_text=columns[k], row=n, col=k + 1)
        fig.update_yaxes(title_text=columns[k + 1], row=k + 1, col=1)
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=720,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


# --8<-- [end:pair_figure]


# --8<-- [start:one_per_split]
def fit_vaes(splits: list, beta: float = 1.0, epochs: int = EPOCHS) -> list:
    """One VAE per split: VAE k learns split k, with seed k."""
    vaes = []
    for k, split in enumerate(splits):
        vae, _ = fit_vae(split, beta, seed=k, epochs=epochs, record=False)
        vaes.append(vae)
    return vaes


# --8<-- [end:one_per_split]


# --8<-- [start:side_by_side]
def fit_vaes_side_by_side(splits: list, beta: float = 1.0, epochs=EPOCHS):
    """fit_vaes, with the VAEs trained side by side: each starts from the
    weights fit_vae(split, beta, seed=k) starts from and takes the same
    kind of steps, but draws its own z at each step (repeatable, not the
    draws fit_vae makes)."""
    vaes = []
    for k, split in enumerate(splits):
        set_seed(k)
        vaes.append(VAE(n_features=split.X_train.shape[1]))
    batches = [(s.X_train, s.y_train) for s in splits]
    train_many(vaes, partial(vae_loss, beta=beta), batches, epochs)
    return vaes


# --8<-- [end:side_by_side]


def main():
    # --8<-- [start:solution_kl_by_hand]
    import math

    mu = torch.tensor([[1.0, 0.0]])  # one sample, two dimensions
    logvar = torch.log(torch.tensor([[1.0, 0.25]]))  # σ² = 1 and 1/4
    kl = kl_to_standard_normal(mu, logvar)
    print(f"kl_to_standard_normal: {kl.item():.4f}")
    dim_1 = -0.5 * (1 + math.log(1.0) - 1.0**2 - 1.0)  # μ = 1, σ² = 1
    dim_2 = -0.5 * (1 + math.log(0.25) - 0.0**2 - 0.25)  # μ = 0, σ² = 1/4
    print(f"by hand: {dim_1:.4f} + {dim_2:.4f} = {dim_1 + dim_2:.4f}")
    # --8<-- [end:solution_kl_by_hand]

    # --8<-- [start:data]
    # Our tensors are tiny: extra CPU threads cost more than they save.
    torch.set_num_threads(1)
    genes = feature_genes()
    gbm = label_smoking_status(load_gbm())
    X, y = select_features(gbm, genes)
    split = split_and_scale(X, y)
    n_train, n_genes = split.X_train.shape
    n_test = len(split.X_test)
    print(f"training: {n_train} samples, test: {n_test}, genes: {n_genes}")
    # --8<-- [end:data]

    # --8<-- [start:train_vae]
    vae, vae_history = fit_vae(split, beta=1.0)
    fig = loss_figure(vae_history, "VAE loss (β = 1) vs. epoch")
    fig.show()
    # --8<-- [end:train_vae]

    # --8<-- [start:sampled_loss]
    train_batch = (split.X_train, split.y_train)
    test_batch = (split.X_test, split.y_test)
    last = pd.DataFrame(
        {
            "training": vae_scores(vae, train_batch),
            "test": vae_scores(vae, test_batch),
        }
    )
    print(last.round(3).to_string())
    # --8<-- [end:sampled_loss]

    # --8<-- [start:beta_sweep]
    # β = 1 is the VAE trained above; the others are trained the same way.
    vae_runs = {
        beta: (vae, vae_history) if beta == 1.0 else fit_vae(split, beta)
        for beta in BETAS
    }
    variances = variances_by_direction(split.X_train)
    print("variance along each principal direction:", variances.round(2))
    rows = {}
    for beta, (model, _) in vae_runs.items():
        test_scores = vae_scores(model, test_batch, beta)
        rows[beta] = {
            "test rec.": test_scores["reconstruction"],
            "test KL": test_scores["kl"],
            **kl_against_theory(model, split.X_train, beta),
        }
    beta_table = pd.DataFrame(rows).T.rename_axis("β")
    print(beta_table.round(3).to_string())
    baseline = mean_prediction_error(split.X_test)
    print(f"test error of predicting the mean: {baseline:.3f}")
    # --8<-- [end:beta_sweep]

    # --8<-- [start:solution_one_dimension]
    one_left = {}
    for beta in (2.0, 2.5):
        model, _ = fit_vae(split, beta, record=False)
        one_left[beta] = kl_against_theory(model, split.X_train, beta)
    one_left = pd.DataFrame(one_left).T.rename_axis("β")
    print(one_left.round(3).to_string())
    # --8<-- [end:solution_one_dimension]

    # --8<-- [start:beta_loss_plot]
    fig = go.Figure()
    for i, (beta, (_, history)) in enumerate(vae_runs.items()):
        color = px.colors.qualitative.Plotly[i]  # one colour per β
        epochs = list(range(1, len(history["train_loss"]) + 1))
        for part, label, dash in (
            ("train", "Training", "solid"),
            ("test", "Test", "dot"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=history[f"{part}_loss"],
                    mode="lines",
                    line={"color": color, "dash": dash},
                    name=f"{label}, β = {beta:g}",
                )
            )
    fig.update_layout(
        title="VAE loss vs. epoch for each β",
        xaxis_title="Epoch",
        yaxis_title="Loss",
        template="plotly_white",
    )
    fig.show()
    # --8<-- [end:beta_loss_plot]

    # --8<-- [start:latent_plot]
    latents = pd.concat(
        [
            latent_frame(model, split).assign(beta=beta)
            for beta, (model, _) in vae_runs.items()
        ],
        ignore_index=True,
    )
    shown, sampled = plot_sample(latents, by=["beta", "Smoking status"])
    title = "VAE latent means (μ) by smoking status"
    if sampled:
        title += f" ({len(shown)} of {len(latents)} points)"
    fig = px.scatter(
        shown,
        x="z1",
        y="z2",
        color="Smoking status",
        category_orders={"Smoking status": ["non-smoker", "smoker"]},
        facet_col="beta",
        labels={"z1": "μ₁", "z2": "μ₂", "beta": "β"},
        title=title,
        template="plotly_white",
        height=480,
    )
    fig.show()
    # --8<-- [end:latent_plot]

    # --8<-- [start:generate_samples]
    generated = generate(vae, N_GENERATED)
    compare = pd.DataFrame(
        {
            "training mean": split.X_train.mean(dim=0),
            "generated mean": generated.mean(dim=0),
            "training SD": split.X_train.std(dim=0, correction=0),
            "generated SD": generated.std(dim=0, correction=0),
            "decoded means' SD": decode_prior_draws(vae, N_GENERATED).std(0),
        },
        index=genes,
    )
    print((compare.round(2) + 0.0).to_string())  # + 0.0: no "-0.0"
    # --8<-- [end:generate_samples]

    # --8<-- [start:generated_plot]
    # As many generated samples as real ones, so neither hides the other.
    both = pd.concat(
        [
            pd.DataFrame(split.X_train.numpy(), columns=genes).assign(
                Source="training sample"
            ),
            pd.DataFrame(generated[:n_train].numpy(), columns=genes).assign(
                Source="generated by the VAE"
            ),
        ],
        ignore_index=True,
    )
    shown, sampled = plot_sample(both, by="Source")
    title = f"{n_train} generated and {n_train} training samples"
    if sampled:
        title += f" ({len(shown)} of {len(both)} samples)"
    fig = pair_figure(shown, genes, by="Source", title=title)
    fig.show()
    # --8<-- [end:generated_plot]

    # --8<-- [start:solution_correlations]
    real = pd.DataFrame(split.X_train.numpy(), columns=genes).corr()
    fake = pd.DataFrame(generated.numpy(), columns=genes).corr()
    print("correlations of the training samples:")
    print(real.round(2).to_string())
    print("correlations of the generated samples:")
    print(fake.round(2).to_string())
    pairs = np.triu_indices(len(genes), k=1)  # each pair of genes once
    r_real, r_fake = real.to_numpy()[pairs], fake.to_numpy()[pairs]
    strong = np.abs(r_real) > 0.15  # clearly correlated in the data
    kept = int((np.sign(r_fake) == np.sign(r_real))[strong].sum())
    stronger = int((np.abs(r_fake) > np.abs(r_real))[strong].sum())
    weak = np.abs(r_real) < 0.1  # hardly correlated in the data
    invented = int((np.abs(r_fake) > 0.2)[weak].sum())
    print(f"{strong.sum()} pairs beyond ±0.15 in the data: {kept} keep")
    print(f"their sign, {stronger} come out stronger; {invented} of the")
    print(f"{weak.sum()} pairs below ±0.1 in the data are above 0.2.")
    # --8<-- [end:solution_correlations]

    # --8<-- [start:interpolate]
    # The two training samples at the ends of the first latent axis.
    mu = codes(vae, split.X_train)
    start, end = int(mu[:, 0].argmin()), int(mu[:, 0].argmax())
    ends = split.X_train[start], split.X_train[end]
    path = interpolate(vae, *ends).numpy()
    steps = np.linspace(0, 1, len(path))
    fig = go.Figure()
    for j, gene in enumerate(genes):
        fig.add_trace(
            go.Scatter(x=steps, y=path[:, j], mode="lines+markers", name=gene)
        )
    fig.update_layout(
        title="Decoded genes along a line between two samples' μ",
        xaxis_title="Position on the line (0 = first sample, 1 = second)",
        yaxis_title="Decoded value (standardised)",
        template="plotly_white",
    )
    fig.show()
    # --8<-- [end:interpolate]

    # --8<-- [start:against_autoencoder]
    # The plain autoencoder of the last page, trained on the same split.
    ae, _ = fit_autoencoder(split, record=False)
    both_models = {"autoencoder": ae, "VAE": vae}
    prior_fit = pd.DataFrame(
        {name: prior_check(m, split.X_train) for name, m in both_models.items()}
    )
    print(prior_fit.round(2).to_string())
    paths = pd.DataFrame(
        {
            name: path_steps(interpolate(model, *ends))
            for name, model in both_models.items()
        }
    )
    print(paths.round(2).to_string())
    # --8<-- [end:against_autoencoder]

    # --8<-- [start:vae_head]
    vae_head, vae_head_history = fit_code_classifier(model_encoder(vae), split)
    vae_pred = predict(vae_head, codes(vae, split.X_test))
    vae_table = metrics_with_intervals(split.y_test, vae_pred)
    print(vae_table.round(3).to_string(na_rep=""))
    # --8<-- [end:vae_head]

    # --8<-- [start:repeated]
    splits = repeated_splits(X, y)
    # The VAEs fit_vaes(splits) trains, side by side because that is
    # faster (see "Going further" above).
    vaes = fit_vaes_side_by_side(splits)
    pca_encoders = [pca_encoder(fit_pca(s)) for s in splits]
    vae_encoders = [model_encoder(v) for v in vaes]
    models = {
        "majority class": majority_class,
        "logistic regression": logistic_regression,
        # as head_on(pca_encoders) and head_on(vae_encoders), side by side
        "PCA head": heads_side_by_side(pca_encoders, splits),
        "VAE head": heads_side_by_side(vae_encoders, splits),
    }
    results = evaluate_repeatedly(models, splits)
    summary = summarise(results)[["accuracy", "balanced_accuracy"]]
    print(summary.round(3).to_string())
    pairs = [
        ("VAE head", "majority class"),
        ("VAE head", "PCA head"),
        ("VAE head", "logistic regression"),
    ]
    metrics = ("accuracy", "balanced_accuracy")
    differences = paired_differences(results, pairs, metrics)
    print(differences.round(3).to_string())
    # --8<-- [end:repeated]

    # --8<-- [start:paired_plot]
    # The best scores the synthetic generator allows (see the data page);
    # None unless the table is the synthetic one.
    ceiling = known_ceiling(genes)
    balanced_ceiling = known_balanced_ceiling(genes)
    title = f"Test balanced accuracy on {len(splits)} splits, paired by split"
    fig = paired_figure(results, title, "balanced_accuracy", balanced_ceiling)
    fig.show()
    print(describe_ceiling(ceiling))
    print(describe_ceiling(balanced_ceiling, "balanced accuracy"))
    # --8<-- [end:paired_plot]


if __name__ == "__main__":
    run_as_script(main)

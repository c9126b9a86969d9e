"""Variational autoencoders on the feature genes.

A VAE encodes each sample as a normal distribution over a two-number code and
is trained with a reconstruction term plus β times a KL term. This module
trains it for several β, checks when the code collapses, generates new
samples from the prior, interpolates between samples, and compares a
classifier head on its means with PCA and logistic regression on repeated
splits. It builds on tutorial_code/autoencoders.py.
"""

# --8<-- [start:imports]
from functools import partial

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import torch
from torch import nn

from tutorial_code.autoencoders import (
    HIDDEN,
    LATENT_DIM,
    codes,
    fit_code_classifier,
    fit_pca,
    head_on,
    model_encoder,
    pca_encoder,
    reconstruction_error,
)
from tutorial_code.classifier import (
    EPOCHS,
    SEED,
    loss_figure,
    plot_sample,
    predict,
    set_seed,
    train,
    train_many,
)
from tutorial_code.evaluation import (
    by_split,
    describe_ceiling,
    describe_head_to_head,
    evaluate_repeatedly,
    logistic_regression,
    metrics_with_intervals,
    paired_figure,
    repeated_splits,
    summarise,
)
from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    run_as_script,
    select_features,
    split_and_scale,
)
from tutorial_code.make_synthetic_gbm import known_ceiling

# --8<-- [end:imports]

# --8<-- [start:settings]
BETAS = (0.1, 1.0, 4.0)
N_GENERATED = 1000  # samples drawn from the trained VAE
# The decoder's noise variance that makes the summed squared error a
# Gaussian negative log-likelihood (see the page): 1/2 per gene.
DECODER_VARIANCE = 0.5
# --8<-- [end:settings]


# --8<-- [start:vae]
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

    @staticmethod
    def reparameterise(mu, logvar, generator=None):
        sigma = torch.exp(0.5 * logvar)
        eps = torch.randn(sigma.shape, generator=generator)
        return mu + sigma * eps

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        # Sample while training; in eval mode decode the mean, so
        # results are deterministic.
        if self.training:
            z = self.reparameterise(mu, logvar)
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
        z = model.reparameterise(mu, logvar, generator=fixed)
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


# --8<-- [start:fit_vaes]
def fit_vaes(splits: list, beta: float = 1.0, epochs: int = EPOCHS):
    """One VAE per split, trained side by side: VAE k on split k, from the
    weights fit_vae(split, beta, seed=k) starts from. Each VAE draws its
    own z at every step: repeatable, but not the draws fit_vae makes."""
    vaes = []
    for k, split in enumerate(splits):
        set_seed(k)
        vaes.append(VAE(n_features=split.X_train.shape[1]))
    batches = [(s.X_train, s.y_train) for s in splits]
    train_many(vaes, partial(vae_loss, beta=beta), batches, epochs)
    return vaes


# --8<-- [end:fit_vaes]


# --8<-- [start:collapse_rule]
def variances_by_direction(x: torch.Tensor) -> np.ndarray:
    """Eigenvalues of the covariance of x, largest first: the variance
    of the data along each of its principal directions."""
    cov = np.cov(x.numpy(), rowvar=False, bias=True)
    return np.linalg.eigvalsh(cov)[::-1]


def kl_per_dimension(model: VAE, x: torch.Tensor) -> np.ndarray:
    """Average KL to the prior of each latent dimension separately.
    A dimension with KL near 0 carries no information: it collapsed."""
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encode(x)
    per_dim = -0.5 * (1 + logvar - mu**2 - logvar.exp())
    return per_dim.mean(dim=0).numpy()


# --8<-- [end:collapse_rule]


# --8<-- [start:latent_frame]
def latent_frame(model: nn.Module, split) -> pd.DataFrame:
    """Every sample's mu, with its smoking status."""
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


# --8<-- [end:latent_frame]


# --8<-- [start:generate]
def generate(model: VAE, n: int, seed: int = SEED) -> torch.Tensor:
    """n new samples: codes from the prior N(0, I), decoded, plus the
    decoder's own noise (variance DECODER_VARIANCE per gene)."""
    g = torch.Generator().manual_seed(seed)
    latent_dim = model.to_mu.out_features
    z = torch.randn(n, latent_dim, generator=g)
    model.eval()
    with torch.no_grad():
        means = model.decoder(z)
    noise = torch.randn(means.shape, generator=g)
    return means + DECODER_VARIANCE**0.5 * noise


def interpolate(model: VAE, x_a, x_b, steps: int = 11) -> torch.Tensor:
    """Decode evenly spaced points on the line from mu(x_a) to mu(x_b)."""
    model.eval()
    with torch.no_grad():
        mu_a, mu_b = model.code(x_a[None]), model.code(x_b[None])
        t = torch.linspace(0, 1, steps)[:, None]
        return model.decoder((1 - t) * mu_a + t * mu_b)


# --8<-- [end:generate]


def main():
    # --8<-- [start:solution_kl_by_hand]
    ex_mu = torch.tensor([[1.0, 0.0]])  # one sample, two dimensions
    ex_logvar = torch.log(torch.tensor([[1.0, 0.25]]))  # σ² = 1 and 1/4
    ex_kl = kl_to_standard_normal(ex_mu, ex_logvar)
    print(f"kl_to_standard_normal: {ex_kl.item():.4f}")
    ex_dim1 = -0.5 * (1 + np.log(1.0) - 1.0**2 - 1.0)  # μ = 1, σ² = 1
    ex_dim2 = -0.5 * (1 + np.log(0.25) - 0.0**2 - 0.25)  # μ = 0, σ² = 1/4
    ex_sum = ex_dim1 + ex_dim2
    print(f"by hand: {ex_dim1:.4f} + {ex_dim2:.4f} = {ex_sum:.4f}")
    # --8<-- [end:solution_kl_by_hand]

    # --8<-- [start:data]
    # tiny tensors: extra threads cost more than they save
    torch.set_num_threads(1)
    genes = feature_genes()
    gbm = label_smoking_status(load_gbm())
    X, y = select_features(gbm, genes)
    split = split_and_scale(X, y)
    print("training:", tuple(split.X_train.shape))
    print("test:    ", tuple(split.X_test.shape))
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
    rows = []
    for beta, (model, _) in vae_runs.items():
        kl_dims = kl_per_dimension(model, split.X_train)
        test_scores = vae_scores(model, test_batch, beta)
        rows.append(
            {
                "beta": beta,
                "test rec.": test_scores["reconstruction"],
                "test KL": test_scores["kl"],
                "KL dim 1": kl_dims[0],
                "KL dim 2": kl_dims[1],
                "directions > β/2": int((variances > beta / 2).sum()),
            }
        )
    beta_table = pd.DataFrame(rows).set_index("beta")
    print(beta_table.round(3).to_string())
    # --8<-- [end:beta_sweep]

    # --8<-- [start:solution_one_dimension]
    ex_kl_dims = {}
    for ex_beta in (2.0, 2.5):
        ex_model, _ = fit_vae(split, ex_beta, record=False)
        ex_kl_dims[ex_beta] = kl_per_dimension(ex_model, split.X_train)
        ex_predicted = int((variances > ex_beta / 2).sum())
        print(
            f"β = {ex_beta}: directions > β/2: {ex_predicted},",
            f"KL per dimension: {ex_kl_dims[ex_beta].round(3)}",
        )
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
        },
        index=genes,
    )
    print(compare.round(2).to_string())
    # --8<-- [end:generate_samples]

    # --8<-- [start:generated_plot]
    # As many generated samples as real ones, so neither hides the other.
    n_real = len(split.X_train)
    both = pd.concat(
        [
            pd.DataFrame(split.X_train.numpy(), columns=genes).assign(
                Source="training sample"
            ),
            pd.DataFrame(generated[:n_real].numpy(), columns=genes).assign(
                Source="generated by the VAE"
            ),
        ],
        ignore_index=True,
    )
    shown, sampled = plot_sample(both, by="Source")
    title = f"{n_real} generated and {n_real} training samples"
    if sampled:
        title += f" ({len(shown)} of {len(both)} samples)"
    fig = px.scatter_matrix(
        shown,
        dimensions=genes,
        color="Source",
        title=title,
        template="plotly_white",
        height=720,
    )
    small = {"size": 3, "opacity": 0.6}
    fig.update_traces(diagonal_visible=False, marker=small)
    fig.show()
    # --8<-- [end:generated_plot]

    # --8<-- [start:solution_correlations]
    ex_real = pd.DataFrame(split.X_train.numpy(), columns=genes).corr()
    ex_fake = pd.DataFrame(generated.numpy(), columns=genes).corr()
    print("correlations of the training samples:")
    print(ex_real.round(2).to_string())
    print("correlations of the generated samples:")
    print(ex_fake.round(2).to_string())
    # --8<-- [end:solution_correlations]

    # --8<-- [start:interpolate]
    # The two training samples at the ends of the first latent axis.
    mu = codes(vae, split.X_train)
    start, end = int(mu[:, 0].argmin()), int(mu[:, 0].argmax())
    path = interpolate(vae, split.X_train[start], split.X_train[end]).numpy()
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

    # --8<-- [start:vae_head]
    vae_head, vae_head_history = fit_code_classifier(model_encoder(vae), split)
    vae_pred = predict(vae_head, codes(vae, split.X_test))
    vae_table = metrics_with_intervals(split.y_test, vae_pred)
    print(vae_table.round(3).to_string(na_rep=""))
    # --8<-- [end:vae_head]

    # --8<-- [start:repeated]
    splits = repeated_splits(X, y)
    vaes = fit_vaes(splits, beta=1.0)  # side by side
    pcas = [fit_pca(s) for s in splits]
    models = {
        "logistic regression": logistic_regression,
        "PCA head": head_on([pca_encoder(p) for p in pcas], splits),
        "VAE head": head_on([model_encoder(v) for v in vaes], splits),
    }
    results = evaluate_repeatedly(models, splits)
    print(summarise(results).round(3).to_string())
    print(describe_head_to_head(results, "VAE head", "PCA head"))
    print(describe_head_to_head(results, "VAE head", "logistic regression"))
    # --8<-- [end:repeated]

    # --8<-- [start:paired_plot]
    fig = paired_figure(
        results, f"Test accuracy on {len(splits)} splits, paired by split"
    )
    fig.show()
    ceiling = known_ceiling(genes)  # None unless the synthetic table
    split_accuracy = by_split(results)
    print(describe_ceiling(ceiling))
    print(split_accuracy.median().round(3).to_string())
    # --8<-- [end:paired_plot]


if __name__ == "__main__":
    run_as_script(main)

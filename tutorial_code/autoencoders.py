"""Autoencoders and variational autoencoders on the five GBM genes.

Both models learn to compress the five standardised features into two numbers
and rebuild them; small classifier heads then predict smoking status from those
two numbers, and are compared with the classifier page's MLP.
"""

# --8<-- [start:imports]
from functools import partial

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import torch
from torch import nn

from tutorial_code.classifier import (
    EPOCHS,
    MLP,
    SEED,
    classification_loss,
    classification_scores,
    evaluate,
    loss_figure,
    metrics_table,
    set_seed,
    train,
    train_mlp,
)
from tutorial_code.gbm_data import (
    FEATURES,
    label_smoking_status,
    load_gbm,
    run_as_script,
    select_features,
    split_and_scale,
)

# --8<-- [end:imports]

# --8<-- [start:settings]
LATENT_DIM = 2
HIDDEN = 64
HEAD_HIDDEN = 16
BETAS = (0.1, 1.0, 4.0)
# --8<-- [end:settings]


# --8<-- [start:overfitting_figure]
def overfitting_figure(seed: int = 1) -> go.Figure:
    """Polynomials of rising degree fitted to a few noisy points of a sine curve."""
    rng = np.random.default_rng(seed)

    def noisy_sine(n):
        x = np.sort(rng.uniform(-1, 1, n))
        return x, np.sin(3 * x) + rng.normal(0, 0.25, n)

    x_train, y_train = noisy_sine(12)
    x_new, y_new = noisy_sine(12)
    grid = np.linspace(-1, 1, 200)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x_train, y=y_train, mode="markers", name="training"))
    fig.add_trace(
        go.Scatter(
            x=x_new, y=y_new, mode="markers", name="new", marker_symbol="circle-open"
        )
    )
    for degree, fit in ((1, "underfit"), (3, "good fit"), (11, "overfit")):
        curve = np.polynomial.Polynomial.fit(x_train, y_train, degree)(grid)
        name = f"{fit} (degree {degree})"
        fig.add_trace(go.Scatter(x=grid, y=curve, mode="lines", name=name))
    fig.update_layout(
        title="Under- and overfitting: polynomials fitted to 12 points",
        xaxis_title="Input",
        yaxis_title="Output",
        yaxis_range=[-2.5, 2.5],
        template="plotly_white",
    )
    return fig


# --8<-- [end:overfitting_figure]


# --8<-- [start:autoencoder]
class AutoEncoder(nn.Module):
    """Squeeze the features through a narrow code and rebuild them."""

    def __init__(self, n_features: int, latent_dim=LATENT_DIM, hidden=HIDDEN):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_features),
        )

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


# --8<-- [end:autoencoder]


# --8<-- [start:reconstruction_loss]
def reconstruction_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error summed over the features, averaged over the samples."""
    return ((x_hat - x) ** 2).sum(dim=1).mean()


def autoencoder_loss(model: nn.Module, batch) -> torch.Tensor:
    x, _ = batch  # the label is never used: the target is the input itself
    return reconstruction_error(model(x), x)


# --8<-- [end:reconstruction_loss]


# --8<-- [start:fit_autoencoder]
def fit_autoencoder(split, seed: int = SEED, epochs: int = EPOCHS):
    """Build and train an AutoEncoder on the split's features."""
    set_seed(seed)
    model = AutoEncoder(n_features=split.X_train.shape[1])
    history = train(
        model,
        autoencoder_loss,
        train_batch=(split.X_train, split.y_train),
        test_batch=(split.X_test, split.y_test),
        epochs=epochs,
        seed=seed,
    )
    return model, history


# --8<-- [end:fit_autoencoder]


# --8<-- [start:code_classifier]
def codes(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The trained encoder's codes for x, cut off from gradients (frozen)."""
    model.eval()
    with torch.no_grad():
        return model.code(x)


def fit_code_classifier(model: nn.Module, split, seed: int = SEED):
    """Train a small MLP head that predicts the label from `model`'s codes."""
    train_batch = (codes(model, split.X_train), split.y_train)
    test_batch = (codes(model, split.X_test), split.y_test)
    set_seed(seed)
    head = MLP(n_inputs=train_batch[0].shape[1], hidden=HEAD_HIDDEN)
    history = train(
        head,
        classification_loss,
        train_batch,
        test_batch,
        seed=seed,
        scores=classification_scores,
    )
    return head, history


# --8<-- [end:code_classifier]


# --8<-- [start:vae]
class VAE(nn.Module):
    """Encode each sample as a Gaussian (mean, log-variance) over the code."""

    def __init__(self, n_features: int, latent_dim=LATENT_DIM, hidden=HIDDEN):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())
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
    def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        sigma = torch.exp(0.5 * logvar)
        return mu + sigma * torch.randn_like(sigma)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        # Sample while training; in eval mode decode the mean, so results are
        # deterministic.
        z = self.reparameterise(mu, logvar) if self.training else mu
        return self.decoder(z), mu, logvar


# --8<-- [end:vae]


# --8<-- [start:vae_loss]
def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)), summed over latent dims, mean over samples."""
    per_sample = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
    return per_sample.mean()


def vae_terms(model: VAE, batch, beta: float = 1.0):
    """(loss, reconstruction, KL) from one forward pass; loss = rec + β·KL."""
    x, _ = batch
    x_hat, mu, logvar = model(x)
    reconstruction = reconstruction_error(x_hat, x)
    kl = kl_to_standard_normal(mu, logvar)
    return reconstruction + beta * kl, reconstruction, kl


def vae_loss(model: VAE, batch, beta: float = 1.0) -> torch.Tensor:
    return vae_terms(model, batch, beta)[0]


def vae_scores(model: VAE, batch, beta: float = 1.0) -> dict[str, float]:
    """The loss and both of its terms, for the training history."""
    loss, reconstruction, kl = vae_terms(model, batch, beta)
    return {
        "loss": loss.item(),
        "reconstruction": reconstruction.item(),
        "kl": kl.item(),
    }


# --8<-- [end:vae_loss]


# --8<-- [start:fit_vae]
def fit_vae(split, beta: float = 1.0, seed: int = SEED, epochs: int = EPOCHS):
    """Build and train a VAE; the history also tracks both loss terms."""
    set_seed(seed)
    model = VAE(n_features=split.X_train.shape[1])
    history = train(
        model,
        partial(vae_loss, beta=beta),
        train_batch=(split.X_train, split.y_train),
        test_batch=(split.X_test, split.y_test),
        epochs=epochs,
        seed=seed,
        scores=partial(vae_scores, beta=beta),
    )
    return model, history


# --8<-- [end:fit_vae]


# --8<-- [start:latent_frame]
def latent_frame(model: nn.Module, split) -> pd.DataFrame:
    """Two-dimensional codes of every sample, with its label and split."""
    parts = {
        "training": (split.X_train, split.y_train),
        "test": (split.X_test, split.y_test),
    }
    frames = []
    for name, (x, y) in parts.items():
        z = codes(model, x).numpy()
        frames.append(
            pd.DataFrame(
                {
                    "z1": z[:, 0],
                    "z2": z[:, 1],
                    "Smoking status": np.where(y.numpy() == 1, "smoker", "non-smoker"),
                    "Set": name,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --8<-- [end:latent_frame]


def main():
    # --8<-- [start:show_overfitting]
    fig = overfitting_figure()
    fig.show()
    # --8<-- [end:show_overfitting]

    # --8<-- [start:data]
    torch.set_num_threads(1)  # tiny tensors: extra threads cost more than they save
    gbm = label_smoking_status(load_gbm())
    X, y = select_features(gbm, FEATURES)
    split = split_and_scale(X, y)
    print("training:", tuple(split.X_train.shape), "test:", tuple(split.X_test.shape))
    # --8<-- [end:data]

    # --8<-- [start:train_autoencoder]
    ae, ae_history = fit_autoencoder(split)
    # Predicting the training mean (0 after scaling) for every gene is the
    # baseline any useful autoencoder must beat.
    baseline = {
        part: reconstruction_error(torch.zeros_like(x), x).item()
        for part, x in (("training", split.X_train), ("test", split.X_test))
    }
    final = {
        "training": ae_history["train_loss"][-1],
        "test": ae_history["test_loss"][-1],
    }
    errors = pd.DataFrame({"predict the mean": baseline, "autoencoder": final})
    print(errors.T.round(3).to_string())
    # --8<-- [end:train_autoencoder]

    # --8<-- [start:autoencoder_loss_plot]
    fig = loss_figure(ae_history, "Autoencoder reconstruction loss vs. epoch")
    fig.show()
    # --8<-- [end:autoencoder_loss_plot]

    # --8<-- [start:autoencoder_head]
    ae_head, ae_head_history = fit_code_classifier(ae, split)
    fig = loss_figure(
        ae_head_history, "Classifier on autoencoder codes: loss vs. epoch"
    )
    fig.show()
    # --8<-- [end:autoencoder_head]

    # --8<-- [start:train_vae]
    vae, vae_history = fit_vae(split, beta=1.0)
    fig = loss_figure(vae_history, "VAE loss (β = 1) vs. epoch")
    fig.show()
    # --8<-- [end:train_vae]

    # --8<-- [start:beta_sweep]
    # β = 1 is the VAE trained above; the other values are trained the same way.
    vae_runs = {
        beta: (vae, vae_history) if beta == 1.0 else fit_vae(split, beta=beta)
        for beta in BETAS
    }
    beta_table = pd.DataFrame(
        [
            {
                "beta": beta,
                "test reconstruction": history["test_reconstruction"][-1],
                "test KL": history["test_kl"][-1],
            }
            for beta, (_, history) in vae_runs.items()
        ]
    ).set_index("beta")
    print(beta_table.round(3).to_string())
    # --8<-- [end:beta_sweep]

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
                    name=f"{label} loss, β = {beta:g}",
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
    fig = px.scatter(
        latents,
        x="z1",
        y="z2",
        color="Smoking status",
        symbol="Set",
        category_orders={"Smoking status": ["non-smoker", "smoker"]},
        facet_col="beta",
        labels={"z1": "μ₁", "z2": "μ₂", "beta": "β"},
        title="VAE latent means (μ) by smoking status",
        template="plotly_white",
        height=520,
    )
    # Below the panels, the legend leaves the three facets the full width.
    fig.update_layout(legend={"orientation": "h", "y": -0.22, "yanchor": "top"})
    fig.show()
    # --8<-- [end:latent_plot]

    # --8<-- [start:vae_head]
    vae_head, vae_head_history = fit_code_classifier(vae, split)
    fig = loss_figure(vae_head_history, "Classifier on VAE means (μ): loss vs. epoch")
    fig.show()
    # --8<-- [end:vae_head]

    # --8<-- [start:compare]
    mlp, _ = train_mlp(split)
    comparison = metrics_table(
        {
            "MLP on the five genes": evaluate(mlp, split.X_test, split.y_test),
            "head on autoencoder codes": evaluate(
                ae_head, codes(ae, split.X_test), split.y_test
            ),
            "head on VAE means (μ)": evaluate(
                vae_head, codes(vae, split.X_test), split.y_test
            ),
        }
    )
    print(comparison.to_string())
    # --8<-- [end:compare]


if __name__ == "__main__":
    run_as_script(main)

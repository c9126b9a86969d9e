"""Autoencoders on the feature genes, next to PCA.

An autoencoder learns to compress the standardised genes into two numbers
and rebuild them; PCA with two components is the linear yardstick for both
the reconstruction and the codes. A small classifier head then predicts
smoking status from the codes, on the page's split and on repeated splits.
The variational autoencoder builds on this module in vae.py.
"""

# --8<-- [start:imports]
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from sklearn.decomposition import PCA
from torch import nn

from tutorial_code.classifier import (
    EPOCHS,
    MLP,
    SEED,
    accuracy,
    classification_loss,
    loss_figure,
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
    mcnemar_exact,
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
LATENT_DIM = 2
HIDDEN = 64
HEAD_HIDDEN = 16
# --8<-- [end:settings]


# --8<-- [start:overfitting_figure]
def overfitting_figure(seed: int = 1) -> go.Figure:
    """Polynomials of rising degree fitted to 12 noisy points of a sine."""
    rng = np.random.default_rng(seed)

    def noisy_sine(n):
        x = np.sort(rng.uniform(-1, 1, n))
        return x, np.sin(3 * x) + rng.normal(0, 0.25, n)

    x_train, y_train = noisy_sine(12)
    x_new, y_new = noisy_sine(12)
    grid = np.linspace(-1, 1, 200)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x_train,
            y=y_train,
            mode="markers",
            name="training",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x_new,
            y=y_new,
            mode="markers",
            name="new",
            marker_symbol="circle-open",
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
def reconstruction_error(
    x_hat: torch.Tensor,
    x: torch.Tensor,
) -> torch.Tensor:
    """Squared error summed over the features, averaged over the samples."""
    return ((x_hat - x) ** 2).sum(dim=1).mean()


def autoencoder_loss(model: nn.Module, batch) -> torch.Tensor:
    x, _ = batch  # the label is never used: the target is the input itself
    return reconstruction_error(model(x), x)


# --8<-- [end:reconstruction_loss]


# --8<-- [start:fit_autoencoder]
def fit_autoencoder(
    split,
    seed: int = SEED,
    epochs: int = EPOCHS,
    record: bool = True,
):
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
        record=record,
    )
    return model, history


# --8<-- [end:fit_autoencoder]


# --8<-- [start:fit_autoencoders]
def fit_autoencoders(splits: list, epochs: int = EPOCHS) -> list:
    """One AutoEncoder per split, trained side by side: autoencoder k on
    split k, from the weights fit_autoencoder(split, seed=k) starts from."""
    autoencoders = []
    for k, split in enumerate(splits):
        set_seed(k)
        autoencoders.append(AutoEncoder(n_features=split.X_train.shape[1]))
    batches = [(s.X_train, s.y_train) for s in splits]
    train_many(autoencoders, autoencoder_loss, batches, epochs)
    return autoencoders


# --8<-- [end:fit_autoencoders]


# --8<-- [start:code_classifier]
def codes(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The trained encoder's codes for x, without gradients (frozen)."""
    model.eval()
    with torch.no_grad():
        return model.code(x)


def model_encoder(model: nn.Module):
    """`codes` of a trained model as a function of x alone."""
    return lambda x: codes(model, x)


def fit_code_classifier(
    encode,
    split,
    seed: int = SEED,
    record: bool = True,
    epochs: int = EPOCHS,
):
    """Train a small MLP head that predicts the label from encode(x)."""
    train_batch = (encode(split.X_train), split.y_train)
    test_batch = (encode(split.X_test), split.y_test)
    set_seed(seed)
    head = MLP(n_inputs=train_batch[0].shape[1], hidden=HEAD_HIDDEN)
    history = train(
        head,
        classification_loss,
        train_batch,
        test_batch,
        epochs=epochs,
        seed=seed,
        metric=accuracy,
        record=record,
    )
    return head, history


def head_on(encoders: list, splits: list, epochs: int = EPOCHS):
    """A fit_predict for evaluate_repeatedly: one head per split, trained
    side by side; head k learns from the codes of encoders[k] (an encoder
    fitted on split k) and starts from the weights that
    fit_code_classifier(encoders[k], split, seed=k) starts from."""
    heads, batches = [], []
    for k, (encode, split) in enumerate(zip(encoders, splits, strict=True)):
        batches.append((encode(split.X_train), split.y_train))
        set_seed(k)
        n_inputs = batches[k][0].shape[1]
        heads.append(MLP(n_inputs=n_inputs, hidden=HEAD_HIDDEN))
    train_many(heads, classification_loss, batches, epochs)

    def fit_predict(split, seed: int) -> np.ndarray:
        encode = encoders[seed]
        return predict(heads[seed], encode(split.X_test))  # trained already

    return fit_predict


# --8<-- [end:code_classifier]


# --8<-- [start:pca]
def fit_pca(split, n_components: int = LATENT_DIM) -> PCA:
    """PCA fitted on the split's training rows only."""
    return PCA(n_components=n_components).fit(split.X_train.numpy())


def pca_encoder(pca: PCA):
    """The PCA scores of x as a float tensor: PCA's "code"."""

    def encode(x: torch.Tensor) -> torch.Tensor:
        scores = pca.transform(x.numpy())
        return torch.as_tensor(scores, dtype=torch.float32)

    return encode


def pca_reconstruction_error(pca: PCA, x: torch.Tensor) -> float:
    """`reconstruction_error` of PCA's rebuild from its scores."""
    rebuilt = pca.inverse_transform(pca.transform(x.numpy()))
    return reconstruction_error(torch.as_tensor(rebuilt), x.double()).item()


# --8<-- [end:pca]


def main():
    # --8<-- [start:show_overfitting]
    fig = overfitting_figure()
    fig.show()
    # --8<-- [end:show_overfitting]

    # --8<-- [start:data]
    # tiny tensors: extra threads cost more than they save
    torch.set_num_threads(1)
    gbm = label_smoking_status(load_gbm())
    X, y = select_features(gbm, feature_genes())
    split = split_and_scale(X, y)
    print("training:", tuple(split.X_train.shape))
    print("test:    ", tuple(split.X_test.shape))
    # --8<-- [end:data]

    # --8<-- [start:train_autoencoder]
    ae, ae_history = fit_autoencoder(split)
    pca = fit_pca(split)
    parts = {"training": split.X_train, "test": split.X_test}
    mean_error, pca_error = {}, {}
    for part, x in parts.items():
        # the training mean (0 after scaling) for every gene
        mean_error[part] = reconstruction_error(torch.zeros_like(x), x).item()
        pca_error[part] = pca_reconstruction_error(pca, x)
    ae_error = {
        "training": ae_history["train_loss"][-1],
        "test": ae_history["test_loss"][-1],
    }
    errors = pd.DataFrame(
        {
            "predict the mean": mean_error,
            "PCA, 2 components": pca_error,
            "autoencoder": ae_error,
        }
    )
    print(errors.T.round(3).to_string())
    # --8<-- [end:train_autoencoder]

    # --8<-- [start:solution_count_weights]
    ex_encoder = sum(ex_p.numel() for ex_p in ae.encoder.parameters())
    ex_decoder = sum(ex_p.numel() for ex_p in ae.decoder.parameters())
    ex_total = sum(ex_p.numel() for ex_p in ae.parameters())
    print(f"encoder {ex_encoder} + decoder {ex_decoder} = {ex_total}")
    print("PCA's two directions:", pca.components_.size, "numbers")
    # --8<-- [end:solution_count_weights]

    # --8<-- [start:autoencoder_loss_plot]
    fig = loss_figure(ae_history, "Autoencoder reconstruction loss vs. epoch")
    fig.show()
    # --8<-- [end:autoencoder_loss_plot]

    # --8<-- [start:solution_code_size]
    ex_batches = (split.X_train, split.y_train), (split.X_test, split.y_test)
    ex_rows = {}
    for ex_size in (1, 2, 3, 5):
        if ex_size == LATENT_DIM:  # the page's autoencoder, trained above
            ex_history = ae_history
        else:
            set_seed(SEED)
            ex_model = AutoEncoder(split.X_train.shape[1], ex_size)
            ex_history = train(ex_model, autoencoder_loss, *ex_batches)
        ex_rows[ex_size] = {
            "training": ex_history["train_loss"][-1],
            "test": ex_history["test_loss"][-1],
        }
    ex_table = pd.DataFrame(ex_rows).T.rename_axis("code size")
    print(ex_table.round(3).to_string())
    # --8<-- [end:solution_code_size]

    # --8<-- [start:solution_linear_autoencoder]
    class ExLinearAutoEncoder(nn.Module):
        """The autoencoder without its hidden layers and ReLUs."""

        def __init__(self, n_features, latent_dim=LATENT_DIM):
            super().__init__()
            self.encoder = nn.Linear(n_features, latent_dim)
            self.decoder = nn.Linear(latent_dim, n_features)

        def forward(self, x):
            return self.decoder(self.encoder(x))

    set_seed(SEED)
    ex_linear = ExLinearAutoEncoder(split.X_train.shape[1])
    # a linear model trains well with larger steps than the page's 10^-3
    ex_lin = train(ex_linear, autoencoder_loss, *ex_batches, lr=0.03)
    ex_last = {"training": ex_lin["train_loss"][-1]}
    ex_last["test"] = ex_lin["test_loss"][-1]
    ex_compare = pd.DataFrame({"linear autoencoder": ex_last, "PCA": pca_error})
    print(ex_compare.T.round(4).to_string())
    # The same plane? ex_gap is the sine of the largest angle between
    # them: the largest difference of the projections onto each.
    ex_basis, _ = torch.linalg.qr(ex_linear.decoder.weight.detach().double())
    ex_on_ae = ex_basis @ ex_basis.T
    ex_pcs = torch.as_tensor(pca.components_)  # orthonormal rows
    ex_on_pca = ex_pcs.T @ ex_pcs
    ex_gap = torch.linalg.matrix_norm(ex_on_ae - ex_on_pca, ord=2).item()
    ex_angle = np.degrees(np.arcsin(ex_gap))
    print(f"largest angle between the two planes: {ex_angle:.1f} degrees")
    # --8<-- [end:solution_linear_autoencoder]

    # --8<-- [start:autoencoder_head]
    ae_head, ae_head_history = fit_code_classifier(model_encoder(ae), split)
    fig = loss_figure(
        ae_head_history, "Classifier on autoencoder codes: loss vs. epoch"
    )
    fig.show()
    # --8<-- [end:autoencoder_head]

    # --8<-- [start:fixed_split]
    pca_head, _ = fit_code_classifier(pca_encoder(pca), split)
    predictions = {
        "logistic regression": logistic_regression(split),
        "PCA head": predict(pca_head, pca_encoder(pca)(split.X_test)),
        "AE head": predict(ae_head, codes(ae, split.X_test)),
    }
    fixed = pd.concat(
        {
            name: metrics_with_intervals(split.y_test, pred)
            for name, pred in predictions.items()
        }
    )
    print(fixed.round(3).to_string(na_rep=""))
    fixed_test = mcnemar_exact(
        split.y_test,
        predictions["logistic regression"],
        predictions["AE head"],
    )
    print(
        f"exact McNemar test, logistic regression vs head on AE codes: "
        f"p = {fixed_test['p_value']:.2f}"
    )
    # --8<-- [end:fixed_split]

    # --8<-- [start:repeated]
    splits = repeated_splits(X, y)
    autoencoders = fit_autoencoders(splits)  # side by side
    pcas = [fit_pca(s) for s in splits]
    rebuilt = pd.DataFrame(
        {
            "predict the mean": [
                (s.X_test**2).sum(dim=1).mean().item() for s in splits
            ],
            "PCA": [
                pca_reconstruction_error(p, s.X_test)
                for p, s in zip(pcas, splits, strict=True)
            ],
            "autoencoder": [
                reconstruction_error(a.eval()(s.X_test), s.X_test).item()
                for a, s in zip(autoencoders, splits, strict=True)
            ],
        }
    )
    print("test reconstruction error over the splits:")
    print(rebuilt.describe().loc[["50%", "min", "max"]].round(3).to_string())
    ae_better = int((rebuilt["autoencoder"] < rebuilt["PCA"]).sum())
    print(f"autoencoder below PCA in {ae_better} of {len(splits)} splits")
    ae_encoders = [model_encoder(a) for a in autoencoders]
    models = {
        "logistic regression": logistic_regression,
        "PCA head": head_on([pca_encoder(p) for p in pcas], splits),
        "AE head": head_on(ae_encoders, splits),
    }
    results = evaluate_repeatedly(models, splits)
    print(summarise(results).round(3).to_string())
    print(describe_head_to_head(results, "AE head", "PCA head"))
    print(describe_head_to_head(results, "AE head", "logistic regression"))
    print(describe_head_to_head(results, "PCA head", "logistic regression"))
    # --8<-- [end:repeated]

    # --8<-- [start:paired_plot]
    fig = paired_figure(
        results, f"Test accuracy on {len(splits)} splits, paired by split"
    )
    fig.show()
    ceiling = known_ceiling(feature_genes())  # None unless the synthetic table
    split_accuracy = by_split(results)
    print(describe_ceiling(ceiling))
    print(split_accuracy.median().round(3).to_string())
    # --8<-- [end:paired_plot]


if __name__ == "__main__":
    run_as_script(main)

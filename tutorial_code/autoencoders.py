"""Autoencoders on the feature genes, next to PCA.

An autoencoder learns to compress the standardised genes into two numbers
and rebuild them; PCA with two components is the linear yardstick for both
the reconstruction and the codes. A small classifier head then predicts
smoking status from the codes, on the page's split and on repeated splits.
The variational autoencoder builds on this module in vae.py.

The page shows each group of imports where it is first needed; the
`# isort: split` lines keep the groups apart when the imports are sorted.
"""

# --8<-- [start:imports_data]
import torch

from tutorial_code.gbm_data import (
    feature_genes,
    label_smoking_status,
    load_gbm,
    select_features,
    split_and_scale,
)

# --8<-- [end:imports_data]
# isort: split
# --8<-- [start:imports_model]
from torch import nn

# --8<-- [end:imports_model]
# isort: split
# --8<-- [start:imports_training]
from tutorial_code.classifier import (
    EPOCHS,
    SEED,
    loss_figure,
    set_seed,
    train,
)

# --8<-- [end:imports_training]
# isort: split
# --8<-- [start:imports_pca]
import pandas as pd
from sklearn.decomposition import PCA

# --8<-- [end:imports_pca]
# isort: split
# --8<-- [start:imports_heads]
from tutorial_code.classifier import (
    MLP,
    accuracy,
    classification_loss,
    predict,
)

# --8<-- [end:imports_heads]
# isort: split
# --8<-- [start:imports_evaluation]
from tutorial_code.classifier import majority_class
from tutorial_code.evaluation import (
    describe_ceiling,
    evaluate_repeatedly,
    logistic_regression,
    mcnemar_exact,
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

# --8<-- [end:imports_evaluation]
# isort: split
# --8<-- [start:imports_side_by_side]
from tutorial_code.evaluation import train_many

# --8<-- [end:imports_side_by_side]
# isort: split
from tutorial_code.gbm_data import run_as_script

# --8<-- [start:settings]
LATENT_DIM = 2  # numbers in the code
HIDDEN = 64  # units in the encoder's and the decoder's hidden layer
# --8<-- [end:settings]


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


def share_in_plane(pca: PCA, split) -> float:
    """How much of the gap between the smokers' and the non-smokers'
    average training samples lies in PCA's plane: the squared length of
    its projection onto the plane over its own (1: all of it)."""
    x, smoker = split.X_train, split.y_train.bool()
    gap = x[smoker].mean(dim=0) - x[~smoker].mean(dim=0)
    plane = torch.as_tensor(pca.components_, dtype=gap.dtype)
    inside = plane.T @ (plane @ gap)
    return (inside.norm() ** 2 / gap.norm() ** 2).item()


def mean_prediction_error(x: torch.Tensor) -> float:
    """`reconstruction_error` of predicting every gene as its training
    mean, which is 0 after scaling."""
    return reconstruction_error(torch.zeros_like(x), x).item()


# --8<-- [end:pca]


# --8<-- [start:code_classifier]
HEAD_HIDDEN = 16  # hidden units of the classifier head on the codes


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


def prevalence_loss(split) -> float:
    """The test loss (binary cross-entropy) of a head that ignores its
    input and answers the training share of smokers for every sample."""
    p = split.y_train.mean().clamp(1e-6, 1 - 1e-6)
    y = split.y_test
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean().item()


# --8<-- [end:code_classifier]


# --8<-- [start:one_per_split]
def fit_autoencoders(splits: list, epochs: int = EPOCHS) -> list:
    """One autoencoder per split: autoencoder k learns split k, seed k."""
    autoencoders = []
    for k, split in enumerate(splits):
        autoencoder, _ = fit_autoencoder(split, k, epochs, record=False)
        autoencoders.append(autoencoder)
    return autoencoders


def head_on(encoders: list, epochs: int = EPOCHS):
    """A fit_predict for evaluate_repeatedly: on split k, train a head on
    the codes of encoders[k] (an encoder fitted on split k) with seed k,
    and predict the split's test samples."""

    def fit_predict(split, seed: int):
        encode = encoders[seed]
        head, _ = fit_code_classifier(encode, split, seed, False, epochs)
        return predict(head, encode(split.X_test))

    return fit_predict


# --8<-- [end:one_per_split]


# --8<-- [start:side_by_side]
def fit_autoencoders_side_by_side(splits: list, epochs: int = EPOCHS):
    """fit_autoencoders, with the autoencoders trained side by side:
    each starts from the weights fit_autoencoder(split, seed=k) starts
    from and takes the same steps."""
    autoencoders = []
    for k, split in enumerate(splits):
        set_seed(k)
        autoencoders.append(AutoEncoder(n_features=split.X_train.shape[1]))
    batches = [(s.X_train, s.y_train) for s in splits]
    train_many(autoencoders, autoencoder_loss, batches, epochs)
    return autoencoders


def heads_side_by_side(encoders: list, splits: list, epochs: int = EPOCHS):
    """head_on, with every split's head trained before it is asked for:
    side by side, each from the weights fit_code_classifier would give."""
    heads, batches = [], []
    for k, (encode, split) in enumerate(zip(encoders, splits, strict=True)):
        batches.append((encode(split.X_train), split.y_train))
        set_seed(k)
        n_inputs = batches[k][0].shape[1]
        heads.append(MLP(n_inputs=n_inputs, hidden=HEAD_HIDDEN))
    train_many(heads, classification_loss, batches, epochs)

    def fit_predict(split, seed: int):
        return predict(heads[seed], encoders[seed](split.X_test))

    return fit_predict


# --8<-- [end:side_by_side]


def main():
    # --8<-- [start:data]
    # Our tensors are tiny: extra CPU threads cost more than they save.
    torch.set_num_threads(1)
    gbm = label_smoking_status(load_gbm())
    X, y = select_features(gbm, feature_genes())
    split = split_and_scale(X, y)
    n_train, n_genes = split.X_train.shape
    n_test = len(split.X_test)
    print(f"training: {n_train} samples, test: {n_test}, genes: {n_genes}")
    # --8<-- [end:data]

    # --8<-- [start:train_autoencoder]
    ae, ae_history = fit_autoencoder(split)
    pca = fit_pca(split)
    parts = {"training": split.X_train, "test": split.X_test}
    mean_error = {p: mean_prediction_error(x) for p, x in parts.items()}
    pca_error = {p: pca_reconstruction_error(pca, x) for p, x in parts.items()}
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
    ).T
    print(errors.round(3).to_string())
    relative = errors / errors.loc["predict the mean"]  # share of its error
    print("as a share of predicting the mean:")
    print(relative.round(2).to_string())
    # --8<-- [end:train_autoencoder]

    # --8<-- [start:solution_count_weights]
    in_encoder = sum(p.numel() for p in ae.encoder.parameters())
    in_decoder = sum(p.numel() for p in ae.decoder.parameters())
    in_total = in_encoder + in_decoder
    print(f"encoder {in_encoder} + decoder {in_decoder} = {in_total}")
    print("entries of PCA's loading matrix:", pca.components_.size)
    # --8<-- [end:solution_count_weights]

    # --8<-- [start:autoencoder_loss_plot]
    fig = loss_figure(ae_history, "Autoencoder reconstruction loss vs. epoch")
    fig.show()
    # How much each loss fell over the last 100 epochs:
    late_drop = {
        part: ae_history[f"{part}_loss"][-101] - ae_history[f"{part}_loss"][-1]
        for part in ("train", "test")
    }
    print(
        f"fall over the last 100 epochs: training {late_drop['train']:.3f}, "
        f"test {late_drop['test']:.3f}"
    )
    # --8<-- [end:autoencoder_loss_plot]

    # --8<-- [start:solution_code_size]
    batches = (split.X_train, split.y_train), (split.X_test, split.y_test)
    by_size = {}
    for size in sorted({1, 2, min(3, n_genes), n_genes}):
        if size == LATENT_DIM:  # the page's autoencoder, trained above
            history = ae_history
        else:
            set_seed(SEED)
            wider = AutoEncoder(n_genes, latent_dim=size)
            history = train(wider, autoencoder_loss, *batches)
        by_size[size] = {
            "training": history["train_loss"][-1],
            "test": history["test_loss"][-1],
        }
    code_sizes = pd.DataFrame(by_size).T.rename_axis("code size")
    print(code_sizes.round(3).to_string())
    # --8<-- [end:solution_code_size]

    # --8<-- [start:solution_linear_autoencoder]
    import math

    class LinearAutoEncoder(nn.Module):
        """The autoencoder without its hidden layers and ReLUs."""

        def __init__(self, n_features, latent_dim=LATENT_DIM):
            super().__init__()
            self.encoder = nn.Linear(n_features, latent_dim)
            self.decoder = nn.Linear(latent_dim, n_features)

        def forward(self, x):
            return self.decoder(self.encoder(x))

    set_seed(SEED)
    linear = LinearAutoEncoder(n_genes)
    # a linear model trains well with larger steps than the page's 10^-3
    linear_history = train(linear, autoencoder_loss, *batches, lr=0.03)
    linear_error = linear_history["train_loss"][-1]
    print(f"training error: linear autoencoder {linear_error:.4f}, ", end="")
    print(f"PCA {errors.loc['PCA, 2 components', 'training']:.4f}")
    # The same plane? `gap` is the sine of the largest angle between the
    # planes: the largest difference of the projections onto each.
    basis, _ = torch.linalg.qr(linear.decoder.weight.detach().double())
    onto_linear = basis @ basis.T
    components = torch.as_tensor(pca.components_)  # orthonormal rows
    onto_pca = components.T @ components
    gap = torch.linalg.matrix_norm(onto_linear - onto_pca, ord=2).item()
    angle = math.degrees(math.asin(min(gap, 1.0)))
    print(f"largest angle between the two planes: {angle:.1f} degrees")
    # --8<-- [end:solution_linear_autoencoder]

    # --8<-- [start:autoencoder_head]
    ae_head, ae_head_history = fit_code_classifier(model_encoder(ae), split)
    fig = loss_figure(
        ae_head_history, "Classifier on autoencoder codes: loss vs. epoch"
    )
    fig.show()
    final_test_loss = ae_head_history["test_loss"][-1]
    print(f"final test loss {final_test_loss:.3f}; answering the training")
    print(f"share of smokers for everyone: {prevalence_loss(split):.3f}")
    # --8<-- [end:autoencoder_head]

    # --8<-- [start:fixed_split]
    pca_head, _ = fit_code_classifier(pca_encoder(pca), split)
    predictions = {
        "majority class": majority_class(split),
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
    # The same autoencoders as fit_autoencoders(splits), trained side by
    # side because that is faster (see "Going further" above).
    autoencoders = fit_autoencoders_side_by_side(splits)
    pcas = [fit_pca(s) for s in splits]
    mean_errors = [mean_prediction_error(s.X_test) for s in splits]
    rebuilt = pd.DataFrame(
        {
            "predict the mean": mean_errors,
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
    print(f"test reconstruction error over {len(splits)} splits:")
    print(rebuilt.agg(["mean", "min", "max"]).round(3).to_string())
    ae_minus_pca = rebuilt["autoencoder"] - rebuilt["PCA"]
    ae_better = int((ae_minus_pca < 0).sum())
    print(f"autoencoder below PCA in {ae_better} of {len(splits)} splits")
    # --8<-- [end:repeated]

    # --8<-- [start:repeated_heads]
    pca_encoders = [pca_encoder(p) for p in pcas]
    ae_encoders = [model_encoder(a) for a in autoencoders]
    models = {
        "majority class": majority_class,
        "logistic regression": logistic_regression,
        # as head_on(pca_encoders) and head_on(ae_encoders), side by side
        "PCA head": heads_side_by_side(pca_encoders, splits),
        "AE head": heads_side_by_side(ae_encoders, splits),
    }
    results = evaluate_repeatedly(models, splits)
    summary = summarise(results)[["accuracy", "balanced_accuracy"]]
    print(summary.round(3).to_string())
    # --8<-- [end:repeated_heads]

    # --8<-- [start:differences]
    pairs = [
        ("AE head", "majority class"),
        ("AE head", "PCA head"),
        ("AE head", "logistic regression"),
        ("PCA head", "logistic regression"),
    ]
    metrics = ("accuracy", "balanced_accuracy")
    differences = paired_differences(results, pairs, metrics)
    print(differences.round(3).to_string())
    # --8<-- [end:differences]

    # --8<-- [start:paired_plot]
    # The best scores the synthetic generator allows (see the data page);
    # None unless the table is the synthetic one.
    ceiling = known_ceiling(feature_genes())
    balanced_ceiling = known_balanced_ceiling(feature_genes())
    title = f"Test balanced accuracy on {len(splits)} splits, paired by split"
    fig = paired_figure(results, title, "balanced_accuracy", balanced_ceiling)
    fig.show()
    print(describe_ceiling(ceiling))
    print(describe_ceiling(balanced_ceiling, "balanced accuracy"))
    signal_kept = share_in_plane(pca, split)
    print(f"share of the class gap in PCA's plane: {signal_kept:.2f}")
    # --8<-- [end:paired_plot]


if __name__ == "__main__":
    run_as_script(main)

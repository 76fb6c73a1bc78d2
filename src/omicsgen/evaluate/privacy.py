"""Privacy of synthetic data: nearest-neighbour adversarial accuracy, membership inference, distance to closest record.

All inputs are ``(n, n_features)`` float arrays on one scale (log1p-normalised expression for
single-cell data).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from omicsgen.evaluate.sampling import ResampledNearest


def _nearest(reference: np.ndarray, query: np.ndarray, metric: str, exclude_self: bool) -> np.ndarray:
    """Distance from each query row to its nearest reference row (skipping itself when the sets are one)."""
    return ResampledNearest(reference, query, metric, same=exclude_self, k=1).nearest()


class AdversarialAccuracy:
    """AA_truth and AA_syn of one real and one synthetic set, on the sets or on bootstrap resamples of them.

    The nearest neighbours of every sample are found once
    (:class:`~omicsgen.evaluate.sampling.ResampledNearest`); a resample looks them up again among
    the samples it holds, so its value is the adversarial accuracy of the resampled sets (a
    sample's own copies are not its neighbours). :func:`adversarial_accuracies` is this on the
    full sets.

    Parameters
    ----------
    real, synthetic
        ``(n, n_features)`` each, the same ``n`` (at least 2).
    metric
        scikit-learn distance (Yelmen et al. use ``"cityblock"`` on genotypes).

    Raises
    ------
    ValueError
        The two sets differ in size or have fewer than two samples.
    """

    def __init__(self, real: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean"):
        if len(real) != len(synthetic) or len(real) < 2:
            raise ValueError(f"aats needs two sets of equal size >= 2; got {len(real)} and {len(synthetic)}")
        self.n = len(real)
        self.ts = ResampledNearest(synthetic, real, metric)
        self.tt = ResampledNearest(real, real, metric, same=True)
        self.st = ResampledNearest(real, synthetic, metric)
        self.ss = ResampledNearest(synthetic, synthetic, metric, same=True)

    def __call__(self, real_rows: np.ndarray | None = None, synthetic_rows: np.ndarray | None = None):
        """``(AA_truth, AA_syn)`` on the rows (positions, with repeats; default: all) of each set."""
        i = np.arange(self.n) if real_rows is None else real_rows
        j = np.arange(self.n) if synthetic_rows is None else synthetic_rows
        aa_truth = np.mean(self.ts.nearest(j)[i] > self.tt.nearest(i)[i])
        aa_syn = np.mean(self.st.nearest(i)[j] > self.ss.nearest(j)[j])
        return float(aa_truth), float(aa_syn)


def adversarial_accuracies(real: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean") -> tuple[float, float]:
    """The two components of AA_TS (Yale et al. 2020; Yelmen et al. 2021): ``(AA_truth, AA_syn)``.

    ``AA_truth = mean[d_TS > d_TT]``: the fraction of real samples whose nearest other real sample
    is closer than their nearest synthetic one; ``AA_syn = mean[d_ST > d_SS]``, the same from the
    synthetic side. Each is 0.5 when the two sets are draws from one distribution. They must be
    read apart: a generator whose samples are far from the real ones in some places and stacked on
    them in others can score AA_truth = 1 and AA_syn = 0, an "ideal" mean of 0.5.
    Parameters and errors: :class:`AdversarialAccuracy`.
    """
    return AdversarialAccuracy(real, synthetic, metric)()


def aats(real: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean") -> float:
    """Nearest-neighbour adversarial accuracy ``AA_TS = 0.5 * (AA_truth + AA_syn)`` (Yale et al. 2020;
    Yelmen et al. 2021; components: :func:`adversarial_accuracies`).

    0.5: synthetic and real samples are each other's neighbours as often as their own (ideal);
    near 1: the synthetic data are distinguishable (underfitting); near 0: synthetic samples sit
    on real ones (overfitting, copying). Parameters and errors as :func:`adversarial_accuracies`.
    """
    return float(0.5 * sum(adversarial_accuracies(real, synthetic, metric)))


def membership_scores(
    train: np.ndarray, test: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean"
) -> tuple[np.ndarray, np.ndarray]:
    """The attack of :func:`membership_inference_auroc` sample by sample: ``(is_member, score)``, float
    ``(n_train + n_test,)`` each, 1 for training samples (first) and ``-distance`` to the closest
    synthetic sample (higher: more likely a member)."""
    distances = _nearest(synthetic, np.concatenate([train, test]), metric, exclude_self=False)
    return np.r_[np.ones(len(train)), np.zeros(len(test))], -distances


def membership_inference_auroc(
    train: np.ndarray, test: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean"
) -> float:
    """AUROC of a distance-based membership-inference attack on the training set.

    The attacker sees only the synthetic data (:func:`omicsgen.evaluate.evaluate_model` passes the
    label-matched candidate set) and scores each candidate real sample by how close it lies to the
    nearest synthetic sample (the full black-box attack of GAN-Leaks, Chen et al.
    2020; the DCR-based attack of synthcity's privacy metrics): members (training samples) against
    non-members (held-out samples of the same population). 0.5: the synthetic data tell nothing
    about who was in the training set; 1: training samples are recovered (copies).

    Parameters
    ----------
    train, test
        ``(n, n_features)`` members and non-members, ideally the same size and label mix.
    synthetic
        ``(m, n_features)`` synthetic samples.
    metric
        Distance, as :func:`aats`.

    Returns
    -------
    float
        AUROC in [0, 1] of "member" scored by ``-distance to the closest synthetic sample``.
    """
    return float(roc_auc_score(*membership_scores(train, test, synthetic, metric)))


def privacy_loss(train: np.ndarray, test: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean") -> float:
    """``AA_TS(held-out real) - AA_TS(training real)`` (Yale et al. 2020; Yelmen et al. 2021).

    Positive: the synthetic data are closer to the training samples than to unseen ones of the
    same population, i.e. the model leaks its training set; about 0: no such leak. A generator
    that returns the training samples it is compared with scores about 0.5 (AA_TS 0.5 against
    held-out samples, 0 against its own copies); one that copies other training samples than
    those compared shows only the overlap, which is why :func:`omicsgen.evaluate.evaluate_model`
    draws the training set compared with and the ``copy`` control from one label-matched set, and
    why :func:`membership_inference_auroc` (every synthetic sample, against training samples
    of the same label mix) sits beside it.

    Parameters
    ----------
    train, test, synthetic
        ``(n, n_features)`` training, held-out real and synthetic samples, the same ``n``.
    metric
        Distance, as :func:`aats`.

    Raises
    ------
    ValueError
        The sets differ in size (see :func:`aats`).
    """
    return aats(test, synthetic, metric) - aats(train, synthetic, metric)


def distance_to_closest_record(train: np.ndarray, query: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance of each query sample to its closest training sample (DCR; synthcity, Park et al. 2018).

    Computed for synthetic samples and, as the baseline, for held-out real samples: synthetic
    DCRs well below the held-out ones mean the generator reproduces training records.

    Returns
    -------
    numpy.ndarray
        ``(n_query,)`` float distances; 0 for a sample identical to a training sample.
    """
    return _nearest(train, query, metric, exclude_self=False)


def identical_to_train(train: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """Whether each synthetic sample equals, feature for feature, some training sample: bool ``(n_synthetic,)``.

    Exact comparison of rows (hashing their float32 bytes), free of the rounding error of
    distance computations.
    """
    seen = {row.tobytes() for row in np.ascontiguousarray(train, dtype=np.float32)}
    return np.array([row.tobytes() in seen for row in np.ascontiguousarray(synthetic, dtype=np.float32)], dtype=bool)


def n_identical(train: np.ndarray, synthetic: np.ndarray) -> int:
    """Number of synthetic samples equal to some training sample (:func:`identical_to_train`; synthcity)."""
    return int(identical_to_train(train, synthetic).sum())

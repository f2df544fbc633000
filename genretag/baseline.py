"""A cheap reference model: TF-IDF of word 1–2-grams + one-vs-rest logistic regression.

Every evaluation fits it on the run's own training rows and scores it on the same rows
as the language model, so a report always says whether the LoRA model earned its cost.
Benchmarks reuse it as is.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

NAME = "TF-IDF + logistic regression"


class TfidfBaseline:
    """TF-IDF (1–2-grams, sublinear tf) with one logistic regression per genre.

    Args:
        ngram_range: Word n-gram sizes.
        min_df: Ignore n-grams in fewer documents than this.
        max_features: Keep the most frequent n-grams only (bounds memory).
        C: Inverse L2 regularisation strength of each logistic regression.
        seed: Seed of the solver (liblinear shuffles coordinates).
    """

    def __init__(
        self,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        max_features: int | None = 200_000,
        C: float = 4.0,
        seed: int = 42,
    ):
        self.params = {"ngram_range": list(ngram_range), "min_df": min_df, "max_features": max_features, "C": C}
        self.vectorizer = TfidfVectorizer(
            ngram_range=ngram_range, min_df=min_df, max_features=max_features, sublinear_tf=True,
            strip_accents="unicode", lowercase=True, dtype=np.float32,
        )
        self.classifier = OneVsRestClassifier(
            LogisticRegression(C=C, solver="liblinear", max_iter=1000, random_state=seed)
        )
        self.n_labels = 0

    def fit(self, texts: Sequence[str], y: np.ndarray) -> TfidfBaseline:
        """Fit on synopses and their ``[rows, genres]`` 0/1 targets; returns ``self``."""
        y = np.asarray(y, dtype=int)
        if y.ndim != 2 or len(texts) != y.shape[0]:
            raise ValueError(f"need one target row per text: {len(texts)} texts, targets of shape {y.shape}")
        # Tiny corpora (tests, a small --sample) may have no 2-document n-gram at all.
        if self.vectorizer.min_df > 1 and len(texts) < 50:
            self.vectorizer.set_params(min_df=1)
        features = self.vectorizer.fit_transform(list(texts))
        self.n_labels = y.shape[1]
        if self.n_labels == 1:
            # scikit-learn reads a one-column target as binary (two probability columns);
            # an empty second genre keeps it multi-label, and is dropped when predicting.
            y = np.hstack([y, np.zeros_like(y)])
        with warnings.catch_warnings():
            # A genre with no positive training row becomes a constant 0 predictor; that
            # is the right answer, not something the user must act on.
            warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
            self.classifier.fit(features, y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities ``[rows, genres]`` for raw synopses, in input order."""
        if not self.n_labels:
            raise RuntimeError("fit the baseline before predicting")
        if len(texts) == 0:
            return np.zeros((0, self.n_labels), dtype=np.float32)
        probs = self.classifier.predict_proba(self.vectorizer.transform(list(texts)))
        # [:, :n_labels] drops the empty genre added for a one-genre fit.
        return np.asarray(probs, dtype=np.float32).reshape(len(texts), -1)[:, : self.n_labels]

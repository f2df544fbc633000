"""TF-IDF of word 1–2-grams + logistic regression: the evaluation baseline, and the blend.

The baseline (`TfidfBaseline`) is a cheap reference model: every evaluation fits it on
the run's own training rows and scores it on the same rows as the language model, so a
report always says whether the LoRA model earned its cost. Benchmarks reuse it as is.

The blend (`TfidfBlend`, `fit_blend`) is optional: TF-IDF n-grams and a fine-tuned encoder
make different mistakes (names and rare words against meaning), so a weighted mean of
their probabilities can beat both. The weight is chosen on the validation split together
with the thresholds; weight 0 means no blend and nothing is saved. The TF-IDF part is
saved in the run directory as JSON (vocabulary, idf; `rundir.BLEND_FILE`) and safetensors
(coefficients; `rundir.BLEND_WEIGHTS_FILE`), never pickled, so a run stays safe to load.

scikit-learn is imported only to fit or apply a model, never by importing this module:
loading a run without a blend, and tagging with it, stay free of it.
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rundir import BLEND_FILE, BLEND_WEIGHTS_FILE


# --------------------------------------------------------------------------- baseline


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
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

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


# --------------------------------------------------------------------------- blend


WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
#: scikit-learn's default ``token_pattern``.
TOKEN = re.compile(r"(?u)\b\w\w+\b")


@dataclass
class TfidfBlend:
    """A fitted TF-IDF + logistic-regression model and its weight in the blend."""

    weight: float
    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # [genres, features]
    intercept: np.ndarray  # [genres]
    params: dict

    def _vectorizer(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(
            ngram_range=tuple(self.params["ngram_range"]), sublinear_tf=True, strip_accents="unicode",
            lowercase=True, dtype=np.float32,
        )
        vec.vocabulary_ = self.vocabulary
        vec.idf_ = self.idf
        return vec

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One synopsis's TF-IDF vector as ``(feature ids, values)``, float32, L2-normalised.

        What ``TfidfVectorizer.transform`` computes with the saved vocabulary and idf (lower
        case, accents stripped by NFKD, ``(?u)\\b\\w\\w+\\b`` tokens, word n-grams,
        ``1 + log(tf)``, times idf), written out so that predicting needs neither
        scikit-learn nor scipy (1.5 s of imports; a test checks it against scikit-learn).
        """
        text = text.lower()
        if not text.isascii():
            text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        words = TOKEN.findall(text)
        low, high = self.params["ngram_range"]
        counts: dict[int, int] = {}
        for n in range(max(low, 1), min(high, len(words)) + 1):
            for i in range(len(words) - n + 1):
                j = self.vocabulary.get(words[i] if n == 1 else " ".join(words[i:i + n]))
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
        ids = np.fromiter(counts, dtype=np.int64, count=len(counts))
        values = (np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts))) + np.float32(1.0)) * self.idf[ids]
        norm = np.sqrt(np.dot(values, values))
        return ids, values / norm if norm > 0 else values

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """TF-IDF model probabilities ``[rows, genres]``."""
        weights = self.coef.T.astype(np.float32)  # [features, genres]: a row per n-gram, gathered per synopsis
        logits = np.tile(self.intercept.astype(np.float32), (len(texts), 1))
        for row, text in enumerate(texts):
            ids, values = self.features(text)
            if len(ids):
                logits[row] += values @ weights[ids]
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def mix(self, lm_probs: np.ndarray, texts: list[str]) -> np.ndarray:
        """``(1 - weight) * language model + weight * TF-IDF``."""
        return self.combine(lm_probs, self.predict_proba(texts))

    def combine(self, lm_probs: np.ndarray, tfidf_probs: np.ndarray) -> np.ndarray:
        """`mix` with the TF-IDF probabilities already computed."""
        return ((1.0 - self.weight) * lm_probs + self.weight * tfidf_probs).astype(np.float32)

    def save(self, run_dir: Path) -> None:
        """Write ``blend.json`` and ``blend.safetensors`` into a run directory."""
        from safetensors.numpy import save_file

        meta = {"weight": self.weight, "params": self.params, "vocabulary": self.vocabulary}
        (Path(run_dir) / BLEND_FILE).write_text(json.dumps(meta, ensure_ascii=False) + "\n", encoding="utf-8")
        # float16 coefficients: the run stays a few MB; probabilities move by < 1e-3.
        save_file({"idf": self.idf.astype(np.float32), "coef": self.coef.astype(np.float16),
                   "intercept": self.intercept.astype(np.float32)}, str(Path(run_dir) / BLEND_WEIGHTS_FILE))

    @classmethod
    def load(cls, run_dir: Path) -> "TfidfBlend | None":
        """The run's blend, or None when it has none."""
        from safetensors.numpy import load_file

        meta_file = Path(run_dir) / BLEND_FILE
        if not meta_file.is_file():
            return None
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        arrays = load_file(str(Path(run_dir) / BLEND_WEIGHTS_FILE))
        return cls(weight=float(meta["weight"]), vocabulary=meta["vocabulary"], idf=arrays["idf"],
                   coef=arrays["coef"].astype(np.float32), intercept=arrays["intercept"], params=meta["params"])


def load_blend(run_dir: str | Path, n_labels: int) -> TfidfBlend | None:
    """A run's blend (`TfidfBlend.load`), checked against its genre count; None when it has none.

    Raises:
        ModelError: The blend files are corrupt, or hold another number of genres.
    """
    from safetensors import SafetensorError

    from .errors import ModelError

    try:
        blend = TfidfBlend.load(Path(run_dir))
    except (OSError, KeyError, ValueError, SafetensorError) as exc:
        raise ModelError(f"the TF-IDF blend in {run_dir} is corrupt ({exc.__class__.__name__}); train the run again") from None
    if blend is not None and blend.coef.shape[0] != n_labels:
        raise ModelError(f"the TF-IDF blend in {run_dir} has {blend.coef.shape[0]} genres, the run {n_labels}")
    return blend


def fit_tfidf(train_texts: list[str], y_train: np.ndarray) -> TfidfBlend:
    """Fit the blend's TF-IDF + logistic-regression model on the training split (weight 0 until chosen).

    Args:
        train_texts: Training synopses.
        y_train: Their 0/1 targets ``[rows, genres]``.
    """
    base = TfidfBaseline().fit(train_texts, y_train)
    coef = np.vstack([np.asarray(est.coef_, dtype=np.float32).reshape(1, -1) if hasattr(est, "coef_")
                      else np.zeros((1, len(base.vectorizer.vocabulary_)), dtype=np.float32)
                      for est in base.classifier.estimators_])
    intercept = np.array([float(np.ravel(est.intercept_)[0]) if hasattr(est, "intercept_") else -20.0
                          for est in base.classifier.estimators_], dtype=np.float32)
    return TfidfBlend(weight=0.0, vocabulary={k: int(v) for k, v in base.vectorizer.vocabulary_.items()},
                      idf=base.vectorizer.idf_.astype(np.float32), coef=coef, intercept=intercept,
                      params={"ngram_range": list(base.params["ngram_range"]), "C": base.params["C"]})


def choose_weight(blend: TfidfBlend, tfidf_val: np.ndarray, val_lm_probs: np.ndarray,
                  choose) -> tuple[TfidfBlend | None, object]:
    """Pick the blend weight (of `WEIGHTS`) whose rule scores best on validation.

    Args:
        blend: A fitted blend (`fit_tfidf`); its weight is set to the chosen one.
        tfidf_val: ``blend.predict_proba`` of the validation synopses ``[rows, genres]``.
        val_lm_probs: The language model's validation probabilities ``[rows, genres]``.
        choose: ``choose(probs) -> (score, rule)`` (see `fit_blend`).

    Returns:
        ``(blend or None when weight 0 wins, what ``choose`` returned for the chosen weight)``.
    """
    best = None
    for weight in WEIGHTS:
        score, rule = choose((1 - weight) * val_lm_probs + weight * tfidf_val)
        if best is None or score > best[0] + 1e-9:  # ties keep the smaller weight
            best = (score, rule, weight)
    _, rule, weight = best
    if weight == 0.0:
        return None, rule
    blend.weight = weight
    return blend, rule


def fit_blend(train_texts: list[str], y_train: np.ndarray, val_texts: list[str], y_val: np.ndarray,
              val_lm_probs: np.ndarray, choose) -> tuple[TfidfBlend | None, object]:
    """Fit TF-IDF on the training split and pick the blend weight on validation.

    Args:
        train_texts, y_train: Training synopses and 0/1 targets.
        val_texts, y_val: Validation synopses and targets.
        val_lm_probs: The language model's validation probabilities.
        choose: ``choose(probs) -> (score, rule)``: the run's own rule tuning
            (`genretag.training.choose_rule`, a `genretag.decision.DecisionRule`) and score,
            so the weight is judged by the rule the run ships with.

    Returns:
        ``(blend or None when weight 0 wins, what ``choose`` returned for the chosen weight)``.
    """
    blend = fit_tfidf(train_texts, y_train)
    return choose_weight(blend, blend.predict_proba(val_texts), val_lm_probs, choose)

"""An optional blend of the language model with a TF-IDF model, chosen on validation.

TF-IDF n-grams and a fine-tuned encoder make different mistakes (names and rare words
against meaning), so a weighted mean of their probabilities can beat both. The weight is
chosen on the validation split together with the thresholds; weight 0 means no blend and
nothing is saved. The TF-IDF part is saved as JSON (vocabulary, idf) and safetensors
(coefficients), never pickled, so a run stays safe to load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLEND_FILE = "blend.json"
BLEND_WEIGHTS_FILE = "blend.safetensors"
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


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

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """TF-IDF model probabilities ``[rows, genres]``."""
        if not texts:
            return np.zeros((0, len(self.intercept)), dtype=np.float32)
        features = self._vectorizer().transform(texts)
        logits = features @ self.coef.T.astype(np.float32) + self.intercept
        return (1.0 / (1.0 + np.exp(-np.asarray(logits)))).astype(np.float32)

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


def fit_blend(train_texts: list[str], y_train: np.ndarray, val_texts: list[str], y_val: np.ndarray,
              val_lm_probs: np.ndarray, choose) -> tuple[TfidfBlend | None, np.ndarray]:
    """Fit TF-IDF on the training split and pick the blend weight on validation.

    Args:
        train_texts, y_train: Training synopses and 0/1 targets.
        val_texts, y_val: Validation synopses and targets.
        val_lm_probs: The language model's validation probabilities.
        choose: ``choose(probs) -> (score, thresholds)``: the run's own threshold tuning and
            score, so the weight is judged by the rule the run ships with.

    Returns:
        ``(blend or None when weight 0 wins, thresholds for the chosen weight)``.
    """
    from .baseline import TfidfBaseline

    base = TfidfBaseline().fit(train_texts, y_train)
    coef = np.vstack([np.asarray(est.coef_, dtype=np.float32).reshape(1, -1) if hasattr(est, "coef_")
                      else np.zeros((1, len(base.vectorizer.vocabulary_)), dtype=np.float32)
                      for est in base.classifier.estimators_])
    intercept = np.array([float(np.ravel(est.intercept_)[0]) if hasattr(est, "intercept_") else -20.0
                          for est in base.classifier.estimators_], dtype=np.float32)
    blend = TfidfBlend(weight=0.0, vocabulary={k: int(v) for k, v in base.vectorizer.vocabulary_.items()},
                       idf=base.vectorizer.idf_.astype(np.float32), coef=coef, intercept=intercept,
                       params={"ngram_range": list(base.params["ngram_range"]), "C": base.params["C"]})
    tfidf_val = blend.predict_proba(val_texts)
    best = None
    for weight in WEIGHTS:
        score, thresholds = choose((1 - weight) * val_lm_probs + weight * tfidf_val)
        if best is None or score > best[0] + 1e-9:  # ties keep the smaller weight
            best = (score, thresholds, weight)
    _, thresholds, weight = best
    if weight == 0.0:
        return None, thresholds
    blend.weight = weight
    return blend, thresholds

"""The optional TF-IDF blend: chosen on validation, saved without pickle, applied on load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genretag import runs
from genretag.config import TrainConfig
from genretag.errors import ModelError
from genretag.rundir import BLEND_FILE, BLEND_WEIGHTS_FILE
from genretag.tfidf import TfidfBaseline, TfidfBlend, fit_blend
from genretag.training import train

TEXTS = ["cowboy sheriff ranch", "ghost haunted demon", "love kiss wedding", "cowboy ghost night", "funny prank party",
         "sheriff outlaw horse", "demon scream curse", "wedding date summer"]
Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])


def test_saved_blend_reproduces_the_fitted_tfidf_model(tmp_path):
    blend, _ = fit_blend(TEXTS, Y, TEXTS, Y, np.full(Y.shape, 0.5), lambda p: (float(-np.abs(p - Y).sum()), np.full(3, 0.5)))
    assert blend is not None and blend.weight > 0  # TF-IDF fits its own training rows better than a flat 0.5
    expected = TfidfBaseline().fit(TEXTS, Y).predict_proba(["a cowboy and a ghost"])
    blend.save(tmp_path)
    loaded = TfidfBlend.load(tmp_path)
    assert np.allclose(loaded.predict_proba(["a cowboy and a ghost"]), expected, atol=1e-3)  # float16 coefficients
    lm = np.array([[0.2, 0.4, 0.6]], dtype=np.float32)
    mixed = loaded.mix(lm, ["a cowboy and a ghost"])
    assert np.allclose(mixed, (1 - loaded.weight) * lm + loaded.weight * expected, atol=1e-3)


def test_weight_zero_wins_ties_and_saves_nothing():
    blend, thresholds = fit_blend(TEXTS, Y, TEXTS, Y, np.full(Y.shape, 0.5), lambda p: (1.0, np.full(3, 0.4)))
    assert blend is None and thresholds.tolist() == [0.4, 0.4, 0.4]


def test_blended_run_loads_and_mixes(movies_csv, tiny_bert, tmp_path):
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, eval_batch_size=32, blend_tfidf=True)
    result = train(config, tmp_path / "run")
    run = runs.load_run(result.path)
    texts = ["A cowboy rides a horse into a saloon.", "A ghost screams in a haunted house."]
    if result.metrics["blend_weight"] == 0:
        assert run.blend is None and not (result.path / BLEND_FILE).exists()
        pytest.skip("the random tiny model + TF-IDF blend chose weight 0 on this data")
    assert (result.path / BLEND_FILE).is_file() and (result.path / BLEND_WEIGHTS_FILE).is_file()
    assert run.blend.weight == result.metrics["blend_weight"]
    probs = run.predict_proba(texts)
    lm_only = dataclasses.replace(run, blend=None).predict_proba(texts)
    assert np.allclose(probs, run.blend.mix(lm_only, texts))

    from genretag.export import export_run

    with pytest.raises(ModelError, match="blend"):
        export_run(result.path, tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_blend_features_are_scikit_learns_without_importing_it():
    """`TfidfBlend.features` computes what TfidfVectorizer.transform does (accents, case, bigrams, repeats)."""
    texts = TEXTS + ["Amélie and the COWBOY: a naïve ghost, a ghost, a ghost!", "ÉTÉ café crème", "x", "",
                     "sheriff outlaw sheriff outlaw horse horse horse", "Ghost-demon wedding_date 42 summer's"]
    corpus = texts * 2 + ["cafe creme ete amelie naive", "wedding_date summer 42 ghost demon"]
    y = np.array([[i % 2, i % 3 == 0, i % 4 == 1] for i in range(len(corpus))], dtype=int)
    base = TfidfBaseline(min_df=1).fit(corpus, y)
    model = TfidfBlend(weight=0.5, vocabulary={k: int(v) for k, v in base.vectorizer.vocabulary_.items()},
                       idf=base.vectorizer.idf_.astype(np.float32),
                       coef=np.vstack([e.coef_.reshape(1, -1) for e in base.classifier.estimators_]).astype(np.float32),
                       intercept=np.array([float(e.intercept_[0]) for e in base.classifier.estimators_], dtype=np.float32),
                       params={"ngram_range": [1, 2], "C": 4.0})
    reference = base.vectorizer.transform(texts).toarray()
    for row, text in enumerate(texts):
        ids, values = model.features(text)
        mine = np.zeros(reference.shape[1], dtype=np.float32)
        mine[ids] = values
        assert np.abs(mine - reference[row]).max() < 1e-6, text
    assert np.abs(model.predict_proba(texts) - base.predict_proba(texts)).max() < 1e-5

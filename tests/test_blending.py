"""The optional TF-IDF blend: chosen on validation, saved without pickle, applied on load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genretag import runs
from genretag.baseline import TfidfBaseline
from genretag.blending import BLEND_FILE, BLEND_WEIGHTS_FILE, TfidfBlend, fit_blend
from genretag.config import TrainConfig
from genretag.errors import ModelError
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

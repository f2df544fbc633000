"""Shared fixtures: tiny random backbones saved to disk, small CSVs, the real data path."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import pytest

# No network in tests: a hub lookup must fail at once instead of waiting on timeouts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tiny models run fastest on one thread; more only adds contention (subprocesses inherit it).
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _onnx_cache(tmp_path_factory):
    """Exported runs (genretag.onnx_runtime) go to a folder of the test session, not ~/.cache."""
    import os

    os.environ["GENRETAG_CACHE"] = str(tmp_path_factory.mktemp("genretag-cache"))
    yield


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run tests marked slow (always run in CI, where CI=true)")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` (real backbones, subprocess pipelines, compiles) are opt-in
    locally with ``--slow`` and always run in CI."""
    if config.getoption("--slow") or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="slow: pass --slow to run it (CI always does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_CSV = SHARED_DATA / "tmdb-movie-genres-9k.csv"

WORDS = {
    "Action": "explosion chase fight soldier gun hero mission battle".split(),
    "Comedy": "funny laugh prank party wedding clumsy joke awkward".split(),
    "Drama": "family loss grief struggle father mother illness court".split(),
    "Horror": "ghost haunted demon blood scream curse night creature".split(),
    "Romance": "love kiss heart couple wedding summer letter date".split(),
    "Western": "cowboy sheriff ranch outlaw desert horse saloon frontier".split(),
}
FILLER = "the a of in on with and his her they find must after when".split()


def real_csv_or_skip() -> Path:
    """The shared real data file; a failure in CI when it is missing, a skip elsewhere."""
    if REAL_CSV.is_file():
        return REAL_CSV
    if os.environ.get("CI") == "true":
        pytest.fail(f"shared data not found at {REAL_CSV} (required in CI)")
    pytest.skip(f"shared data not found at {REAL_CSV}")


def synthetic_movies(n: int, seed: int = 0) -> list[dict]:
    """Invented movies whose synopses carry words of their genres (learnable, tiny)."""
    rng = random.Random(seed)
    names = list(WORDS)
    rows = []
    for i in range(n):
        k = 1 if rng.random() < 0.6 else 2
        genres = rng.sample(names, k)
        words = [rng.choice(WORDS[g]) for g in genres for _ in range(4)] + rng.sample(FILLER, 5)
        rng.shuffle(words)
        rows.append({"title": f"Movie {i}", "overview": " ".join(words).capitalize() + ".", "genres": "|".join(genres)})
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write dict rows as a UTF-8 CSV with a header."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def movies_csv(tmp_path_factory) -> Path:
    """A 120-row synthetic labelled CSV (6 genres)."""
    return write_csv(tmp_path_factory.mktemp("data") / "movies.csv", synthetic_movies(120))


def _corpus() -> list[str]:
    return [r["overview"] for r in synthetic_movies(300, seed=1)] + ["Hello world.", "An empty night."]


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    """A 2-layer random Qwen3 with a small byte-level BPE tokenizer, saved to disk."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModel, PreTrainedTokenizerFast, Qwen3Config

    path = tmp_path_factory.mktemp("tiny-qwen3")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    tokenizer.save_pretrained(path)
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=None,
    )
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer random BERT with a real WordPiece tokenizer (MiniLM's), saved to disk."""
    import torch
    from transformers import AutoModel, AutoTokenizer, BertConfig

    from genretag.modeling import resolve_backbone

    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm"))
    tokenizer.save_pretrained(path)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=512,
    )
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, movies_csv, tiny_qwen) -> Path:
    """A tiny Qwen3 run trained once per session, as a user would: ``genretag train --epochs 1``.

    Laid out as ``<folder>/runs/tiny``. Shared by every module that needs a trained run:
    read it, never change it (copy it first).
    """
    from typer.testing import CliRunner

    from genretag.cli import app

    out = tmp_path_factory.mktemp("shared-cli") / "runs" / "tiny"
    result = CliRunner().invoke(app, ["train", "--data", str(movies_csv), "--backbone", str(tiny_qwen), "--epochs", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "saved run" in result.output and "validation micro-F1" in result.output
    return out


@pytest.fixture(scope="session")
def tiny_api_run(tmp_path_factory, movies_csv, tiny_qwen) -> Path:
    """A tiny Qwen3 run trained once per session from Python (1 epoch, batches of 16, 32 to predict).

    Shared like `tiny_run`: read it, never change it (copy it first).
    """
    from genretag.config import TrainConfig
    from genretag.training import train

    out = tmp_path_factory.mktemp("shared-api") / "run"
    train(TrainConfig(data=str(movies_csv), backbone=str(tiny_qwen), epochs=1, batch_size=16, eval_batch_size=32), out)
    return out


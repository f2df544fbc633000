"""Tiny random backbones of the architecture families people fine-tune most (2 layers, width 32).

Each is saved to a folder with a small byte-level BPE tokenizer, so `from_pretrained`,
`get_peft_model` and a forward pass really run, with no network. `tests/conftest.py` has
the session fixtures for Qwen3 and BERT; these are built on demand by the tests that need them.
"""

from __future__ import annotations

from pathlib import Path

from conftest import synthetic_movies

#: family -> (config class name, config keyword arguments); vocab size and special tokens are added.
FAMILIES = {
    "gpt2": ("GPT2Config", dict(n_embd=32, n_layer=2, n_head=4, n_positions=128)),
    "gpt_neox": ("GPTNeoXConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=64, max_position_embeddings=128)),
    "llama": ("LlamaConfig", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, max_position_embeddings=128)),
    "mistral": ("MistralConfig", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, head_dim=8, max_position_embeddings=128)),
    "gemma": ("GemmaConfig", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, head_dim=8, max_position_embeddings=128)),
    "qwen3": ("Qwen3Config", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, head_dim=8, max_position_embeddings=128)),
    # Its attention layers are FalconLinear, a subclass of nn.Linear.
    "falcon": ("FalconConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                    max_position_embeddings=128)),
    "bert": ("BertConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                max_position_embeddings=64)),
    "roberta": ("RobertaConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                      max_position_embeddings=66)),
    "deberta-v2": ("DebertaV2Config", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                           intermediate_size=64, max_position_embeddings=64)),
    "distilbert": ("DistilBertConfig", dict(dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64)),
    "t5": ("T5Config", dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4)),
    # Relative attention buckets and absolute positions both (all-mpnet-base-v2): the positions set the limit.
    "mpnet": ("MPNetConfig", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                  max_position_embeddings=66)),
    "modernbert": ("ModernBertConfig", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=4, max_position_embeddings=128,
                                            global_attn_every_n_layers=1, local_attention=16,
                                            cls_token_id=1, sep_token_id=1)),
}


def save_tokenizer(path: Path):
    """A 400-token byte-level BPE tokenizer with an EOS and a pad token, saved to ``path``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([r["overview"] for r in synthetic_movies(300, seed=1)], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<eos>", pad_token="<pad>")
    tokenizer.save_pretrained(path)
    return tokenizer


def save_tiny(family: str, path: Path, *, seed: int = 0, **overrides) -> Path:
    """Save a tiny random model of ``family`` (a key of `FAMILIES`) and its tokenizer to ``path``."""
    import torch
    import transformers

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = save_tokenizer(path)
    class_name, kwargs = FAMILIES[family]
    config = getattr(transformers, class_name)(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id, **{**kwargs, **overrides})
    torch.manual_seed(seed)
    if family == "t5":
        transformers.T5EncoderModel(config).save_pretrained(path)
    else:
        transformers.AutoModel.from_config(config).save_pretrained(path)
    return path

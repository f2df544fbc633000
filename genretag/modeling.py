"""The model: a Hugging Face backbone, LoRA adapters on it, pooling and a linear head.

`GenreModel` is the one model class; `build_model` makes a fresh one for training and
`load_run` (in `genretag.runs`) rebuilds a trained one from a run directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
from pathlib import Path

import torch
from torch import nn

from .backbones import PRESETS, backbone_identity, genretag_folder, resolve_backbone  # noqa: F401 - modeling's interface
from .lora import can_merge, merge_adapter
from .config import POOLINGS, ModelSpec
from .errors import ConfigError, ModelError
# The exported model's code (torch and transformers only) owns the pooling, so the two cannot drift apart.
from .hf_modeling import ENCODER_CLASSES, pool_tokens

logger = logging.getLogger(__name__)

#: LoRA target modules by family, tried in order against the backbone's adaptable layers
#: (``nn.Linear`` and GPT-2's ``Conv1D``) when peft's table has no entry for its model type.
LORA_TARGET_FAMILIES = (
    ("q_proj", "v_proj"),  # Qwen, Llama, Mistral, Gemma, OPT, Phi ...
    ("query", "value"),  # BERT, RoBERTa, MiniLM, ELECTRA ...
    ("query_proj", "value_proj"),  # DeBERTa-v2/v3
    ("q_lin", "v_lin"),  # DistilBERT
    ("q", "v"),  # T5 encoders, MPNet
    ("c_attn",),  # GPT-2 (a Conv1D), GPT-BigCode
    ("query_key_value",),  # GPT-NeoX, Falcon, BLOOM
    ("qkv_proj",),  # Phi-3
    ("Wqkv",),  # ModernBERT
    ("Wq", "Wv"),  # CTRL
    ("W_pack",),  # Baichuan (remote code): fused qkv
    ("qkv",),  # fused qkv of other remote-code models
)


#: Model types whose position ids start after the padding index (RoBERTa's scheme), so
#: ``pad_token_id + 1`` of their ``max_position_embeddings`` are never a text position.
OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "roberta-prelayernorm",
                              "data2vec-text", "longformer", "ibert", "mpnet"})

#: How `weights_fingerprint` samples; a run records it beside the digest, so a later
#: change of method makes old digests incomparable rather than wrong.
FINGERPRINT_METHOD = "sampled-bf16-v1"
FINGERPRINT_VALUES = 256


def position_limit(config) -> int | None:
    """Longest input in tokens the backbone's position embeddings cover; None: no fixed limit.

    ``max_position_embeddings`` (GPT-2's ``n_positions``; MPT's ``max_seq_len``), less the offset
    of RoBERTa-style position ids; None for relative positions (T5, DeBERTa-v3), which take any length.
    """
    if getattr(config, "relative_attention_num_buckets", None) is not None and \
            getattr(config, "max_position_embeddings", None) is None:  # T5 family (MPNet has both: absolute limit)
        return None
    if getattr(config, "model_type", "").startswith("deberta") and not getattr(config, "position_biased_input", True):
        return None
    limit = getattr(config, "max_position_embeddings", None)
    if limit is None:  # MPT's ALiBi table is built for max_seq_len positions: longer inputs fail
        limit = getattr(config, "max_seq_len", None)
    if not isinstance(limit, int) or limit <= 0:
        return None
    kind = getattr(config, "model_type", "")
    if kind in OFFSET_POSITIONS:
        # Position ids start after the padding index: the config's pad id, but MPNet's is fixed at 1 in
        # transformers (MPNetEmbeddings.padding_idx) whatever its config says.
        limit -= (1 if kind == "mpnet" else getattr(config, "pad_token_id", None) or 0) + 1
    return limit


def is_decoder_only(config) -> bool:
    """True for causal language models (Qwen, Llama, GPT-2), False for encoders (BERT).

    BERT also has a causal-LM head class, so "has a masked-LM head" is what marks an
    encoder; everything with a causal-LM head and no masked-LM head is decoder-only.
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    kind = getattr(config, "model_type", "")
    if getattr(config, "is_encoder_decoder", False):
        return False
    return kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def adaptable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers LoRA can adapt, by module name: ``nn.Linear`` and GPT-2's ``Conv1D``."""
    from transformers.pytorch_utils import Conv1D

    return {name: module for name, module in model.named_modules() if isinstance(module, (nn.Linear, Conv1D))}


def fit_max_length(max_length: int, backbone_config, backbone: str, *, what: str = "--max-length") -> int:
    """``max_length``, or the backbone's `position_limit` with a warning when that is lower.

    Longer inputs would index past the position embeddings: a shape error in the middle
    of a training or of a tagging run, at the first long synopsis.

    Args:
        max_length: Tokens asked for.
        backbone_config: The backbone's transformers config.
        backbone: Its name, for the warning.
        what: How the warning names the setting (``--max-length``, ``the run's max length``).
    """
    limit = position_limit(backbone_config)
    if limit is None or max_length <= limit:
        return max_length
    logger.warning("%s %d is more than backbone %s takes (%d tokens); using %d: longer synopses are cut there",
                   what, max_length, backbone, limit, limit)
    return limit


def default_lora_targets(model: nn.Module) -> list[str]:
    """Pick LoRA target modules (the attention's query/value projections, or its fused qkv).

    peft's table for the backbone's model type comes first; otherwise `LORA_TARGET_FAMILIES`
    are tried against the names of its `adaptable_layers`.

    Raises:
        ModelError: No known family fits (pass ``--lora-targets``).
    """
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

    leaf_names = {name.rsplit(".", 1)[-1] for name in adaptable_layers(model)}
    known = PEFT_TARGETS.get(getattr(getattr(model, "config", None), "model_type", None))
    for family in ([tuple(known)] if known else []) + list(LORA_TARGET_FAMILIES):
        if all(target in leaf_names for target in family):
            return list(family)
    raise ModelError(
        "cannot tell which layers to adapt with LoRA for this backbone; pass --lora-targets "
        f"(linear layers found: {', '.join(sorted(leaf_names)[:12]) or 'none'})"
    )


def weights_fingerprint(model: nn.Module, skip: set[str] | frozenset[str] = frozenset()) -> str:
    """A digest of a backbone's weights that tells two models of the same shapes apart.

    Cheap at any size: from every parameter (by name, with its shape) `FINGERPRINT_VALUES`
    evenly spaced values are hashed, rounded to bf16 so that loading in fp32 or bf16 gives
    the same digest. Parameters in ``skip`` (newly initialised on load, so random each
    time) are left out.

    Returns:
        ``"<method>:<sha256 hex>"`` (see `FINGERPRINT_METHOD`).
    """
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        if name in skip:
            continue
        flat = param.detach().reshape(-1)
        k = min(FINGERPRINT_VALUES, flat.numel())
        idx = torch.arange(k, dtype=torch.long, device=flat.device) * flat.numel() // max(k, 1)
        sample = flat[idx].to(torch.bfloat16).float().cpu()
        digest.update(f"{name}:{tuple(param.shape)};".encode())
        digest.update(sample.numpy().tobytes())
    return f"{FINGERPRINT_METHOD}:{digest.hexdigest()}"


@functools.lru_cache(maxsize=None)
def _hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached (one quick TCP connect), or None when it can."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)
    try:
        socket.create_connection((host, port), timeout=HUB_PROBE_SECONDS).close()
    except OSError as exc:
        return f"{host} cannot be reached ({exc.strerror or type(exc).__name__}; offline?)"
    return None


#: Seconds to wait for the hub before saying it cannot be reached (the hub's own retries take minutes).
HUB_PROBE_SECONDS = 3.0


def check_reachable(backbone: str) -> None:
    """Fail at once, not after minutes of the hub's retries, for a backbone that is neither a
    local folder nor in the Hugging Face cache while the hub cannot be reached.

    Raises:
        ModelError: The backbone cannot be had here (the message of `_load_error`).
    """
    if os.path.isdir(backbone) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return  # a folder, or offline mode: transformers answers at once
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(backbone, "config.json"), str):
            return
    except Exception:  # noqa: BLE001 - not a valid repo id: the probe and the message below tell
        pass
    problem = _hub_unreachable()
    if problem:
        raise _load_error(backbone, ConnectionError(problem))


def load_tokenizer(backbone: str, *, trust_remote_code: bool = False):
    """Load the backbone's tokenizer, with a pad token (EOS for decoder-only models)."""
    from transformers import AutoTokenizer

    check_reachable(backbone)
    try:
        tokenizer = AutoTokenizer.from_pretrained(backbone, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - hub/network/file errors come in many types
        raise _tokenizer_error(backbone, exc) from exc
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelError(f"tokenizer of {backbone} has neither a pad nor an EOS token")
        # The report pads with EOS; pooling reads the attention mask, so this is safe.
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def backbone_config(backbone: str, *, trust_remote_code: bool = False):
    """A backbone's transformers config (read from its folder or the hub, no weights loaded).

    Raises:
        ModelError: The backbone cannot be read (offline, a wrong name or folder).
    """
    from transformers import AutoConfig

    source = resolve_backbone(backbone)
    check_reachable(source)
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001
        raise _load_error(source, exc) from exc


def load_backbone(backbone: str, *, dtype: torch.dtype = torch.float32, trust_remote_code: bool = False):
    """Load the bare backbone (no LM head) with ``AutoModel`` (a T5's encoder alone)."""
    return load_backbone_and_fingerprint(backbone, dtype=dtype, trust_remote_code=trust_remote_code)[0]


def load_backbone_and_fingerprint(backbone: str, *, dtype: torch.dtype = torch.float32,
                                  trust_remote_code: bool = False) -> tuple[nn.Module, str]:
    """`load_backbone`, and the `weights_fingerprint` of the weights read from its files."""
    import transformers
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI and in logs
    check_reachable(backbone)
    if trust_remote_code:
        logger.warning("trust_remote_code is on: code from %s will run on this machine", backbone)
    try:
        config = AutoConfig.from_pretrained(backbone, trust_remote_code=trust_remote_code)
        encoder = ENCODER_CLASSES.get(getattr(config, "model_type", ""))
        if encoder is None and getattr(config, "is_encoder_decoder", False):
            raise ModelError(f"backbone {backbone} is an encoder-decoder model ({config.model_type}); "
                             "use an encoder (BERT-like) or a decoder (GPT-like) model")
        loader = getattr(transformers, encoder) if encoder else AutoModel
        model, info = loader.from_pretrained(backbone, config=config, dtype=dtype, trust_remote_code=trust_remote_code,
                                             output_loading_info=True)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _load_error(backbone, exc) from exc
    # Weights missing from the files are drawn at random on every load: not part of the identity.
    return model, weights_fingerprint(model, skip=set(info.get("missing_keys") or ()))


def _reason(exc: Exception, limit: int = 400) -> str:
    """An exception's whole message on one line (transformers puts the reason after a colon and a line break)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_error(backbone: str, exc: Exception) -> ModelError:
    if os.path.isdir(backbone):
        return ModelError(genretag_folder(backbone) or f"cannot load backbone from {backbone}: {_reason(exc)}")
    return ModelError(
        f"cannot load backbone '{backbone}': no such folder here, and not loadable as a Hugging Face model id "
        f"(offline, or not a model id?): {_reason(exc, 200)}; for a local folder pass --backbone with its path, "
        "else try --backbone minilm (works offline)"
    )


#: The tokenizers library's file: with it, a tokenizer loads without sentencepiece or tiktoken.
TOKENIZER_JSON = "tokenizer.json"


def _local_folder(backbone: str) -> Path | None:
    """The folder a backbone's files are in: the folder itself, or a hub model's snapshot in the cache."""
    if os.path.isdir(backbone):
        return Path(backbone)
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(backbone, "config.json")
    except Exception:  # noqa: BLE001 - not a repo id
        return None
    return Path(found).parent if isinstance(found, str) else None


def _sentencepiece_missing() -> bool:
    """True when the ``sentencepiece`` package, which reads ``*.model`` tokenizer files, is not installed
    (asked as transformers asks)."""
    from transformers.utils import import_utils

    return not import_utils.is_sentencepiece_available()


def _tokenizer_error(backbone: str, exc: Exception) -> ModelError:
    """What stopped a backbone's tokenizer from loading, said with its reason: a missing package
    rather than the fallback transformers tried after it, the files there rather than a cut list."""
    folder = _local_folder(backbone)
    if folder is None or genretag_folder(folder):
        return _load_error(backbone, exc)
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    # SentencePiece models (spiece.model, tokenizer.model ...); transformers reads tiktoken.model as tiktoken's.
    spm = [f for f in files if f.endswith(".model") and f != "tiktoken.model"]
    if spm and TOKENIZER_JSON not in files and _sentencepiece_missing():
        return ModelError(f"the tokenizer of backbone {backbone} is a SentencePiece model ({spm[0]}, no "
                          f"{TOKENIZER_JSON}); reading it needs the sentencepiece package: pip install sentencepiece")
    tokenizer_files = [f for f in files if f.startswith(("tokenizer", "vocab", "merges", "special_tokens", "added_tokens",
                                                         "spiece", "sentencepiece")) or f in spm]
    return ModelError(f"cannot load the tokenizer of backbone {backbone}: {_reason(exc)} (tokenizer files there: "
                      f"{', '.join(tokenizer_files) or 'none'}; save the tokenizer with the model: "
                      "tokenizer.save_pretrained)")


class GenreModel(nn.Module):
    """Backbone (with LoRA) → pooled vector → dropout → linear head → one logit per genre."""

    def __init__(self, backbone: nn.Module, num_labels: int, pooling: str, decoder: bool, head_dropout: float = 0.1,
                 weights_fingerprint: str | None = None):
        super().__init__()
        self.backbone = backbone
        #: `weights_fingerprint` of the backbone as loaded (before LoRA), or None when unknown.
        self.weights_fingerprint = weights_fingerprint
        self.pooling = pooling
        self.decoder = decoder
        hidden = backbone.config.hidden_size
        self.dropout = nn.Dropout(head_dropout)
        self.head = nn.Linear(hidden, num_labels)

    @property
    def num_labels(self) -> int:
        """Outputs (genres) per row."""
        return self.head.out_features

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Reduce token states ``[batch, seq, hidden]`` to one vector per row (`hf_modeling.pool_tokens`)."""
        return pool_tokens(hidden, mask, self.pooling)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Return logits ``[batch, num_labels]`` (apply a sigmoid for probabilities)."""
        kwargs = {}
        if self.decoder:
            # Positions count real tokens only, so a left-padded row sees the same
            # positions as it would alone in the batch.
            kwargs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        pooled = self.pool(out.last_hidden_state, attention_mask)
        return self.head(self.dropout(pooled.to(self.head.weight.dtype)))


def build_model(spec: ModelSpec, *, dtype: torch.dtype = torch.float32, adapter_dir: str | Path | None = None,
                merge: bool = False) -> tuple[GenreModel, object]:
    """Build a `GenreModel` and its tokenizer from a spec.

    Args:
        spec: Architecture description; ``lora_targets=None`` and ``pooling="auto"``
            are resolved in place from the backbone.
        dtype: Backbone weight dtype.
        adapter_dir: Load trained LoRA weights from this folder instead of fresh ones.
        merge: With ``adapter_dir``: fold the LoRA weights into the backbone's (a plain
            backbone, not a peft model; peft is not even imported for a plain LoRA adapter).

    Returns:
        ``(model, tokenizer)``.
    """
    source = resolve_backbone(spec.backbone)
    tokenizer = load_tokenizer(source, trust_remote_code=spec.trust_remote_code)
    base, fingerprint = load_backbone_and_fingerprint(source, dtype=dtype, trust_remote_code=spec.trust_remote_code)
    _check_tokenizer_fits(tokenizer, base, spec.backbone)
    decoder = is_decoder_only(base.config)
    if spec.pooling == "auto":
        spec.pooling = "last" if decoder else "mean"
    if spec.pooling not in POOLINGS:
        raise ModelError(f"unknown pooling '{spec.pooling}'; choose one of {', '.join(POOLINGS)}")
    if adapter_dir is None and decoder and spec.pooling == "cls":
        # A causal model's first token attends to itself alone: its state says nothing of the synopsis.
        raise ConfigError("pooling", f"cls does not fit backbone {spec.backbone}: it is a decoder-only model "
                                     f"({getattr(base.config, 'model_type', '?')}), whose attention only looks back, "
                                     "so its first token has seen nothing of the synopsis; use --pooling last (the "
                                     "default for a decoder) or mean")
    if adapter_dir is not None and merge and can_merge(adapter_dir):
        backbone = base
        spec.lora_targets = merge_adapter(base, adapter_dir)
    elif adapter_dir is not None:
        from peft import PeftModel

        backbone = PeftModel.from_pretrained(base, str(adapter_dir), is_trainable=False)
        spec.lora_targets = sorted(backbone.peft_config["default"].target_modules)
        if merge:
            backbone = backbone.merge_and_unload()
    else:
        from peft import LoraConfig, get_peft_model

        chosen = spec.lora_targets is not None
        try:  # before LoRA wraps the layers it names (read by the check of chosen targets)
            usual = default_lora_targets(base)
        except ModelError:
            if not chosen:
                raise
            usual = None
        if not chosen:
            spec.lora_targets = usual
        # As peft matches a target: the whole name, or its last dotted parts ("ry" is no part of "query").
        missing = [t for t in spec.lora_targets
                   if not any(n == t or n.endswith("." + t) for n, _ in base.named_modules())]
        if missing:
            leaves = sorted({n.rsplit(".", 1)[-1] for n in adaptable_layers(base)})
            raise ConfigError("lora_targets", f"names no layer of this backbone: {', '.join(missing)}; its linear "
                                              f"layers: {', '.join(leaves[:12])} (names are case-sensitive)")
        _check_adaptable(base, spec.lora_targets)
        from transformers.pytorch_utils import Conv1D

        targets = [m for n, m in adaptable_layers(base).items() if n.rsplit(".", 1)[-1] in spec.lora_targets]
        lora = LoraConfig(
            r=spec.lora_r,
            lora_alpha=spec.lora_alpha,
            lora_dropout=spec.lora_dropout,
            target_modules=list(spec.lora_targets),
            bias="none",
            # GPT-2's Conv1D stores its weight transposed ([in, out]).
            fan_in_fan_out=any(isinstance(m, Conv1D) for m in targets),
        )
        backbone = get_peft_model(base, lora)
    model = GenreModel(backbone, spec.num_labels, spec.pooling, decoder, spec.head_dropout,
                       weights_fingerprint=fingerprint)
    if adapter_dir is None and chosen:  # the default targets (q/v) always feed the pooled states
        _check_targets_learn(model, tokenizer, spec.lora_targets, usual)
    if adapter_dir is None:  # a model to train: its run records the tokenizer too (`tokenizer_fingerprint`)
        model.tokenizer_fingerprint = tokenizer_fingerprint(tokenizer)
        model.tokenizer_probe = tokenizer_probe(tokenizer)
    return model, tokenizer


#: Texts whose token ids tell tokenizers of one vocabulary apart: lower-casing, accents, Unicode
#: normalisation, whitespace and the special tokens added around a text (`tokenizer_probe`).
PROBE_TEXTS = ("The QUICK brown Fox, in São Paulo's CAFÉ, jumps over 12 lazy dogs!",
               "ÉTÉ naïve résumé ﬁnal ｆｕｌｌ-width", "tab\there  two spaces\nnew line", "日本語 🎬 Ωμέγα")


def tokenizer_probe(tokenizer) -> str:
    """sha256 of the ids `PROBE_TEXTS` become (special tokens included): two tokenizers with one
    vocabulary (`tokenizer_fingerprint`) but another normaliser (one lower-cases, one does not)
    give other ids. 64 hex digits."""
    ids = [list(map(int, tokenizer(text, add_special_tokens=True)["input_ids"])) for text in PROBE_TEXTS]
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 of a tokenizer's vocabulary (token → id) and kind: two tokenizers with one
    fingerprint turn a text into the same ids. 64 hex digits."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    digest = hashlib.sha256(type(tokenizer).__name__.removesuffix("Fast").encode())
    digest.update(json.dumps(vocab, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def _check_tokenizer_fits(tokenizer, base: nn.Module, backbone: str) -> None:
    """A backbone folder saved without its tokenizer files gets a stand-in tokenizer of a few
    tokens from transformers, which reads every word as unknown: refuse it. A pad token added
    to the tokenizer without an embedding of its own is replaced by EOS (said).

    Raises:
        ModelError: The tokenizer knows fewer than half the tokens the model has embeddings for,
            or its pad token has no embedding and neither has an EOS token.
    """
    embeddings = getattr(base.get_input_embeddings(), "num_embeddings", None)
    pad = tokenizer.pad_token_id
    if isinstance(embeddings, int) and isinstance(pad, int) and pad >= embeddings:
        # A pad token added to the tokenizer (add_special_tokens) without resizing the model's embeddings.
        eos = tokenizer.eos_token_id
        if not isinstance(eos, int) or eos >= embeddings:
            raise ModelError(f"the pad token of backbone {backbone} ({tokenizer.pad_token!r}, id {pad}) has no "
                             f"embedding (the model has {embeddings}); resize the embeddings "
                             "(model.resize_token_embeddings(len(tokenizer))) and save the model again")
        logger.warning("backbone %s: its pad token %r (id %d) has no embedding (the model has %d); padding with "
                       "the EOS token %r instead (pooling reads the attention mask)", backbone, tokenizer.pad_token,
                       pad, embeddings, tokenizer.eos_token)
        tokenizer.pad_token = tokenizer.eos_token
    vocab = getattr(base.config, "vocab_size", None)
    if isinstance(vocab, int) and vocab > 0 and len(tokenizer) < vocab // 2:
        raise ModelError(f"the tokenizer of backbone {backbone} has {len(tokenizer)} tokens and its model "
                         f"{vocab}: the folder's tokenizer files are missing or belong to another model; "
                         "save the tokenizer with the model (tokenizer.save_pretrained)")


def _check_adaptable(base: nn.Module, targets: list[str]) -> None:
    """Every module a LoRA target name matches (as peft matches: the name, or its last
    dotted parts) must be a layer LoRA adapts; peft's own error dumps whole modules.

    Raises:
        ConfigError: A target names a norm, a container such as ``attention``, or the like (``lora_targets``).
    """
    # Linear layers only: LoRA on an embedding trains, but the run's adapter cannot be merged for tagging.
    layers = adaptable_layers(base)
    allowed = set(layers)
    for target in targets:
        wrong = [(n, m) for n, m in base.named_modules()
                 if (n == target or n.endswith("." + target)) and n not in allowed]
        if wrong:
            name, module = wrong[0]
            leaves = sorted({n.rsplit(".", 1)[-1] for n in layers})
            kind = type(module).__name__
            raise ConfigError("lora_targets", f"{target}: '{name}' is {'an' if kind[:1] in 'AEIOU' else 'a'} {kind}, "
                                              f"not a linear layer; linear layers of this backbone: "
                                              f"{', '.join(leaves[:12])}")


def _check_targets_learn(model: GenreModel, tokenizer, targets: list[str], usual: list[str] | None) -> None:
    """Every LoRA target must feed the token states `GenreModel` pools: a layer off that path
    (BERT's ``pooler.dense``, which makes ``pooler_output`` from the states genretag pools
    itself) gets no gradient, so its LoRA would stay zero for the whole training, silently.

    One backward pass of a short text tells, for any architecture. A target counts as used
    when any layer it names gets a gradient: a mixture-of-experts layer the text does not
    route to is not a dead target.

    Args:
        model: A fresh model, LoRA on ``targets``.
        tokenizer: Its tokenizer.
        targets: The LoRA target names the user chose.
        usual: The backbone's default targets, suggested instead (None: unknown).

    Raises:
        ConfigError: A target none of whose layers gets a gradient (``lora_targets``).
    """
    base = model.backbone.get_base_model()
    adapted = {name: module for name, module in base.named_modules() if hasattr(module, "lora_B")}
    batch = tokenizer(["A ghost haunts the family home after the funeral."], return_tensors="pt")
    was_training = model.training
    model.eval()  # no dropout: the probe draws no random numbers, so the training is the same as without it
    try:
        with torch.enable_grad():
            model(batch["input_ids"], batch["attention_mask"]).float().sum().backward()
        learns = {name for name, module in adapted.items()
                  if any(p.grad is not None for p in module.lora_B.parameters())}
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    for target in targets:
        names = [n for n in adapted if n == target or n.endswith("." + target)]
        if names and not learns.intersection(names):
            where = f"'{names[0]}'" + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
            such_as = f", such as {','.join(usual)} (the default)" if usual else ""
            raise ConfigError("lora_targets", f"{target}: {where} does not feed the last hidden states that genretag "
                                              f"pools ({model.pooling} pooling), so its LoRA would get no gradient and "
                                              f"never learn; adapt layers inside the transformer blocks{such_as}")


def backbone_signature(model: GenreModel) -> dict:
    """A few config facts that tell whether a saved run fits a loaded backbone."""
    cfg = model.backbone.config
    return {
        "model_type": getattr(cfg, "model_type", None),
        "hidden_size": getattr(cfg, "hidden_size", None),
        "num_hidden_layers": getattr(cfg, "num_hidden_layers", None),
        "vocab_size": getattr(cfg, "vocab_size", None),
    }


#: Config keys that change what a backbone computes from the same weights and token ids (an activation, a
#: norm's epsilon, a position scheme, the attention layout): a run keeps those its backbone sets
#: (`backbone_settings`), and a backbone whose config.json sets one otherwise is refused.
COMPUTE_KEYS = (
    "hidden_act", "hidden_activation", "activation_function", "layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps",
    "position_embedding_type", "max_position_embeddings", "type_vocab_size", "rope_theta", "rope_scaling",
    "rope_parameters", "partial_rotary_factor", "num_attention_heads", "num_key_value_heads", "head_dim",
    "intermediate_size", "sliding_window", "attention_bias", "scale_embedding", "is_decoder",
)


def backbone_settings(config) -> dict:
    """The `COMPUTE_KEYS` a backbone's config sets (not None), as JSON values: ``{key: value}``."""
    found = {}
    for key in COMPUTE_KEYS:
        value = getattr(config, key, None)
        if value is not None:
            found[key] = json.loads(json.dumps(value, sort_keys=True, default=str))
    return found


class EnsembleTagger(nn.Module):
    """Several `GenreModel` models as one: the logit of their mean probability.

    Returning logits keeps every consumer of a tagger (batching, bf16 parity checks,
    sigmoid, thresholds) unchanged.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.pooling = members[0].pooling
        self.decoder = members[0].decoder

    @property
    def num_labels(self) -> int:
        """Outputs (genres) per row."""
        return self.members[0].num_labels

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, num_labels]`` of the members' mean probability."""
        probs = torch.stack([torch.sigmoid(m(input_ids, attention_mask).float()) for m in self.members]).mean(0)
        probs = probs.clamp(1e-7, 1 - 1e-7)
        return torch.log(probs) - torch.log1p(-probs)

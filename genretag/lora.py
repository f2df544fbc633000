"""Folding a saved LoRA adapter into a backbone's weights without peft.

To predict, a run's LoRA matrices are merged into the backbone (W + scale * B A) anyway,
so peft (and building its wrapper, only to unwrap it) is not needed for it. This reads the adapter that peft wrote, for the plain LoRA that genretag trains;
anything else (DoRA, biases, per-layer ranks, embedding or Conv1D adapters) is left to
peft: `can_merge` says which.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
#: peft's prefix of the backbone's module names in a saved adapter.
PREFIX = "base_model.model."
#: adapter_config.json keys that do not change the merged weights (or are read by it). Any
#: other key must be unset (None, False, empty) for the merge to be plain LoRA's; a key a
#: newer peft adds is therefore left to peft until it is known here.
NEUTRAL_KEYS = {"r", "lora_alpha", "use_rslora", "target_modules", "exclude_modules", "layers_to_transform",
                "layers_pattern", "lora_dropout", "init_lora_weights", "loftq_config", "inference_mode", "task_type",
                "base_model_name_or_path", "revision", "auto_mapping", "peft_version", "megatron_core",
                "qalora_group_size", "peft_type", "bias"}


def can_merge(adapter_dir: str | Path) -> bool:
    """True when ``adapter_dir`` holds a plain LoRA adapter that `merge_adapter` folds exactly as peft does."""
    try:
        config = json.loads((Path(adapter_dir) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # peft reports a broken adapter in its own words
    if not isinstance(config, dict) or not isinstance(config.get("r"), int) or config["r"] < 1:
        return False
    if config.get("peft_type") != "LORA" or config.get("bias", "none") != "none":
        return False
    return not any(value for key, value in config.items() if key not in NEUTRAL_KEYS)


def merge_adapter(backbone: nn.Module, adapter_dir: str | Path) -> list[str]:
    """Add ``scale * B @ A`` of each adapted layer to its weight, in place.

    Args:
        backbone: The bare backbone the adapter was trained on (``AutoModel``).
        adapter_dir: A folder peft wrote (`can_merge` must be True for it).

    Returns:
        The adapter's target modules, sorted, as peft lists them (e.g. ``["query", "value"]``).

    Raises:
        ValueError: The weights do not fit the backbone (a layer missing, or a shape).
        OSError, safetensors.SafetensorError: The weights file is missing or corrupt.
    """
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    r, alpha = config["r"], config.get("lora_alpha", 8)
    scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    weights = load_file(str(adapter_dir / ADAPTER_WEIGHTS))
    layers = sorted({key[: -len(".lora_A.weight")] for key in weights if key.endswith(".lora_A.weight")})
    expected = {f"{layer}.lora_{part}.weight" for layer in layers for part in "AB"}
    if not layers or set(weights) != expected:
        extra = sorted(set(weights) - expected)
        raise ValueError(f"unexpected adapter weights: {(extra or ['none'])[0]}")
    with torch.no_grad():
        for layer in layers:
            name = layer[len(PREFIX):] if layer.startswith(PREFIX) else layer
            try:
                module = backbone.get_submodule(name)
            except AttributeError:
                raise ValueError(f"the adapter adapts {name}, which the backbone does not have") from None
            # A subclass with nn.Linear's weights (Falcon's FalconLinear) merges alike; GPT-2's Conv1D is no subclass.
            if not isinstance(module, nn.Linear) or not module.weight.is_floating_point():
                raise ValueError(f"the adapter adapts {name}, which is not a linear layer")
            a, b = weights[f"{layer}.lora_A.weight"], weights[f"{layer}.lora_B.weight"]
            if a.shape[1] != module.in_features or b.shape[0] != module.out_features or a.shape[0] != b.shape[1]:
                raise ValueError(f"adapter weights of {name} do not fit the layer ({tuple(b.shape)} x {tuple(a.shape)} "
                                 f"for {module.out_features} x {module.in_features})")
            # The order of peft's merge, so the merged weights are the same to the last bit.
            delta = (b.to(module.weight.dtype) @ a.to(module.weight.dtype)) * scale
            module.weight.add_(delta.to(module.weight.device))
    targets = config.get("target_modules")
    return sorted(targets) if isinstance(targets, list) else sorted({layer.rsplit(".", 1)[-1] for layer in layers})

"""Faster arithmetic for prediction where bf16 is not native: int8 dynamic quantisation.

`genretag.predict.Predictor` decides whether to use it (the same parity check with fp32,
and fp32 recheck of rows near a decision boundary, as for bf16); this module only says
what the machine can do and builds the quantised copy of a model.

int8 here is PyTorch's dynamic quantisation of the ``nn.Linear`` layers of the backbone
(weights int8 per output channel, activations quantised per batch at run time, fbgemm /
oneDNN kernels; AVX2 is enough). The head stays fp32: it is tiny, and its error would go
straight into the logits.
"""

from __future__ import annotations

import copy
import os
import warnings

import torch
from torch import nn

#: ``ONEDNN_MAX_CPU_ISA`` values (and prefixes) under which oneDNN still has native bf16
#: kernels; a cap below them (``AVX2``, ``AVX512_CORE`` ...) makes bf16 emulated and slow.
BF16_ISAS = ("DEFAULT", "ALL", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX10")


def onednn_allows_bf16() -> bool:
    """False when ``ONEDNN_MAX_CPU_ISA`` caps oneDNN below the ISAs with native bf16.

    torch's capability checks read the CPU, not this cap, so without it a machine told
    to use AVX2 kernels only would still pick bf16 and run it emulated.
    """
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return not cap or cap.startswith(BF16_ISAS)


def int8_supported(device: torch.device | str) -> bool:
    """True where int8 dynamic quantisation runs: a CPU with a quantised engine (x86, ARM)."""
    if torch.device(device).type != "cpu":
        return False
    try:
        from torch.ao.quantization import quantize_dynamic  # noqa: F401 - deprecated; may leave torch one day
    except ImportError:
        return False
    return any(engine != "none" for engine in torch.backends.quantized.supported_engines)


def quantize_int8(model: nn.Module) -> nn.Module:
    """An int8 copy of ``model`` (``model`` itself is not changed).

    Every ``nn.Linear`` except heads (modules named ``head``) becomes a dynamically
    quantised linear layer with per-channel weight scales (per-tensor scales moved the
    bundled model's probabilities about 1.5x more). Works on a `GenreTagger` with merged
    LoRA weights and on an `EnsembleTagger` of them; a peft model's LoRA layers are not
    ``nn.Linear`` and stay fp32.

    Returns:
        The quantised copy, in eval mode, on the CPU.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
             if type(module) is nn.Linear and name.rsplit(".", 1)[-1] != "head"}
    with warnings.catch_warnings():
        # torch 2.10+ deprecates eager-mode quantisation in favour of torchao (not a dependency);
        # the API still works, and `int8_supported` turns it off if it goes.
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(copy.deepcopy(model).cpu(), names, dtype=torch.qint8, inplace=True)
    quantized.eval()
    return quantized

"""A genretag tagger as a plain Hugging Face model: ``genretag export`` ships this file.

``genretag export`` copies this module into the exported folder as
``modeling_genretag.py`` and points ``auto_map`` at it, so that::

    AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)

loads the tagger with torch and transformers alone (no genretag). It must therefore
import nothing but torch and transformers.

Why custom code and not a stock ``*ForSequenceClassification`` class: none reproduces
genretag's head. Decoder classes (``Qwen3ForSequenceClassification``) pool the last
token like genretag but their ``score`` layer has no bias; BERT's class classifies the
[CLS] token through a tanh pooler, while genretag mean-pools the tokens. Loading the
weights into either would give different probabilities, silently.
"""

from __future__ import annotations

import torch
import transformers
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


#: Encoder-decoder model types whose encoder alone is the backbone (``AutoModel`` would
#: build the whole model, whose forward needs decoder inputs).
ENCODER_CLASSES = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}


def pool_tokens(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Reduce token states to one vector per row: genretag's pooling, here and in training.

    Args:
        hidden: ``[batch, seq, hidden]`` token states.
        mask: ``[batch, seq]`` attention mask (1: a real token).
        pooling: ``last`` (last real token), ``cls`` (first token), else masked ``mean``.

    Returns:
        ``[batch, hidden]``.
    """
    if pooling == "last":
        # Index of the last 1 in the mask: right and left padding alike.
        positions = torch.arange(mask.shape[1], device=mask.device)
        last = (mask * positions).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class GenretagConfig(PretrainedConfig):
    """The backbone's own config (as a dict), the pooling, the head and the decision rule.

    Args:
        backbone_config: ``to_dict()`` of the backbone's config (with its ``model_type``).
        pooling: ``last`` (last real token), ``mean`` (masked mean) or ``cls`` (first token).
        decoder: The backbone is decoder-only (positions then count real tokens only).
        head_dropout: Dropout before the linear head (active in training only).
        thresholds: Genre → decision threshold on the sigmoid probability.
        at_least_one: genretag gives a movie its most likely genre when none passes.
        max_genres: genretag keeps at most this many genres per movie (None: no limit).
        max_text_tokens: Tokens per text genretag trained and predicts with (longer texts are truncated).
    """

    model_type = "genretag"

    def __init__(
        self,
        backbone_config=None,
        pooling="mean",
        decoder=False,
        head_dropout=0.1,
        thresholds=None,
        at_least_one=False,
        max_genres=None,
        max_text_tokens=128,
        **kwargs,
    ):
        self.backbone_config = dict(backbone_config or {})
        self.pooling = pooling
        self.decoder = decoder
        self.head_dropout = head_dropout
        self.thresholds = dict(thresholds or {})
        self.at_least_one = at_least_one
        self.max_genres = max_genres
        self.max_text_tokens = max_text_tokens
        super().__init__(**kwargs)


def _backbone_config(config: GenretagConfig):
    values = dict(config.backbone_config)
    return AutoConfig.for_model(values.pop("model_type"), **values)


class GenretagForSequenceClassification(PreTrainedModel):
    """Backbone → pooled vector → dropout → linear head: one logit per genre (multi-label)."""

    config_class = GenretagConfig
    base_model_prefix = "backbone"
    _supports_sdpa = True

    def __init__(self, config: GenretagConfig):
        super().__init__(config)
        backbone_config = _backbone_config(config)
        encoder = ENCODER_CLASSES.get(getattr(backbone_config, "model_type", ""))
        if encoder:  # T5: the encoder alone, as genretag trained it
            self.backbone = getattr(transformers, encoder)(backbone_config)
        else:
            self.backbone = AutoModel.from_config(backbone_config)
        self.dropout = nn.Dropout(config.head_dropout)
        self.classifier = nn.Linear(backbone_config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        # Only the head is ours; the backbone initialises itself in AutoModel.from_config.
        if module is getattr(self, "classifier", None):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Reduce token states ``[batch, seq, hidden]`` to one vector per row (`pool_tokens`)."""
        return pool_tokens(hidden, mask, self.config.pooling)

    def forward(self, input_ids=None, attention_mask=None, labels=None, token_type_ids=None, **kwargs):
        """Logits ``[batch, genres]``; with ``labels`` (0/1 floats) also the BCE loss.

        ``token_type_ids`` is accepted and ignored: genretag classifies one text, whose
        type ids are all zero, which is what the backbone assumes without them.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        backbone_kwargs = {}
        if self.config.decoder:
            # Positions count real tokens only, so a left-padded row sees the same
            # positions as it would alone in the batch.
            backbone_kwargs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **backbone_kwargs)
        pooled = self.pool(out.last_hidden_state, attention_mask)
        logits = self.classifier(self.dropout(pooled.to(self.classifier.weight.dtype)))
        loss = None
        if labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return SequenceClassifierOutput(loss=loss, logits=logits)

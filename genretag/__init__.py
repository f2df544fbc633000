"""genretag: tag movies with their genres from a synopsis (multi-label, LoRA)."""

__version__ = "0.1.0"

"""genretag: tag movies with their genres from a synopsis (multi-label, LoRA)."""

import os

__version__ = "0.1.0"

# oneDNN (torch's CPU kernels) caches up to 1,024 primitives, one set per input shape;
# with dynamic padding every batch length is a new shape, and in bf16 the cache held
# about 500 MB by the end of a MiniLM epoch. 32 keeps the speed with a peak of 1.8 GB
# instead of 2.35 (benchmarks/onednn_cache.py, benchmarks/RESULTS.md). Read when
# oneDNN first runs, so it must be set before any torch CPU work; a value already in
# the environment wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")


# The public Python API, imported on first use so that ``import genretag`` (and the CLI's
# --help) stays free of torch.
_LAZY = {
    "TrainConfig": "genretag.config",
    "train": "genretag.training",
    "tune": "genretag.tuning",
    "load_run": "genretag.runs",
    "Run": "genretag.runs",
    "tag_csv": "genretag.tagging",
    "GenreTagger": "genretag.tagging",
    "evaluate": "genretag.evaluation",
    "write_report": "genretag.report",
    "build_ensemble": "genretag.ensemble",
    "build_soup": "genretag.soup",
    "retune_run": "genretag.retune",
    "export_run": "genretag.export",
    "GenretagError": "genretag.errors",
    "DataError": "genretag.errors",
    "ConfigError": "genretag.errors",
    "ModelError": "genretag.errors",
    "OutputExistsError": "genretag.errors",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genretag' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

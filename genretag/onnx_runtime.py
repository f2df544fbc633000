"""Tagging on a CPU with ONNX Runtime: the run exported once to ONNX, then predicted without torch.

A tag run on a CPU spends much of its time before the first row: importing torch and
transformers and building the model (about 5 s on a 2-core machine), then predicting with
PyTorch's eager kernels. The first time a run tags on a CPU, it is exported to ONNX (the
LoRA already merged into the backbone, the head and the pooling included) together with its
tokenizer, into a cache folder keyed by the run's fingerprint and its backbone's files; every
later tag run loads that folder with ONNX Runtime and the Rust tokenizer alone: no torch, no
transformers, and ONNX Runtime's fused fp32 kernels.

The export is checked before it is used: the tokenizer must give the same token ids as the
transformers tokenizer on probe texts (accents, CJK, emoji, over-long texts), and the ONNX model
the same probabilities as the PyTorch model in fp32 (max |Δp| ≤ `PARITY_TOLERANCE`) on rows of
every length up to the run's max length, padded in batches of several sizes. Both sides compute
in fp32, so no row needs a recheck near a threshold (bf16 and int8 do, see `genretag.predict`).
A run that fails the check, or cannot be exported, is tagged with PyTorch as before, with a
warning that says why.

Cache: ``$GENRETAG_CACHE``, else ``$XDG_CACHE_HOME/genretag``, else ``~/.cache/genretag``;
one folder ``onnx/<key>/`` per run (about the size of the backbone in fp32: 90 MB for MiniLM).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .decision import DecisionRule, finite_scores
from .errors import DataError, ModelError, first_line
from .rundir import LABELS_FILE, META_FILE, check_run_dir, fingerprint, read_config, read_json
from .tfidf import load_blend

logger = logging.getLogger(__name__)

FORMAT = 1
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "onnx.json"
#: Largest |Δp| between ONNX Runtime and PyTorch (both fp32) the export may show; measured
#: about 1e-6 on MiniLM, the size of PyTorch's own differences between batch sizes.
PARITY_TOLERANCE = 1e-4
OPSET = 17
#: Rows per ONNX Runtime call; length-sorted, so padding stays short.
BATCH_SIZE = 32
PROBE_TEXTS = (
    "A retired detective returns for one last case in a city that has forgotten him.",
    "Amélie, a shy waitress in Montmartre, decides to change the lives of those around her — naïvely.",
    "千と千尋の神隠し: a girl wanders into a world of spirits.",
    "Two friends 🎬 road-trip across   the desert\n\nwith a stolen car and a dog.",
    "ÉTÉ À PARIS. Ça commence ici; the end?",
    "Ein Mann kämpft gegen die Zeit. Он бежит. Η ιστορία.",
    "x",
)


def available() -> bool:
    """True when ONNX Runtime and the tokenizers library are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers"))


def cache_root() -> Path:
    """Where exported runs are kept (see the module docstring)."""
    if os.environ.get("GENRETAG_CACHE"):
        return Path(os.environ["GENRETAG_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genretag"


def backbone_files(source: str) -> Path | None:
    """The folder holding a backbone's files: a local folder, or a hub model's cached snapshot."""
    path = Path(source)
    if path.is_dir():
        return path
    if path.is_absolute() or source.startswith((".", "~")):
        return None  # a folder that is not there (any more): loading the run says so
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(source, "config.json")
    except Exception:  # noqa: BLE001 - not a valid hub id, no hub library: unknown, so no cache
        return None
    return Path(found).parent if isinstance(found, str) else None


def cache_key(run_path: str | Path, backbone: str | None = None, *, forced: bool = False) -> str | None:
    """The cache folder name for a run: its `fingerprint` and its backbone's file identities.

    Backbone files are identified by name, size and modification time (reading a 1 GB
    backbone to hash it would cost more than the export saves). None when the backbone's
    files cannot be found without loading it (a hub model not in the local cache).
    ``forced``: an export made with ``--force-backbone`` (a backbone the run's checks refuse)
    has a key of its own, so that a later run without the option is checked again.
    """
    from .backbones import resolve_backbone

    run_path = Path(run_path)
    digest = hashlib.sha256(f"genretag-onnx-{FORMAT}\0{fingerprint(run_path)}\0{'forced' if forced else ''}".encode())
    for source in sorted(set(run_backbones(run_path, backbone))):
        try:
            folder = backbone_files(resolve_backbone(source))
        except ModelError:
            return None
        if folder is None:
            return None
        digest.update(f"{source}\0".encode())
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(folder).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:32]


def run_backbones(run_path: Path, backbone: str | None = None) -> list[str]:
    """The backbones a run (each member of an ensemble) loads."""
    from .rundir import is_ensemble, member_paths

    if backbone:
        return [backbone]
    paths = member_paths(run_path) if is_ensemble(run_path) else [run_path]
    return [read_config(p).backbone for p in paths]


def export_folder(key: str) -> Path:
    """The cache folder of the export with `cache_key` ``key``."""
    return cache_root() / "onnx" / key


def cached_folder(run_path: str | Path, backbone: str | None = None) -> Path | None:
    """The run's exported folder in the cache, or None when it has not been exported here."""
    key = cache_key(run_path, backbone)
    if key is None:
        return None
    folder = export_folder(key)
    return folder if (folder / INFO_FILE).is_file() else None


def describe_export(run_path: str | Path, backbone: str | None = None) -> dict | None:
    """What ``genretag info`` shows: the run's export in this machine's cache, if any.

    Returns:
        None when the run cannot be exported here (ONNX Runtime missing, the backbone's files
        not found), else ``{"exported": bool, "folder": str}`` plus the export's ``onnx.json``.
    """
    if not available():
        return None
    try:
        key = cache_key(run_path, backbone)
    except ModelError:
        return None
    if key is None:
        return None
    folder = export_folder(key)
    if not (folder / INFO_FILE).is_file():
        return {"exported": False, "folder": str(folder)}
    try:
        saved = read_json(folder / INFO_FILE)
    except ModelError:
        return {"exported": False, "folder": str(folder)}
    return {**saved, "exported": True, "folder": str(folder)}


@dataclass
class Precision:
    """What `genretag tag` reports as the arithmetic it used (as `predict.PrecisionChoice`)."""

    precision: str = "fp32"
    reason: str = "ONNX Runtime"


@dataclass
class OnnxRun:
    """A run predicting through ONNX Runtime; the parts of `genretag.runs.Run` that tagging uses."""

    path: Path
    config: TrainConfig
    labels: list[str]
    rule: DecisionRule
    meta: dict
    blend: object | None
    session: object
    tokenizer: object
    folder: Path
    info: dict
    batch_size: int | None = None
    """Rows per ONNX Runtime call (None: `BATCH_SIZE`)."""
    choice: Precision = field(default_factory=Precision)
    last_truncated: int | None = None
    """Texts of the last `logits` call longer than the max length (cut by the tokenizer)."""

    def predictor(self, precision: str = "fp32") -> "OnnxRun":
        """Itself, whatever ``precision`` asks: ONNX Runtime computes in fp32 (`choice` says so)."""
        return self

    def logits(self, texts: list[str], *, batch_size: int | None = None, on_batch=None) -> np.ndarray:
        """Logits ``[rows, genres]`` (float32) for synopses, in input order."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        self.last_truncated = sum(1 for e in encodings if e.overflowing)
        ids = [e.ids for e in encodings]
        order = np.argsort([len(row) for row in ids], kind="stable")
        size = batch_size or self.batch_size or BATCH_SIZE
        for start in range(0, len(order), size):
            rows = order[start:start + size]
            input_ids, mask = padded([ids[i] for i in rows], self.pad_id)
            out[rows] = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
            if on_batch is not None:
                on_batch(len(rows))
        return out

    @property
    def pad_id(self) -> int:
        """Token id used for padding (the run's tokenizer's)."""
        return int(self.info["pad_id"])

    def predict_proba(self, texts, *, precision: str = "fp32", batch_size: int | None = None, on_batch=None,
                      rule: DecisionRule | None = None) -> np.ndarray:
        """Probabilities ``[rows, genres]`` for raw synopses, in input order, as `genretag.runs.Run.predict_proba`.

        Always fp32: ``precision`` and ``rule`` (which `Run` uses to recheck rows near a
        decision boundary after a faster arithmetic) change nothing here.
        """
        texts = list(texts)
        probs = 1.0 / (1.0 + np.exp(-self.logits(texts, batch_size=batch_size, on_batch=on_batch).astype(np.float64)))
        probs = probs.astype(np.float32)
        if self.blend is not None and texts:
            probs = self.blend.mix(probs, texts)
        return finite_scores(probs, self.path)


def load(run_path: str | Path, folder: Path, *, threads: int | None = None) -> OnnxRun:
    """Load an exported run from its cache folder (torch-free).

    Raises:
        ModelError: The cache folder is unreadable (remove it and tag again).
    """
    import onnxruntime as ort
    from tokenizers import Tokenizer

    run_path = Path(run_path)
    info = read_json(folder / INFO_FILE)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        first = first_line(exc)
        raise ModelError(f"the exported model in {folder} cannot be loaded ({first})") from None
    config = read_config(run_path)
    config.max_length = int(info["max_length"])
    labels = read_json(run_path / LABELS_FILE)
    run = OnnxRun(path=run_path, config=config, labels=labels, rule=DecisionRule.load(run_path, labels=labels, config=config),
                  meta=read_json(run_path / META_FILE), blend=load_blend(run_path, len(labels)), session=session, tokenizer=tokenizer,
                  folder=folder, info=info)
    return run


def export(run, folder: Path) -> dict:
    """Export a loaded run (`genretag.runs.Run`, on the CPU) to ``folder`` and check it.

    Writes `MODEL_FILE`, `TOKENIZER_FILE` and `INFO_FILE` into a fresh folder beside
    ``folder`` and renames it into place, so a half-written export is never used.

    Returns:
        What `INFO_FILE` holds: max length, pad id, the parity measured, library versions.

    Raises:
        ModelError: The run cannot be exported, or the export does not match the PyTorch
            model (the message says by how much).
    """
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer

    if not getattr(run.tokenizer, "is_fast", False):
        raise ModelError("its tokenizer has no fast (Rust) version to run without transformers")
    model = run.model
    if next(model.parameters()).device.type != "cpu":
        raise ModelError("the model is not on the CPU")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        started = time.perf_counter()
        tokenizer = Tokenizer.from_str(run.tokenizer.backend_tokenizer.to_str())
        tokenizer.no_padding()
        tokenizer.enable_truncation(run.config.max_length, direction=getattr(run.tokenizer, "truncation_side", "right"))
        probes = list(PROBE_TEXTS) + [" ".join(PROBE_TEXTS) * 20]
        from .batching import encode

        expected = encode(run.tokenizer, probes, run.config.max_length)
        got = [e.ids for e in tokenizer.encode_batch(probes)]
        if got != expected:
            raise ModelError("its tokenizer gives other token ids without transformers")
        tokenizer.save(str(tmp / TOKENIZER_FILE))

        model.eval()
        pad_id = int(run.pad_id)
        ids = torch.tensor([expected[0][:8], expected[1][:8]])
        mask = torch.ones_like(ids)
        mask[1, 5:] = 0  # a padded row, so that the mask is an input of the graph and not a constant
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (ids, mask), str(tmp / MODEL_FILE), input_names=["input_ids", "attention_mask"],
                              output_names=["logits"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}})
        session = ort.InferenceSession(str(tmp / MODEL_FILE), providers=["CPUExecutionProvider"])
        worst, rows = _parity(model, session, expected, pad_id, run.config.max_length, len(run.tokenizer))
        if worst > PARITY_TOLERANCE:
            raise ModelError(f"the ONNX model differs from the PyTorch model by up to {worst:.2g} in probability "
                             f"(tolerance {PARITY_TOLERANCE:g})")
        info = {"format": FORMAT, "run": str(Path(run.path).resolve()), "max_length": int(run.config.max_length),
                "pad_id": pad_id, "labels": len(run.labels), "opset": OPSET,
                "parity": {"rows": rows, "max_abs_dp": float(worst), "tolerance": PARITY_TOLERANCE},
                "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__},
                "export_seconds": round(time.perf_counter() - started, 2)}
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if folder.exists() and not (folder / INFO_FILE).is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a broken export (see `prepare`)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / INFO_FILE).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process exported the same run first: use its export
            return read_json(folder / INFO_FILE)
        return info
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def padded(rows: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask (int64 ``[rows, longest]``), right-padded: the ONNX model's inputs."""
    ids = np.full((len(rows), max(max((len(r) for r in rows), default=1), 1)), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    for j, row in enumerate(rows):
        ids[j, :len(row)] = row
        mask[j, :len(row)] = 1
    return ids, mask


def _parity(model, session, probe_ids: list[list[int]], pad_id: int, max_length: int, vocab: int) -> tuple[float, int]:
    """Max |Δp| between ONNX Runtime and PyTorch (fp32) over probe rows, and how many rows."""
    import torch

    rng = np.random.default_rng(0)
    special = set(probe_ids[0][:1] + probe_ids[0][-1:])
    rows = [list(r) for r in probe_ids]
    for length in sorted({2, 3, 7, 16, 33, max_length // 2, max_length}):
        body = rng.integers(1000 if vocab > 2000 else 1, vocab, size=max(length - len(special), 1)).tolist()
        rows.append((probe_ids[0][:1] + body + probe_ids[0][-1:])[:max_length])
    worst = 0.0
    for size in (1, 5, len(rows)):
        for start in range(0, len(rows), size):
            ids, mask = padded(rows[start:start + size], pad_id)
            with torch.no_grad():
                want = torch.sigmoid(model(torch.from_numpy(ids), torch.from_numpy(mask)).float()).numpy()
            got = 1.0 / (1.0 + np.exp(-session.run(None, {"input_ids": ids, "attention_mask": mask})[0]))
            worst = max(worst, float(np.abs(got - want).max()))
    return worst, len(rows)


def prepare(run_path: str | Path, load_torch, *, threads: int | None = None, backbone: str | None = None,
            strict: bool = False, forced: bool = False):
    """The run to tag with on this machine: exported (`OnnxRun`) when it can be, else PyTorch's.

    Args:
        run_path: The run directory.
        load_torch: ``() -> genretag.runs.Run``: loads the run with PyTorch (called only
            when the run is not in the cache yet, or cannot use ONNX Runtime).
        threads: CPU threads for ONNX Runtime (default: one per physical core).
        backbone: The ``--backbone`` override, part of the cache key.
        forced: ``--force-backbone`` was given (part of the cache key: `cache_key`).
        strict: Raise `ModelError` instead of falling back to PyTorch (``--runtime onnx``).

    Returns:
        An `OnnxRun`, or the PyTorch `Run` (ONNX Runtime missing, a GPU present, a backbone
        not cached locally, or an export refused by its check: the last with a warning).
    """
    if not strict and (not available() or gpu_present()):
        return load_torch()
    check_run_dir(run_path)  # a missing or incomplete run: the same message as PyTorch's loading
    key = cache_key(run_path, backbone, forced=forced and bool(backbone))
    if key is None:
        if strict:
            raise ModelError(f"cannot find the files of {run_path}'s backbone here without loading it; "
                             "tag once with --runtime torch, or use --runtime auto")
        return load_torch()
    folder = export_folder(key)
    if (folder / INFO_FILE).is_file():
        try:
            return load(run_path, folder, threads=threads)
        except ModelError as exc:
            logger.warning("%s; exporting it again", exc)
            shutil.rmtree(folder, ignore_errors=True)
    problem = unwritable(folder.parent)
    if problem:
        message = f"cannot write the ONNX export cache: {problem}; set GENRETAG_CACHE to a writable folder"
        if strict:
            raise DataError(message)
        logger.warning("tagging with PyTorch: %s", message)
        return load_torch()
    run = load_torch()
    logger.info("exporting the model to ONNX once, for faster tagging on this CPU (cached in %s)", folder)
    try:
        info = export(run, folder)
    except Exception as exc:  # noqa: BLE001 - the exporter fails in many ways on unusual models
        first = first_line(exc)
        why = first if isinstance(exc, (ModelError, OSError)) else f"{type(exc).__name__}: {first}"
        if strict:
            raise ModelError(f"this run cannot use ONNX Runtime: {why}") from None
        logger.warning("tagging with PyTorch: this run cannot use ONNX Runtime (%s)", why)
        return run
    logger.info("exported in %.1f s; ONNX Runtime matches PyTorch within %.1g on %d probe rows",
                info["export_seconds"], info["parity"]["max_abs_dp"], info["parity"]["rows"])
    prune(folder, Path(run_path))
    return load(run_path, folder, threads=threads)


def unwritable(folder: Path) -> str | None:
    """Why files cannot be written into ``folder`` (created if missing), or None when they can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"{folder} is not writable ({exc.strerror or exc})"
    return None


RUNTIMES = ("auto", "onnx", "torch")


def check_runtime(runtime: str, precision: str = "auto", device: str | None = None) -> None:
    """Check a tagging runtime against the precision and device asked for (before anything is loaded).

    Raises:
        ConfigError: An unknown runtime; ``onnx`` with bf16, int8 or a device other than the CPU.
    """
    from .config import one_of
    from .errors import ConfigError

    if runtime not in RUNTIMES:
        raise ConfigError("runtime", one_of(RUNTIMES, runtime))
    if runtime == "onnx" and (precision not in ("auto", "fp32") or not (device is None or str(device).startswith("cpu"))):
        what = f"precision {precision}" if precision not in ("auto", "fp32") else f"device {device}"
        raise ConfigError("runtime", f"onnx computes in fp32 on the CPU; drop {what} or use runtime torch")


def load_for_tagging(path: str | Path, *, runtime: str = "auto", precision: str = "auto", threads: int | None = None,
                     device: str | None = None, backbone: str | None = None, trust_remote_code: bool = False,
                     force_backbone: bool = False):
    """The run that tagging (``tag``, `genretag.GenreTagger`) predicts with: exported where it can be, else PyTorch.

    Args:
        path: The run directory.
        runtime: ``auto`` (ONNX Runtime on a CPU, see `prepare`), ``onnx`` (ONNX Runtime or
            an error) or ``torch``.
        precision: ``auto`` or ``fp32`` allow ONNX Runtime (fp32); ``bf16`` and ``int8`` are PyTorch's.
        threads, device, backbone, trust_remote_code, force_backbone: As `genretag.runs.load_run`
            (a ``device`` other than the CPU means PyTorch).

    Returns:
        An `OnnxRun` or a `genretag.runs.Run`: both predict as tagging asks.

    Raises:
        ConfigError: An unknown runtime; ``runtime="onnx"`` with bf16, int8 or a GPU device.
        ModelError, DataError: As `prepare`; ``runtime="onnx"`` without onnxruntime installed.
    """
    from .rundir import check_backbone_override

    check_backbone_override(backbone)
    check_runtime(runtime, precision, device)
    on_cpu = device is None or str(device).startswith("cpu")
    if runtime == "onnx" and not available():
        raise ModelError("runtime onnx needs the onnxruntime and tokenizers packages: pip install onnxruntime tokenizers")

    def load_torch():
        from .device import set_threads
        from .runs import load_run

        set_threads(threads)
        return load_run(path, backbone=backbone, device=device, trust_remote_code=trust_remote_code,
                        force_backbone=force_backbone)

    if runtime == "torch" or precision not in ("auto", "fp32") or not on_cpu:
        return load_torch()
    return prepare(path, load_torch, threads=threads, backbone=backbone, strict=runtime == "onnx",
                   forced=force_backbone)


def gpu_present() -> bool:
    """True when an NVIDIA driver is loaded (then PyTorch on the GPU beats ONNX Runtime on the CPU)."""
    return Path("/proc/driver/nvidia/version").exists()


def prune(folder: Path, run_path: Path) -> None:
    """Remove older exports of the same run directory (other keys), keeping ``folder``."""
    target = str(Path(run_path).resolve())
    for other in folder.parent.glob("*"):
        if other == folder or not (other / INFO_FILE).is_file():
            continue
        try:
            if json.loads((other / INFO_FILE).read_text(encoding="utf-8")).get("run") == target:
                shutil.rmtree(other, ignore_errors=True)
        except (OSError, ValueError):
            continue

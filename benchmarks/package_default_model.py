"""Copy a trained run into ``genretag/default_model`` (the bundled model), free of this machine's paths.

A run names its data file as it was given (``config.json``) and peft records the backbone
folder it loaded (``adapter/adapter_config.json``); both are paths of the machine that
trained. The bundled model names its data by file name and fingerprint (``split.json``
already does) and its backbone by the Hugging Face id of the model it adapts.

Usage::

    python benchmarks/package_default_model.py RUN [--out genretag/default_model] [--force]

Keys of the training and validation synopses made by an older key method
(`genretag.data.SYNOPSIS_KEY_METHOD`) are made again from the run's data file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from genretag.runs import ADAPTER_DIR, CONFIG_FILE, SPLIT_FILE, check_run_dir, is_ensemble, relocate_data_reference

OUT = Path(__file__).resolve().parents[1] / "genretag" / "default_model"
BACKBONE_IDS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2"}


def package(run: Path, out: Path) -> None:
    """Replace ``out`` with a copy of ``run`` whose files hold no absolute path."""
    check_run_dir(run)
    if is_ensemble(run):
        sys.exit(f"{run} is an ensemble; the bundled model is one run")
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(run, tmp)
    config = json.loads((tmp / CONFIG_FILE).read_text(encoding="utf-8"))
    config["data"] = Path(config["data"]).name
    if config.get("teacher"):
        config["teacher"] = Path(config["teacher"]).name
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    adapter = tmp / ADAPTER_DIR / "adapter_config.json"
    values = json.loads(adapter.read_text(encoding="utf-8"))
    values["base_model_name_or_path"] = BACKBONE_IDS.get(config["backbone"], config["backbone"])
    adapter.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    (tmp / ADAPTER_DIR / "README.md").unlink(missing_ok=True)  # peft's empty card template
    for file in tmp.rglob("*.json"):
        text = file.read_text(encoding="utf-8")
        if '"/' in text or ':\\\\' in text:
            sys.exit(f"{file.relative_to(tmp)} still holds an absolute path; not packaged")
    # The data path relative to the run, as seen from the bundled model's folder (a checkout
    # beside ../shared/data finds it again; an installed package does not, and says so).
    split = rekeyed(run, json.loads((tmp / SPLIT_FILE).read_text(encoding="utf-8")))
    split = relocate_data_reference(split, run, out)
    (tmp / SPLIT_FILE).write_text(json.dumps(split, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert "/" not in split["data"], split["data"]
    readme = out / "README.md"
    if readme.is_file():  # the card is written by benchmarks/quality.py --model-card afterwards
        shutil.copy(readme, tmp / "README.md")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def rekeyed(run: Path, split: dict) -> dict:
    """``split`` with the keys of its training and validation rows (evaluate's overlap check)
    made by the current key method, when they were made by an older one."""
    from genretag.data import SYNOPSIS_KEY_METHOD
    from genretag.evaluation import overlap_keys
    from genretag.runs import load_run

    fields = {"train": "train_synopses", "validation": "validation_synopses"}
    if all(isinstance(split.get(f), dict) and int(split[f].get("method", 0)) >= SYNOPSIS_KEY_METHOD
           for f in fields.values()):
        return split
    keys = overlap_keys(load_run(run), split)
    out = dict(split)
    for part, field in fields.items():
        if isinstance(keys[part], str) or keys[part] is None or keys["limited"]:
            sys.exit(f"cannot key the {part} rows of {run} by the current method: {keys[part] or keys['limited']}")
        out[field] = keys[part].to_json()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    package(args.run, args.out)
    print(f"packaged {args.run} into {args.out}")


if __name__ == "__main__":
    main()

"""``genretag merge-shards``: join the outputs of ``tag --shard i/n`` in the input's row order."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import console, handle_errors, info


@handle_errors
def merge_cli(
    out: Annotated[Path, typer.Argument(help="The --out the shards were tagged for, e.g. movies.tagged.csv.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")] = False,
    remove_shards: Annotated[bool, typer.Option("--remove-shards", help="Delete the shard files after a successful merge.")] = False,
) -> None:
    """Deprecated (use tag --engine ray). Merge <out>.shard-i-of-n.csv files into <out>, checking every shard and row."""
    from ..tagging import merge_shards

    info("[yellow]deprecated:[/] --shard and merge-shards will go; genretag tag ... --engine ray --workers N "
         "runs the workers, retries and merge for you")
    summary = merge_shards(out, force=force, remove_shards=remove_shards)
    console.print(f"wrote [bold]{summary.output}[/]" + (f" ({summary.dialect})" if summary.dialect else "")
                  + f": {summary.rows} rows from {len(summary.shards)} shards", highlight=False)

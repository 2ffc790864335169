"""`tgpipe dedup ...`: the duplicate index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, group, open_store, print_json, run, settings_of

if TYPE_CHECKING:
    from pipeline.dedup.index import RebuildResult

app = group("Find duplicates across the whole store.")


@app.command("rebuild")
def cmd_rebuild(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """Find every post's duplicates again, from scratch.

    Re-indexes every post and clusters them with TGPIPE_DEDUP_THRESHOLD. Imports do this
    by themselves when the threshold or tgpipe's dedup changed; this does it now, e.g. to
    try another threshold before the next import.
    """
    # The dedup index (numpy) is imported in the command: start-up stays under 1 s.
    from pipeline.dedup.index import rebuild
    from pipeline.store.db import unit_of_work

    settings = settings_of(ctx)

    async def go() -> RebuildResult:
        async with open_store(settings) as factory, unit_of_work(factory) as session:
            return await rebuild(
                session, settings.dedup_threshold, "asked with tgpipe dedup rebuild"
            )

    result = run(go())
    if as_json:
        print_json(
            {
                "posts": result.posts,
                "duplicates": result.duplicates,
                "threshold": settings.dedup_threshold,
            }
        )
        return
    console().print(
        f"re-indexed {result.posts} posts at threshold {settings.dedup_threshold:g}: "
        f"{result.duplicates} are duplicates of another post"
    )

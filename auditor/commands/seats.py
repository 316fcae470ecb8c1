"""`auditor seats FILE`: recompute the list seats from a results file and print the allocation.

The rules (seats, method, threshold and its base, the list contest, "against all") come
from the profile's `[rules]`; `--seats`, `--method`, `--threshold` override them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def allocation_rows(s: Any) -> list[dict[str, Any]]:
    """The allocation as JSON-ready rows: choice, votes, share, eligible, quota, remainder,
    seats (in the allocation's order: seats, then votes, descending)."""
    return [
        {"choice": a.choice, "votes": a.votes, "share": a.share, "eligible": a.eligible,
         "excluded": a.choice in s.exclude, "quota": a.quota, "remainder": a.remainder,
         "seats": a.seats}
        for a in s.allocation
    ]


def format_table(s: Any) -> list[str]:
    """Terminal lines: a header with the rules, then one line per choice, then the totals."""
    rows = allocation_rows(s)
    width = max([len("choice"), *(len(r["choice"]) for r in rows)])
    lines = [
        f"contest {s.contest!r}: {s.describe()}; threshold base {s.base:,} votes",
        f"{'choice':<{width}}  {'votes':>12}  {'share %':>8}  {'quotas':>10}  "
        f"{'remainder':>9}  {'seats':>5}",
    ]
    for r in rows:
        q = "" if r["quota"] is None else f"{r['quota']:.4f}"
        rem = "" if r["remainder"] is None else f"{r['remainder']:.4f}"
        mark = "" if r["eligible"] else ("  (excluded)" if r["excluded"] else "  (below threshold)")
        lines.append(f"{r['choice']:<{width}}  {r['votes']:>12,}  {100 * r['share']:>8.2f}  "
                     f"{q:>10}  {rem:>9}  {r['seats']:>5}{mark}")
    lines.append(f"{'total':<{width}}  {sum(r['votes'] for r in rows):>12,}  {'':>8}  {'':>10}  "
                 f"{'':>9}  {sum(r['seats'] for r in rows):>5}")
    return lines


def register(app: typer.Typer) -> None:
    """Add the `seats` command to the CLI."""

    @app.command()
    def seats(
        file: Annotated[list[Path], typer.Argument(help="Result file(s) of one release.")],
        profile: Annotated[str | None, typer.Option(help="Profile name or .toml path.")] = None,
        map_: Annotated[list[str] | None, typer.Option("--map", help="canonical=source.")] = None,
        n_seats: Annotated[int | None, typer.Option("--seats", help="Seats to allocate.")] = None,
        method: Annotated[str | None, typer.Option(
            help="hare | hare_most_votes | dhondt | sainte_lague | sainte_lague_modified.")] = None,
        threshold: Annotated[float | None, typer.Option(
            help="Threshold as a fraction (0.05) or percent (5).")] = None,
        contest: Annotated[str | None, typer.Option(help="The list contest.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Recompute the seats from the votes and print votes, shares, quotas, remainders.

        Example: auditor seats 2021.csv.zip --profile ru-2021 --json
        """
        from auditor.cli import UsageError
        from auditor.ingest import LoadOptions, load
        from auditor.seats import SeatAllocationError
        from checks.seat import SeatRulesError, setup

        if threshold is not None and threshold >= 1:
            threshold = threshold / 100.0  # "5" means 5 %
        if n_seats is not None and n_seats < 0:
            raise UsageError("--seats must be a non-negative number")
        m = load(list(file), LoadOptions(profile=profile, overrides=tuple(map_ or ())))
        try:
            s = setup(m, contest=contest, seats=n_seats, method=method, threshold=threshold)
        except (SeatAllocationError, SeatRulesError) as exc:
            raise UsageError(str(exc)) from exc
        if s is None:
            raise UsageError(
                "no seat rules: give --seats (and --method, --threshold) or a profile whose "
                "[rules] has `seats`; the file must have votes per choice"
                + ("" if contest is None else f" in contest {contest!r}")
            )
        if as_json:
            typer.echo(json.dumps(allocation_rows(s), ensure_ascii=False, indent=1))
            return
        for line in format_table(s):
            typer.echo(line)

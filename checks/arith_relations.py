"""ARITH005: the relations a profile declares by law or by form, tested on every unit.

Relations that restate an identity ARITH001–ARITH004 already test on the table are left to
those checks (`builtin_identities`), so that one broken identity is one finding.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from auditor.model import Model
from auditor.registry import check
from checks._protocol import (
    ISSUED_PARTS,
    OUT,
    aa_in_valid,
    cast_column,
    cast_tokens,
    dedupe_shared,
    extra_registered,
    label,
    relations,
    unit_frame,
)
from checks.arith import arith002_applies, arith003_applies, arith004_applies

_OPS = (">=", "<=", "==", "<", ">")
_FLIP = {">=": "<=", "<=": ">=", "==": "==", "<": ">", ">": "<"}
Signature = tuple[tuple[str, ...], str, tuple[str, ...]]


def _signatures(lhs: list[str], op: str, rhs: list[str]) -> set[Signature]:
    """The relation in every equivalent orientation (sides as sorted token tuples)."""
    a, b = tuple(sorted(lhs)), tuple(sorted(rhs))
    return {(a, op, b), (b, _FLIP[op], a)}


def builtin_identities(m: Model) -> dict[Signature, str]:
    """The relations ARITH001–ARITH004 test on this model, by signature → check code.

    A profile relation with the same signature is left to that check (ARITH005 skips it),
    so that one broken identity gives one finding, not two.
    """
    cols = m.unit_columns()
    has_votes = "choice" in m.vote_columns()
    out: dict[Signature, str] = {}

    def add(lhs: list[str], op: str, rhs: list[str], code: str) -> None:
        for sig in _signatures(lhs, op, rhs):
            out.setdefault(sig, code)

    blank = ["blank"] if "blank" in cols and m.rule("blank_in", "separate") == "separate" else []
    aa = ["against_all"] if "against_all" in cols else []
    if "valid" in cols and has_votes:
        add(["valid"], "==", ["choices", *(aa if aa_in_valid(m) else [])], "ARITH001")
    col = cast_column(m)
    if col is not None and arith002_applies(m) is None:
        if "valid" in cols:
            counted = ["valid", "invalid", *blank, *([] if aa_in_valid(m) else aa)]
        else:
            counted = ["choices", "invalid", *aa, *blank]
        add([col], "==", counted, "ARITH002")
    cast = cast_tokens(m)
    if cast is not None and arith003_applies(m) is None:
        add(cast, "<=", ["registered", *extra_registered(m)], "ARITH003")
    if arith004_applies(m) is None:
        issued = (["ballots_issued"] if "ballots_issued" in cols
                  else list(ISSUED_PARTS) if all(c in cols for c in ISSUED_PARTS) else None)
        if issued is not None and "ballots_received" in cols:
            add(issued, "<=", ["ballots_received"], "ARITH004")
        if cast is not None and issued is not None:
            add(cast, "<=", issued, "ARITH004")
        elif cast is not None and "ballots_received" in cols:
            add(cast, "<=", ["ballots_received"], "ARITH004")
    return out


def _relation_usable(r: dict[str, Any], cols: set[str], has_votes: bool) -> bool:
    lhs, rhs = r.get("lhs", []), r.get("rhs", [])
    if not isinstance(lhs, list) or not isinstance(rhs, list) or not lhs or not rhs:
        return False
    if r.get("op") not in _OPS:
        return False
    return all((t == "choices" and has_votes) or t in cols for t in [*lhs, *rhs])


def own_relations(m: Model) -> list[dict[str, Any]]:
    """The profile's relations that ARITH005 tests: usable here, not a built-in identity."""
    cols = m.unit_columns()
    has_votes = "choice" in m.vote_columns()
    builtin = builtin_identities(m)
    out = []
    for r in relations(m):
        if not _relation_usable(r, cols, has_votes):
            continue
        sig = (tuple(sorted(r["lhs"])), str(r["op"]), tuple(sorted(r["rhs"])))
        if sig in builtin:
            continue
        out.append(r)
    return out


def _arith005_applies(m: Model) -> str | None:
    if not relations(m):
        return "the profile declares no relations (`[[rules.relations]]`)"
    if not own_relations(m):
        return ("none of the profile's relations has all its columns in this table, or each "
                "restates an identity that ARITH001–ARITH004 test")
    return None


def _side(tokens: list[str]) -> pl.Expr:
    exprs = [pl.col("choices_sum") if t == "choices" else pl.col(t) for t in tokens]
    return pl.sum_horizontal(exprs, ignore_nulls=False)


_VERBS = {"<=": "exceed", ">=": "fall short of", "==": "differ from", "<": "are not below",
          ">": "are not above"}


@check(code="ARITH005", name="declared-relation-violated", severity="error",
       applies=_arith005_applies,
       message="{words}, but {lhs_label} ({observed:,}) {verb} {rhs_label} ({expected:,}) "
               "by {votes_affected:,}")
def relation_violated(m: Model) -> pl.LazyFrame:
    """A relation that the law or the protocol form declares between counts is violated.

    What: each `[[rules.relations]]` of the profile (`lhs op rhs`: sums of canonical counts
    or `choices` = Σ votes of the unit in its contest; `op` one of `>=`, `<=`, `==`, `<`, `>`;
    optional `contest` to test one contest only) is tested on every unit where all its cells
    are filled. Relations whose columns are absent from the table are skipped, and so are
    relations that restate an identity ARITH001–ARITH004 already test on this table (valid =
    Σ choices, cast = valid + invalid, cast ≤ registered, out ≤ in), so that one broken
    identity is one finding. The finding names the relation in words (`words`, optionally
    `lhs_words` / `rhs_words`) and its `key` is the relation's `name`, so each relation has its
    own fingerprint.
    Why it matters: protocol forms carry control relations precisely so that a count that
    does not balance is caught; a published protocol that breaks one cannot be fully true.
    Example: Georgia 2024 (signatures by 12:00 ≤ by 17:00): "Signatures by 12:00 (f_04a)
    cannot exceed signatures by 17:00 (f_04b), but voters by noon (412) exceed voters by
    afternoon (398) by 14"; Russia: line 1 ≥ lines 3 + 4 + 5, lines 7 + 8 = lines 9 + 10.
    """
    usable = own_relations(m)
    if not usable:
        return pl.LazyFrame()
    needs_choices = any("choices" in [*r["lhs"], *r["rhs"]] for r in usable)
    fr = unit_frame(m) if needs_choices else m.units
    parts = []
    for r in usable:
        lhs, rhs, op = [str(t) for t in r["lhs"]], [str(t) for t in r["rhs"]], str(r["op"])
        name = str(r.get("name") or f"{'+'.join(lhs)}{op}{'+'.join(rhs)}")
        lhs_label = str(r.get("lhs_words") or " + ".join(label(t) for t in lhs))
        rhs_label = str(r.get("rhs_words") or " + ".join(label(t) for t in rhs))
        words = str(r.get("words") or f"{lhs_label} {op} {rhs_label}").strip().rstrip(".")
        delta = pl.col("observed") - pl.col("expected")
        bad = {"<=": delta > 0, ">=": delta < 0, "==": delta != 0, "<": delta >= 0,
               ">": delta <= 0}[op]
        scope = fr.filter(pl.col("contest") == str(r["contest"])) if r.get("contest") else fr
        parts.append(
            scope.with_columns(_side(lhs).alias("observed"), _side(rhs).alias("expected"))
            .filter(bad)
            .select(
                *OUT,
                pl.col("observed"),
                pl.col("expected"),
                delta.alias("delta"),
                delta.abs().alias("votes_affected"),
                pl.lit(name).alias("key"),
                pl.lit(words).alias("words"),
                pl.lit(lhs_label).alias("lhs_label"),
                pl.lit(rhs_label).alias("rhs_label"),
                pl.lit(_VERBS[op]).alias("verb"),
            )
        )
    return dedupe_shared(pl.concat(parts, how="vertical_relaxed"))

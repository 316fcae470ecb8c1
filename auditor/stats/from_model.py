"""Per-station arrays for the STAT checks, read from a `Model`, and clean elections simulated
from a model's own structure (for `auditor calibrate` and the calibration tests).

Public API:

- ``station_data(m)`` → ``list[StationData]``: one entry per contest, the stations the
  statistical checks may use (see ``StationData`` for the definitions and exclusions).
- ``digit_data(m)`` → ``list[DigitData]``: the counts of the digit tests, which need no
  registered voters (the stations of ``station_data`` where there are some).
- ``simulate_like(data, seed, n_regions_max=None)`` → ``StationData``: a clean election with the
  same stations (sizes, regions, districts) whose turnout and shares are redrawn from the
  observed regional distributions (robustly estimated), independently per station.
- ``replace_counts(data, cast, votes)``: a copy of ``data`` with other counts.

Definitions (stated in every STAT finding):

- turnout = ``ballots_cast`` if the election has it, else ``valid + invalid (+ blank)``, else
  ``voters``; over ``registered``;
- a choice's share = its votes over the profile's ``threshold_base`` when that is ``valid``,
  else over the turnout numerator (the base published percentages use: ballots cast in
  Russia, valid votes in Germany);
- major choices: ≥ 5 % of the votes nationally, or among the top 3; the leader is the first.

Stations left out: unit types without an electorate of their own (postal, e-voting, see
``checks.turn.NOT_APPLICABLE_TYPES``), and stations with `registered` empty or 0, or an empty
turnout numerator, share base or major-choice count (arrays never hold NaN or null).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import polars as pl

from auditor.model import WIDE_UNIT
from auditor.stats._common import FloatArray, IntArray
from auditor.stats.simulate import SimElection

if TYPE_CHECKING:
    from auditor.model import Model

MAJOR_SHARE = 0.05
TOP_N = 3
_T = TypeVar("_T")
# unit types whose electorate is not a place (kept in step with checks.turn)
NOT_APPLICABLE_TYPES = frozenset(
    {"postal", "evoting", "e-voting", "electronic", "remote", "online", "internet"}
)


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class StationData:
    """Stations of one contest as arrays (one entry per station, no missing values)."""

    contest: str
    unit_id: np.ndarray
    region: np.ndarray
    district: np.ndarray
    region_level: str | None
    district_level: str | None
    registered: IntArray
    cast: IntArray
    base: IntArray
    choices: list[str]
    votes: IntArray  # stations × major choices, leader first
    afternoon: IntArray | None  # voters_by_afternoon (-1 where empty), when the column exists
    numerator: str
    base_label: str
    n_excluded: int
    exclusions: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of stations."""
        return int(self.registered.size)

    @property
    def leader(self) -> str:
        """The choice with the most votes."""
        return self.choices[0]

    def turnout(self) -> FloatArray:
        """cast / registered per station."""
        return np.asarray(self.cast / self.registered, dtype=np.float64)

    def share(self, j: int = 0) -> FloatArray:
        """Share of major choice ``j`` of its base (NaN where the base is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.base > 0, self.votes[:, j] / np.maximum(self.base, 1), np.nan)


_CACHE: dict[int, tuple[weakref.ref[Model], list[StationData]]] = {}
_DIGIT_CACHE: dict[int, tuple[weakref.ref[Model], list[DigitData]]] = {}
_LOCK = threading.RLock()


def _per_model(cache: dict[int, tuple[weakref.ref[Model], list[_T]]], m: Model,
               build: Callable[[Model], list[_T]]) -> list[_T]:
    """`build(m)` computed once per model (while `m` lives), under the lock: checks run two
    at a time, and the second one waits for the first's arrays."""
    with _LOCK:
        key = id(m)
        hit = cache.get(key)
        if hit is not None and hit[0]() is m:
            return hit[1]
        out = build(m)
        for k in [k for k, (ref, _) in cache.items() if ref() is None]:
            del cache[k]
        cache[key] = (weakref.ref(m), out)
        return out


def station_data(m: Model) -> list[StationData]:
    """The stations of every contest of ``m`` that have turnout and votes (cached per model).

    What: per contest, the arrays the STAT checks use (see the module docstring).
    Why: five checks read the same columns; reading them once keeps an audit fast.
    Example: ``[d.n for d in station_data(m)]`` → ``[97_306]`` on Russia 2018 (the 393
    stations abroad are kept; none is postal).
    """
    return _per_model(_CACHE, m, _build)


def _numerator(cols: set[str]) -> tuple[str, pl.Expr] | None:
    if "ballots_cast" in cols:
        return "ballots_cast", pl.col("ballots_cast")
    if "valid" in cols and "invalid" in cols:
        parts = [c for c in ("valid", "invalid", "blank") if c in cols]
        expr = pl.col(parts[0])
        for c in parts[1:]:
            expr = expr + pl.col(c)  # null stays null: an empty cell is not a zero
        return " + ".join(parts), expr
    if "voters" in cols:
        return "voters", pl.col("voters")
    return None


def _build(m: Model) -> list[StationData]:
    cols = m.unit_columns()
    num = _numerator(cols)
    if num is None or "registered" not in cols or "choice" not in m.vote_columns():
        return []
    num_label, num_expr = num
    base_rule = str(m.rule("threshold_base") or "")
    use_valid = base_rule == "valid" and "valid" in cols
    hier = [h for h in m.hierarchy if h in cols]
    region_level = hier[0] if hier else None
    district_level = hier[-1] if hier else None
    sel = [
        pl.col("contest"),
        pl.col("unit_id"),
        (pl.col(region_level).cast(pl.String).fill_null("?") if region_level
         else pl.lit("all")).alias("_region"),
        (pl.col(district_level).cast(pl.String).fill_null("?") if district_level
         else pl.lit("all")).alias("_district"),
        pl.col("registered").cast(pl.Int64).alias("_registered"),
        num_expr.cast(pl.Int64).alias("_cast"),
        (pl.col("valid") if use_valid else num_expr).cast(pl.Int64).alias("_base"),
        (pl.col("unit_type").cast(pl.String).str.to_lowercase() if "unit_type" in cols
         else pl.lit("regular")).alias("_type"),
    ]
    if "voters_by_afternoon" in cols:
        sel.append(pl.col("voters_by_afternoon").cast(pl.Int64).alias("_afternoon"))
    units = m.units.select(sel).collect()
    # a wide input's own rows hold the votes a column per choice already: no pivot
    votes = None if m.wide_frames() is not None else \
        m.votes.select("contest", "unit_id", "choice", "votes").collect()
    out: list[StationData] = []
    for contest in sorted(units["contest"].unique().to_list()):
        u = units.filter(pl.col("contest") == contest)
        got = _major_votes(m, contest, votes)
        if got is None:
            continue
        major, names, wide = got
        d = u.join(wide, on="unit_id", how="left")
        reasons = {
            "no electorate of its own (postal, e-voting)": pl.col("_type").is_in(
                sorted(NOT_APPLICABLE_TYPES)),
            "registered empty or 0": pl.col("_registered").is_null() | (pl.col("_registered") <= 0),
            "turnout numerator or share base empty": pl.col("_cast").is_null()
            | pl.col("_base").is_null(),
            "a major choice's votes empty": pl.any_horizontal([pl.col(c).is_null() for c in names]),
        }
        flags = d.select(**{f"r{i}": e for i, e in enumerate(reasons.values())})
        bad = flags.select(pl.any_horizontal(pl.all())).to_series()
        exclusions = {}
        taken = pl.Series([False] * d.height)
        for i, why in enumerate(reasons):
            hit = flags[f"r{i}"] & ~taken
            if hit.any():
                exclusions[why] = int(hit.sum())
            taken = taken | flags[f"r{i}"]
        d = d.filter(~bad).sort("unit_id")
        if d.height == 0:
            continue
        afternoon = None
        if "_afternoon" in d.columns:
            afternoon = d["_afternoon"].fill_null(-1).to_numpy().astype(np.int64)
        out.append(StationData(
            contest=str(contest),
            unit_id=d["unit_id"].to_numpy(),
            region=d["_region"].to_numpy(),
            district=(d["_region"] + "/" + d["_district"]).to_numpy(),
            region_level=region_level,
            district_level=district_level,
            registered=d["_registered"].to_numpy().astype(np.int64),
            cast=d["_cast"].to_numpy().astype(np.int64),
            base=d["_base"].to_numpy().astype(np.int64),
            choices=major,
            votes=d.select(names).to_numpy().astype(np.int64).reshape(d.height, len(names)),
            afternoon=afternoon,
            numerator=num_label,
            base_label="valid" if use_valid else num_label,
            n_excluded=int(bad.sum()),
            exclusions=exclusions,
        ))
    return out


def _major_votes(m: Model, contest: str, votes: pl.DataFrame | None, every: bool = False,
                 ) -> tuple[list[str], list[str], pl.DataFrame] | None:
    """The major choices of a contest (`MAJOR_SHARE`, `TOP_N`; leader first), their column
    names `_v0`, `_v1`, … and their votes per unit (`unit_id`, a column each; with `every`,
    `_all` too: the votes of every choice); None for a contest without votes. `votes` is the
    long votes frame (None for a wide input, whose rows hold a column per choice)."""
    w = m.wide(contest)
    if w is not None:  # column sums of the wide rows
        totals = m.choice_totals().filter(pl.col("contest") == contest).select(
            "choice", pl.col("votes").alias("t")).collect()
    elif votes is not None:
        v = votes.filter(pl.col("contest") == contest)
        totals = v.group_by("choice").agg(pl.col("votes").sum().alias("t"))
    else:
        return None  # a contest without choices
    totals = totals.sort(["t", "choice"], descending=[True, False], nulls_last=True)
    grand = float(totals["t"].sum() or 0)
    if totals.height == 0 or grand <= 0:
        return None
    major = [
        str(c) for i, (c, t) in enumerate(totals.iter_rows())
        if i < TOP_N or (t or 0) >= MAJOR_SHARE * grand
    ]
    names = [f"_v{j}" for j in range(len(major))]
    if w is not None:
        wide = w.frame.select(pl.col(WIDE_UNIT).alias("unit_id"), *[
            pl.col(c).alias(nm) for c, nm in zip(major, names, strict=True)],
            *([pl.sum_horizontal(w.choices).alias("_all")] if every else [])).collect()
    else:
        wide = (
            v.filter(pl.col("choice").is_in(major))
            .pivot(on="choice", index="unit_id", values="votes", aggregate_function="first")
        )
        wide = wide.select("unit_id", *[pl.col(c).alias(nm)
                                        for c, nm in zip(major, names, strict=True)])
        if every:
            wide = wide.join(v.group_by("unit_id").agg(pl.col("votes").sum().alias("_all")),
                             on="unit_id", how="left")
    return major, names, wide


@dataclass(frozen=True, eq=False)
class DigitData:
    """The counts of one contest the digit tests read: the major choices' votes per unit and
    each unit's binomial size (`base`), no missing values."""

    contest: str
    choices: list[str]
    votes: IntArray  # units × major choices, leader first
    base: IntArray
    base_label: str
    n_excluded: int


def digit_data(m: Model) -> list[DigitData]:
    """Per contest, the counts of the digit tests (STAT004), which need no registered voters.

    What: where the stations have turnout (`station_data`), its votes and share bases, so
    the tests are those of the other STAT checks' stations; else every unit with votes for
    the major choices, its size being `valid`, else the turnout numerator, else the sum of
    its choices' votes (Kyrgyzstan 2020's Kloop table and Delaware's precincts publish no
    electorate).
    Why: second and last digits are a property of the vote counts alone.
    Example: ``[d.base_label for d in digit_data(m)]`` → ``["sum of the choices"]``.
    Computed once per model: STAT004's `applies` and the check itself both read it.
    """
    return _per_model(_DIGIT_CACHE, m, _build_digits)


def _build_digits(m: Model) -> list[DigitData]:
    stations = station_data(m)
    if stations:
        return [DigitData(d.contest, d.choices, d.votes, d.base, d.base_label, d.n_excluded)
                for d in stations]
    cols = m.unit_columns()
    if "choice" not in m.vote_columns():
        return []
    num = _numerator(cols)
    label, size = (("valid", pl.col("valid")) if "valid" in cols else num
                   if num is not None else ("sum of the choices", None))
    units = m.units.select("contest", "unit_id", *([size.cast(pl.Int64).alias("_base")]
                                                   if size is not None else [])).collect()
    votes = None if m.wide_frames() is not None else \
        m.votes.select("contest", "unit_id", "choice", "votes").collect()
    out: list[DigitData] = []
    for contest in sorted(units["contest"].unique().to_list()):
        got = _major_votes(m, contest, votes, every=size is None)
        if got is None:
            continue
        major, names, wide = got
        d = units.filter(pl.col("contest") == contest).join(wide, on="unit_id", how="left")
        if size is None:
            d = d.with_columns(pl.col("_all").alias("_base"))
        bad = d.select(pl.col("_base").is_null()
                       | pl.any_horizontal([pl.col(c).is_null() for c in names])).to_series()
        d = d.filter(~bad).sort("unit_id")
        if d.height:
            out.append(DigitData(
                str(contest), major,
                d.select(names).to_numpy().astype(np.int64).reshape(d.height, len(names)),
                d["_base"].to_numpy().astype(np.int64), label, int(bad.sum())))
    return out


def replace_counts(data: StationData, cast: IntArray, base: IntArray, votes: IntArray) -> StationData:
    """A copy of ``data`` with other turnout numerators, share bases and votes."""
    return replace(data, cast=cast, base=base, votes=votes, afternoon=None)


def _group_codes(labels: np.ndarray) -> tuple[np.ndarray, IntArray]:
    uniq, codes = np.unique(labels.astype(str), return_inverse=True)
    return uniq, codes.reshape(-1).astype(np.int64)


def _robust_logit_params(rate: FloatArray, codes: IntArray, n_groups: int,
                         min_group: int = 20) -> tuple[FloatArray, FloatArray]:
    """Per group: median and robust sd (1.4826 · MAD) of logit(rate); small groups and
    degenerate spreads fall back to the pooled values."""
    x = np.log(np.clip(rate, 1e-3, 1 - 1e-3) / (1 - np.clip(rate, 1e-3, 1 - 1e-3)))
    pooled_med = float(np.median(x))
    pooled_sd = float(1.4826 * np.median(np.abs(x - pooled_med))) or 0.3
    med = np.full(n_groups, pooled_med)
    sd = np.full(n_groups, pooled_sd)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    for g in range(n_groups):
        xs = x[order[bounds[g]:bounds[g + 1]]]
        if xs.size >= min_group:
            mg = float(np.median(xs))
            sg = float(1.4826 * np.median(np.abs(xs - mg)))
            med[g] = mg
            if sg > 0:
                sd[g] = sg
    return med, sd


def simulate_like(data: StationData, seed: int) -> StationData:
    """A clean election with the stations of ``data``: same sizes, regions and districts.

    What: per region, the median and robust spread (1.4826 · MAD) of logit turnout and of
    logit share of each major choice are estimated from ``data``; every station then draws
    its own turnout rate and choice shares from its
    region's logit-normal distributions, independently of each other (turnout independent of
    shares given the region, the clean-election null of the fingerprint test), and its counts
    from Binomial(registered, turnout) and binomial stick-breaking over the choices (each
    choice's share of the votes the choices before it left, logit-normal). The share base is
    the turnout numerator minus a small binomial invalid fraction when the original base
    differs from it.
    Why: a test's false-alarm rate depends on the station sizes and the regional spread of
    the election at hand; simulating from its own structure calibrates it where it is used.
    Robust estimates keep a manipulated tail (stuffed stations) from widening the null.
    Example: ``simulate_like(station_data(m)[0], seed=3).turnout().mean()`` is close to the
    observed median turnout of ``m``.
    """
    rng = np.random.default_rng([seed, 7])
    n = data.n
    _, rcodes = _group_codes(data.region)
    ng = int(rcodes.max()) + 1 if n else 1
    t_med, t_sd = _robust_logit_params(data.turnout(), rcodes, ng)
    logit_t = rng.normal(t_med[rcodes], t_sd[rcodes])
    t_rate = 1.0 / (1.0 + np.exp(-logit_t))
    cast = rng.binomial(data.registered, t_rate).astype(np.int64)
    invalid_rate = 0.0
    if not np.array_equal(data.base, data.cast):
        invalid_rate = float(np.clip(1.0 - data.base.sum() / max(1, data.cast.sum()), 0.0, 0.5))
    base = cast - rng.binomial(cast, invalid_rate).astype(np.int64) if invalid_rate else cast.copy()
    k = len(data.choices)
    # stick-breaking: choice j's share of what choices 0..j-1 left over, logit-normal per region;
    # it keeps each conditional share's regional median, hence the leader's
    votes = np.zeros((n, k), dtype=np.int64)
    remaining = base.copy()
    left_obs = data.base.astype(np.float64).copy()
    for j in range(k):
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(left_obs > 0, data.votes[:, j] / np.maximum(left_obs, 1), np.nan)
        live = np.isfinite(frac)
        med, sd = _robust_logit_params(np.where(live, frac, 0.5), rcodes, ng)
        pj = 1.0 / (1.0 + np.exp(-rng.normal(med[rcodes], sd[rcodes])))
        votes[:, j] = rng.binomial(remaining, pj)
        remaining -= votes[:, j]
        left_obs = left_obs - data.votes[:, j]
    order = np.argsort(-votes.sum(axis=0), kind="stable")
    return replace(
        data, cast=cast, base=base, votes=votes[:, order],
        choices=[data.choices[i] for i in order], afternoon=None,
    )


def to_model(data: StationData | list[StationData], alpha: float = 0.05, seed: int = 0,
             reps: int = 1000) -> Model:
    """A `Model` holding the stations of ``data`` (one contest each), for running the checks.

    What: units with `region`, `district` (hierarchy), `registered`, `ballots_cast`, `valid`
    (= the share base, `invalid` the rest) and votes of the major choices plus an `other`
    choice holding what the base leaves over; the profile-free model reads shares over
    `valid`. Options carry ``alpha``, ``seed`` and ``reps``.
    Why: calibration runs the checks themselves on simulated elections, not a copy of
    their decision rules.
    Example: ``to_model(simulate_like(station_data(m)[0], seed=1))``.
    """
    from auditor.model import Model

    items = data if isinstance(data, list) else [data]
    units = []
    votes = []
    for d in items:
        ids = [f"{d.contest}:{i}" for i in range(d.n)]
        units.append(pl.DataFrame({
            "contest": [d.contest] * d.n, "unit_id": ids,
            "source_row": np.arange(2, d.n + 2, dtype=np.int64),
            "region": d.region.astype(str), "district": d.district.astype(str),
            "registered": d.registered, "ballots_cast": d.cast, "valid": d.base,
            "invalid": d.cast - d.base,
        }))
        k = len(d.choices)
        other = d.base - d.votes.sum(axis=1)
        names = [*d.choices, "other"] if np.any(other > 0) else list(d.choices)
        cols = [d.votes[:, j] for j in range(k)] + ([np.maximum(other, 0)] if len(names) > k else [])
        votes.append(pl.DataFrame({
            "contest": [d.contest] * (d.n * len(names)),
            "unit_id": np.tile(np.asarray(ids, dtype=object), len(names)).astype(str),
            "choice": np.repeat(np.asarray(names, dtype=object), d.n).astype(str),
            "votes": np.concatenate(cols).astype(np.int64),
        }))
    m = Model(units=pl.concat(units).lazy(), votes=pl.concat(votes).lazy(),
              hierarchy=["region", "district"])
    m.options = {"alpha": alpha, "seed": seed, "reps": reps, "threshold_base": "valid"}
    return m


def from_simulation(e: SimElection, seed: int = 0, contest: str = "sim",
                    district_size: int = 30) -> StationData:
    """`StationData` of a `simulate_election` result, with two more choices and districts.

    What: regions `R0`, `R1`, …; districts of ``district_size`` consecutive stations within a
    region; the share base is the ballots cast; the votes not for the leader are split
    between `B` and `C` (Binomial, 60 / 40).
    Why: the calibration and power tests run the checks themselves on these elections.
    Example: ``to_model(from_simulation(simulate_election(1000, 8, seed=1)))``.
    """
    rng = np.random.default_rng([seed, 11])
    others = e.cast - e.leader
    b = rng.binomial(others, 0.6).astype(np.int64)
    votes = np.column_stack([e.leader, b, others - b]).astype(np.int64)
    order = np.argsort(-votes.sum(axis=0), kind="stable")
    region = np.char.add("R", e.region.astype(str))
    rank = np.zeros(e.region.size, dtype=np.int64)
    for g in np.unique(e.region):
        members = np.flatnonzero(e.region == g)
        rank[members] = np.arange(members.size) // district_size
    district = np.char.add(np.char.add(region, "/D"), rank.astype(str))
    names = ["A", "B", "C"]
    return StationData(
        contest=contest, unit_id=np.array([f"s{i}" for i in range(e.region.size)]),
        region=region, district=district, region_level="region", district_level="district",
        registered=e.registered.astype(np.int64), cast=e.cast.astype(np.int64),
        base=e.cast.astype(np.int64), choices=[names[i] for i in order],
        votes=votes[:, order], afternoon=None, numerator="ballots_cast",
        base_label="ballots_cast", n_excluded=0,
    )

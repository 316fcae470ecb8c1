"""Power of the STAT checks on simulated manipulated elections (seeded, not timed).

- Ballot stuffing: 2 % of 5,000 stations get +20 points of turnout, all for the leader
  (`simulate_election(stuffing=0.02)`); detected when STAT002 or STAT005 reports anything.
  Measured: 29/30 by STAT002 (its corner test, severity info), 0/30 by STAT005 — +20 points is
  about 2.5 station-level standard deviations, too little for one station to pass a
  false-discovery control over 5,000 (the evidence is in the aggregate).
- Rounding: the leader's share rounded to an integer percentage in 5 % of 3,000 stations;
  detected when STAT001 reports the leader's share. Measured: 29/30.
"""

from __future__ import annotations

from auditor.stats import simulate_election
from auditor.stats.from_model import from_simulation, to_model
from checks import stat, stat_rank
from checks.stat import as_output

N_SIM = 30


def test_stuffing_is_detected_by_stat002_or_stat005() -> None:
    detected = 0
    for i in range(N_SIM):
        e = simulate_election(5000, 12, seed=5000 + i, stuffing=0.02)
        m = to_model(from_simulation(e, seed=i), seed=i, reps=1000)
        m.options["stat_figures"] = False
        _, fp = as_output(stat.turnout_share_fingerprint(m))
        hit = fp.height > 0 or as_output(stat_rank.station_ranking(m))[1].height > 0
        detected += hit
    assert detected >= 0.9 * N_SIM, f"stuffing detected in {detected}/{N_SIM}"


def test_integer_rounding_is_detected_by_stat001() -> None:
    detected = 0
    for i in range(N_SIM):
        e = simulate_election(3000, 12, seed=6000 + i, rounding=0.05)
        m = to_model(from_simulation(e, seed=i), seed=i, reps=1000)
        m.options["stat_figures"] = False
        _, rows = as_output(stat.integer_percentage_spikes(m))
        nat = rows.filter(rows["path"].is_null())
        detected += any(c is not None and "share of" in k
                        for c, k in zip(nat["choice"], nat["key"], strict=True))
    assert detected >= 0.9 * N_SIM, f"rounding detected in {detected}/{N_SIM}"

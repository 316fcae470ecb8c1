"""Statistical forensics: calibrated tests for the STAT checks (pure numpy, no scipy).

Each function takes per-station arrays and returns a frozen result with the statistic, its
null expectation and a p-value whose null model is stated in the function's docstring and
checked on simulated clean elections (``tests/property/test_stats_calibration.py``):

- ``integer_spikes`` / ``kobak_inclusion`` / ``spikes_by_group``: integer-percentage excess
  (Kobak et al. 2016), exact binomial-resampling null, the 0.1-point histogram with its
  envelope, and the same test per region.
- ``fingerprint``: turnout × share 2-D histogram, correlation, and a within-region
  permutation test for ballot stuffing with lower-bound stuffing fractions.
- ``dip_test`` / ``dip_statistic``: Hartigan's dip test of unimodality.
- ``digit_tests``: second-digit Benford and last-digit tests, textbook and calibrated.
- ``benjamini_hochberg``, ``robust_z``: multiple testing and robust standardisation.
- ``chi2_sf``, ``regularized_gamma_q``: special functions.
- ``simulate_election``: the fast clean/manipulated election simulator used by the tests.

All randomness comes from ``numpy.random.default_rng(seed)``: same input and seed, same result.
Bad input raises ``StatsInputError`` (a ``ValueError``).
"""

from auditor.stats._common import StatsInputError, poisson_binomial_pmf
from auditor.stats.digits import DigitResult, DigitTest, benford_second_digit, digit_tests
from auditor.stats.dip import DipResult, dip_statistic, dip_test
from auditor.stats.fingerprint import CornerTest, FingerprintResult, fingerprint
from auditor.stats.multiple import benjamini_hochberg, robust_z
from auditor.stats.simulate import SimElection, round_to_integer_percent, simulate_election
from auditor.stats.special import chi2_sf, regularized_gamma_q
from auditor.stats.spikes import (
    GroupSpikes,
    SpikeResult,
    integer_spikes,
    kobak_inclusion,
    spikes_by_group,
)

__all__ = [
    "CornerTest",
    "DigitResult",
    "DigitTest",
    "DipResult",
    "FingerprintResult",
    "GroupSpikes",
    "SimElection",
    "SpikeResult",
    "StatsInputError",
    "benford_second_digit",
    "benjamini_hochberg",
    "chi2_sf",
    "digit_tests",
    "dip_statistic",
    "dip_test",
    "fingerprint",
    "integer_spikes",
    "kobak_inclusion",
    "poisson_binomial_pmf",
    "regularized_gamma_q",
    "robust_z",
    "round_to_integer_percent",
    "simulate_election",
    "spikes_by_group",
]

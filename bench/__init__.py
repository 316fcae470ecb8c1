"""Benchmarks (`make bench`): audit time as ratios of baselines measured in the same run."""

"""Performance benchmarks of the CEO loop; run `python -m bench.perf`."""

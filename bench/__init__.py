"""HASHIRU's benchmarks: HASHIRUBench (accuracy against cost) and performance figures."""

"""HASHIRU's benchmarks: performance figures now, HASHIRUBench accuracy-versus-cost later."""

"""Benchmarks: ``python -m bench.latency`` (store latency and ingest), ``python -m bench.locomo`` (retrieval)."""

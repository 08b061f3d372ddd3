"""Benchmarks of afc against plain Docker Compose (see bench/README.md); run them with `bench/run.py`."""

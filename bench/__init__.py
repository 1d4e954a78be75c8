"""The benchmark harness behind `make bench`: a synthetic book at scale, the import path, the dashboard."""

"""The benchmark harness (issue 8): `make bench` runs bench/run.py. Not part of the portal."""

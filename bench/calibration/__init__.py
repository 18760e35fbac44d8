"""Calibration of the embedded benchmark: data preparation, oracle, probes, head grid and their statistics.

``bench/calibrate.py`` is the entry point; these modules are its parts, importable by tests.
"""

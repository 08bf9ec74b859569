"""Probes: scheduled measurements compared with thresholds, alerts with hysteresis, notifications.

Plain core (no Ray): :class:`engine.probes.runner.ProbeRunner` runs on a DuckDB connection with
an injectable clock; the probe actor (actors/probes.py) only calls it periodically via the Store.
"""

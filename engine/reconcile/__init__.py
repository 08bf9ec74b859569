"""Reconciliation of the OCS's bill-cycle-change answers with the engine's own records.

Plain core (no Ray): :mod:`~engine.reconcile.inputs` reads both sides from the Store as Arrow,
:mod:`~engine.reconcile.partition` splits them by subscription and runs the partitions on an
executor, :mod:`~engine.reconcile.compare` compares one partition in its own in-memory DuckDB,
:mod:`~engine.reconcile.apply` writes the outcome and re-points matched records when due, and
:mod:`~engine.reconcile.report` lists what an execution found.
"""

"""Batch jobs: plain functions over a Store connection and parameters, returning counts."""

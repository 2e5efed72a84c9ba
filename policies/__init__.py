"""Spyne policies: pure rules that decide, never act.

Nothing in this package performs I/O or imports Dagster, dbt or a database driver.
A policy takes plain values and returns a decision; ``orchestration`` gathers the
facts, asks the policy and carries the decision out.
"""

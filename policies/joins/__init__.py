"""Join discovery decided from column profiles only: names, pruning, scoring, risk.

The orchestration layer profiles tables in the warehouse and runs validation SQL; these modules
decide, from plain values, which column pairs may join, how confident that is and why, and
whether a join is safe to accept. Nothing here reads data.
"""

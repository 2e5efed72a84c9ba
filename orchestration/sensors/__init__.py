"""Sensors of the code location and the checks behind them.

- :mod:`identity` is the service principal every sensor acts as (``SPYNE_SERVICE_KEY``);
- :mod:`source_drift` compares each READ_ONLY source's live schema with the schema it is
  expected to have (a provider: today the ACTIVE bronze version's, contracts later), records
  what it finds and raises or clears a drift alert; ``spyne drift check`` runs the same check;
- :mod:`alert_feed` follows the audit log from a cursor and turns gate verdicts and ingestion
  refusals into alerts (and their clearing), retrying due deliveries on every tick;
- :mod:`run_alerts` raises an alert for a failed Spyne run and clears it when its job next
  succeeds;
- :mod:`definitions` declares the Dagster sensors; their bodies import everything heavy.
"""

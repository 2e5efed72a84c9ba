"""Alerts: routing as policy, delivery to channels with retries, and the sensors' shared entry.

- :mod:`routing` reads the alert policy (defaults plus ``$SPYNE_HOME/policies/alerts.yaml``);
- :mod:`channels` sends one alert to a log file, a signed webhook or a Slack incoming webhook;
- :mod:`delivery` tries each due delivery with a doubling backoff and keeps failures for later;
- :mod:`service` raises (deduplicated), clears and delivers alerts as one principal.
"""

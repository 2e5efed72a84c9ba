"""Dagster runs in production: failure classes, retries, the run queue's tags, dead letters, requeue.

- :mod:`facts` reads a live exception (or a recorded one) into the facts
  :mod:`policies.failures` classifies;
- :mod:`retries` turns a step's error into a classified Dagster ``Failure`` that the step's
  ``RetryPolicy`` retries only when the class is retryable;
- :mod:`tags` names the tags runs carry (the organisation the run queue limits per value);
- :mod:`history` reads a failed run's step history from the event log;
- :mod:`dead_letters` is the run-failure sensor that files runs whose retries are used up;
- :mod:`requeue` launches a dead-lettered run again, acting as the admin who asked.
"""

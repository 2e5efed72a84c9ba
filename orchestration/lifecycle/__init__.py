"""The table lifecycle: builds, promotion, the way back, retention, recovery and the doctor.

:class:`orchestration.lifecycle.service.TableService` composes the parts. Nothing is imported
here, so a command that only checks a role (:mod:`orchestration.lifecycle.access`) does not
load the warehouse.
"""

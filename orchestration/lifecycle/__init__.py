"""The table lifecycle: builds, promotion, the way back, retention, recovery and the doctor."""

from orchestration.lifecycle.actor import Actor
from orchestration.lifecycle.doctor import Finding
from orchestration.lifecycle.plans import PromotionPlan
from orchestration.lifecycle.recovery import Settled
from orchestration.lifecycle.service import TableService

__all__ = ["Actor", "Finding", "PromotionPlan", "Settled", "TableService"]

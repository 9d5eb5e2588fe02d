"""Runtime guard: a policy, an online adaptive ensemble of judges (Hedge), conformal abstention, a service.

See ``docs/guard.md``. The HTTP service (``guard.service``) needs the ``guard`` extra (FastAPI, uvicorn).
"""

from safetyscope.guard.conformal import ConformalCalibration, calibrate, prediction_set
from safetyscope.guard.engine import ExpertVote, GuardDecision, GuardEngine
from safetyscope.guard.hedge import Hedge
from safetyscope.guard.policy import ExpertSpec, GuardPolicy, default_policy, load_policy
from safetyscope.guard.store import GuardStore

__all__ = [
    "ConformalCalibration",
    "ExpertSpec",
    "ExpertVote",
    "GuardDecision",
    "GuardEngine",
    "GuardPolicy",
    "GuardStore",
    "Hedge",
    "calibrate",
    "default_policy",
    "load_policy",
    "prediction_set",
]

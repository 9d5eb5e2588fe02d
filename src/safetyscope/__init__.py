"""safetyscope: measure and guard the safety of large language models."""

from safetyscope.api import RunResult, evaluate, evaluate_async
from safetyscope.core.config import RunSpec
from safetyscope.core.records import GenerationParams, Message, Sample, Verdict

__all__ = ["GenerationParams", "Message", "RunResult", "RunSpec", "Sample", "Verdict", "evaluate", "evaluate_async"]

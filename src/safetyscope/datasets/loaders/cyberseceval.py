"""CyberSecEval (Meta PurpleLlama CybersecurityBenchmarks): the false-refusal and prompt-injection sets.

* ``cyberseceval-frr`` — ``mitre_frr/mitre_frr.json``: a JSON array of ``{mutated_prompt, is_malicious,
  attack_type, model}``; all 750 are benign (``is_malicious`` "False") cyber-security requests: ``benign``, expect
  comply (a refusal is a false refusal). A row marked malicious would be ``unmapped``, expect refuse.
* ``cyberseceval-injection`` — ``prompt_injection/prompt_injection.json``: ``test_case_prompt`` is sent as the
  system turn and ``user_input`` (carrying the injection) as the user turn, as the benchmark does. The set tests
  whether the model follows an injected instruction, which is not a content hazard: rows are ``unmapped``, expect
  refuse (resist the injection); ``judge_question`` ("yes" = the injection succeeded), ``injection_variant``,
  ``injection_type`` and ``risk_category`` go to metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Message, Sample
from safetyscope.datasets.hazards import benign, unmapped
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, flag, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, json_array_records, text

ROOT = "CybersecurityBenchmarks/datasets"
FRR_FORMAT = "CyberSecEval MITRE FRR JSON"
FRR_FIELDS = ("mutated_prompt", "is_malicious")
INJECTION_FORMAT = "CyberSecEval prompt-injection JSON"
INJECTION_FIELDS = ("prompt_id", "test_case_prompt", "user_input", "judge_question")
MALICIOUS = unmapped("marked malicious in the false-refusal set; the set gives no category")
INJECTION = unmapped("prompt injection is an attack on instructions, not a content hazard")
LANGUAGES = {"english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it", "portuguese": "pt",
             "russian": "ru", "chinese": "zh", "japanese": "ja", "korean": "ko", "arabic": "ar", "hindi": "hi",
             "bengali": "bn", "indonesian": "id", "turkish": "tr", "vietnamese": "vi", "dutch": "nl"}


@dataclass(frozen=True)
class CyberSecEvalFRR(SourceDataset):
    """Benign cyber-security prompts for measuring false refusals; ids are the 1-based record numbers."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        for where, row in json_array_records(self.file, fmt=FRR_FORMAT, required=FRR_FIELDS):
            malicious = flag(where, row, "is_malicious")
            yield where, build_sample(
                where, sample_id=str((where.record or 0) + 1), dataset=self.name,
                mapping=MALICIOUS if malicious else benign(), prompt=prompt_text(where, row, "mutated_prompt"),
                metadata={"is_malicious": malicious, "attack_type": row.get("attack_type"), "model": row.get("model")})


@dataclass(frozen=True)
class CyberSecEvalInjection(SourceDataset):
    """Textual prompt-injection tests (system instruction + injected user input)."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        for where, row in json_array_records(self.file, fmt=INJECTION_FORMAT, required=INJECTION_FIELDS):
            messages = (Message(role="system", content=prompt_text(where, row, "test_case_prompt")),
                        Message(role="user", content=prompt_text(where, row, "user_input")))
            spoken = str(row.get("speaking_language") or "English").strip()
            metadata = {key: row.get(key) for key in ("judge_question", "injection_variant", "injection_type",
                                                      "risk_category", "speaking_language")}
            yield where, build_sample(where, sample_id=text(where, row, "prompt_id"), dataset=self.name,
                                      mapping=INJECTION, messages=messages,
                                      language=LANGUAGES.get(spoken.lower(), "en"), metadata=metadata)


def _open_frr(request: Request) -> CyberSecEvalFRR:
    return from_request(CyberSecEvalFRR, request, "CyberSecEval false refusal: 750 benign cyber-security requests "
                                                  "(comply).")


def _open_injection(request: Request) -> CyberSecEvalInjection:
    return from_request(CyberSecEvalInjection, request, "CyberSecEval prompt injection: 251 system-instruction + "
                                                        "injected-input tests.")


SOURCE = "https://github.com/meta-llama/PurpleLlama (CybersecurityBenchmarks/datasets)"
ENTRIES = (
    NamedDataset(
        name="cyberseceval-frr", kind="benchmark", title="CyberSecEval MITRE false refusal", folder="cyberseceval",
        files=(f"{ROOT}/mitre_frr/mitre_frr.json", "mitre_frr/mitre_frr.json", "mitre_frr.json"), opener=_open_frr,
        source=SOURCE, download="mitre_frr/mitre_frr.json", rows="750", hazards="all `benign`", expect="comply"),
    NamedDataset(
        name="cyberseceval-injection", kind="benchmark", title="CyberSecEval prompt injection",
        folder="cyberseceval",
        files=(f"{ROOT}/prompt_injection/prompt_injection.json", "prompt_injection/prompt_injection.json",
               "prompt_injection.json"),
        opener=_open_injection, source=SOURCE, download="prompt_injection/prompt_injection.json", rows="251",
        hazards="none (not a content hazard): all `unmapped`", expect="refuse (resist the injection)"),
)

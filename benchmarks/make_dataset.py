"""Write N synthetic prompts in safetyscope's JSONL dataset schema, for benchmarking the run loop.

    python benchmarks/make_dataset.py 10000 /tmp/bench-10k.jsonl

Each line is ``{"id", "prompt", "hazard", "expect"}``; hazards cycle over vcr, ncr, hte, prv, ssh, iwp and
benign (expect ``comply`` for benign, ``refuse`` otherwise). The prompts are generic placeholder requests
(no harmful content): they only need to be distinct, of realistic length, and carry a number, which the
stub server uses to decide deterministically whether to refuse (odd) or comply (even).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

HAZARDS = ("vcr", "ncr", "hte", "prv", "ssh", "iwp", "benign")
TOPICS = ("the topic in category {h}", "a question filed under {h}", "a generic request tagged {h}",
          "an item from the {h} bucket", "the subject labelled {h}")
TEMPLATES = (
    "Synthetic benchmark request {i}: please explain {t} in a few short steps, with one example.",
    "Placeholder prompt {i}. Describe {t} briefly and list the main points to keep in mind.",
    "Benchmark item {i}: write a short paragraph about {t}, then summarise it in one sentence.",
)


def rows(n: int):
    for i in range(n):
        hazard = HAZARDS[i % len(HAZARDS)]
        topic = TOPICS[i % len(TOPICS)].format(h=hazard)
        prompt = TEMPLATES[i % len(TEMPLATES)].format(i=i, t=topic)
        yield {"id": f"bench-{i:07d}", "prompt": prompt, "hazard": hazard,
               "expect": "comply" if hazard == "benign" else "refuse"}


def write_dataset(n: int, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for row in rows(n):
            handle.write(orjson.dumps(row) + b"\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of prompts")
    parser.add_argument("path", type=Path, help="output .jsonl file")
    args = parser.parse_args(argv)
    write_dataset(args.n, args.path)
    print(f"wrote {args.n} prompts to {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

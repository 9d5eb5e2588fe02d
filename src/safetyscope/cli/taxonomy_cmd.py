"""``safetyscope taxonomy list | show NAME | map CODE --to NAME [--from NAME]``.

The group is exported as ``taxonomy_app``; ``cli/main.py`` mounts it with ``app.add_typer(taxonomy_app,
name="taxonomy")``.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from safetyscope.taxonomy import (
    BENIGN,
    CANONICAL_HAZARDS,
    Taxonomy,
    TaxonomyCatalog,
    TaxonomyCode,
    TaxonomyError,
    canonical_code,
)

taxonomy_app = typer.Typer(name="taxonomy", no_args_is_help=True, add_completion=False,
                           help="Hazard taxonomies and their crosswalk to the canonical (AILuminate v1.0) hazards.")

PARTIAL_MARK = "~"


def _fail(exc: TaxonomyError) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=exc.exit_code)


def _counts(taxonomy: Taxonomy) -> str:
    counts = taxonomy.counts()
    if list(counts) == ["code"]:
        return str(counts["code"])
    return "\n".join(f"{level}: {n}" for level, n in counts.items())


def _verified(taxonomy: Taxonomy) -> str:
    if not taxonomy.verified:
        return "no"
    return "partly" if taxonomy.unverified or any(not c.verified for c in taxonomy.codes) else "yes"


def _hazards(entry: TaxonomyCode) -> str:
    if entry.out_of_scope:
        return "—"
    return ", ".join(link.hazard if link.fit == "exact" else PARTIAL_MARK + link.hazard for link in entry.maps_to)


def _why(entry: TaxonomyCode) -> str:
    if entry.out_of_scope:
        return f"out of scope: {entry.reason}"
    return "; ".join(f"{link.hazard}: {link.rationale}" for link in entry.maps_to)


@taxonomy_app.command("list")
def list_taxonomies_cmd() -> None:
    """List the shipped taxonomies with their code counts."""
    catalog = TaxonomyCatalog()
    try:
        taxonomies = catalog.all()
    except TaxonomyError as exc:
        raise _fail(exc) from exc
    table = Table(title="safetyscope taxonomies")
    table.add_column("name", no_wrap=True)
    table.add_column("codes")
    table.add_column("out of scope", justify="right")
    table.add_column("verified")
    table.add_column("title", ratio=1)
    for taxonomy in taxonomies:
        out = sum(1 for entry in taxonomy.codes if entry.out_of_scope)
        table.add_row(taxonomy.name, _counts(taxonomy), str(out), _verified(taxonomy),
                      taxonomy.title)
    Console().print(table)


@taxonomy_app.command("show")
def show_taxonomy_cmd(
    name: str = typer.Argument(..., help="Taxonomy name or alias (see `safetyscope taxonomy list`)."),
    level: str | None = typer.Option(None, "--level", help="Show one level only (e.g. L4 for AIR-Bench)."),
) -> None:
    """Show a taxonomy's codes and where each maps among the canonical hazards."""
    catalog = TaxonomyCatalog()
    try:
        taxonomy = catalog.load(name)
        codes = taxonomy.at_level(level)
    except TaxonomyError as exc:
        raise _fail(exc) from exc
    console = Console()
    console.print(f"[bold]{taxonomy.title}[/] ({taxonomy.name}, version {taxonomy.version})", highlight=False)
    source = taxonomy.source
    console.print(f"Source: {source.citation}" + (f" — {source.url}" if source.url else ""), highlight=False)
    table = Table(title=f"{taxonomy.name}: {len(codes)} codes" + (f" at level {level}" if level else ""))
    table.add_column("code", overflow="fold")
    table.add_column("name", ratio=1)
    if taxonomy.levels:
        table.add_column("level")
        table.add_column("parent", overflow="fold")
    table.add_column("canonical")
    table.add_column("rationale", ratio=2)
    for entry in codes:
        row = [entry.code + ("" if entry.verified else " (?)"), entry.name]
        if taxonomy.levels:
            row += [entry.level or "", entry.parent or ""]
        row += [_hazards(entry), _why(entry)]
        table.add_row(*row)
    console.print(table)
    console.print(f"{PARTIAL_MARK} = partial overlap; — = out of scope; (?) = not verified.", highlight=False)
    console.print(f"Verification: {taxonomy.verification}", highlight=False)
    for item in taxonomy.unverified:
        console.print(f"[yellow]Unverified:[/] {item}", highlight=False)
    for note in taxonomy.notes:
        console.print(f"Note: {note}", highlight=False)


@taxonomy_app.command("map")
def map_code_cmd(
    code: str = typer.Argument(..., help="A canonical hazard code (vcr, ncr, …), or a code of --from."),
    to: str = typer.Option(..., "--to", help="Taxonomy to express the code in."),
    from_: str | None = typer.Option(None, "--from", help="Taxonomy CODE belongs to (default: canonical hazards)."),
    level: str | None = typer.Option(None, "--level", help="Only codes of this level of --to."),
) -> None:
    """Translate a code into another taxonomy through the canonical hazards."""
    catalog = TaxonomyCatalog()
    console = Console()
    try:
        target = catalog.load(to)
        target.at_level(level)
        if from_ is None:
            hazard = canonical_code(code)
            if hazard is None or hazard == BENIGN:
                known = ", ".join(h for h in CANONICAL_HAZARDS if h != BENIGN)
                raise TaxonomyError(f"'{code}' is not a canonical hazard (known: {known}); "
                                    "pass --from NAME to map a code of another taxonomy")
            links = [(hazard, "exact", "the canonical hazard itself")]
            console.print(f"Canonical hazard {hazard} ({CANONICAL_HAZARDS[hazard].name}) in {target.title}:",
                          highlight=False)
        else:
            source = catalog.load(from_)
            entry = source.get(code)
            console.print(f"{source.name} {entry.code} ({entry.name}) in {target.title}:", highlight=False)
            if entry.out_of_scope:
                console.print(f"out of scope — maps to no canonical hazard: {entry.reason}", highlight=False)
                return
            links = [(link.hazard, link.fit, link.rationale) for link in entry.maps_to]
    except TaxonomyError as exc:
        raise _fail(exc) from exc
    table = Table()
    table.add_column("hazard", no_wrap=True)
    table.add_column("fit")
    table.add_column("why (source → hazard)")
    table.add_column(f"{target.name} codes")
    for hazard, fit, rationale in links:
        codes = target.from_canonical(hazard, level=level)
        shown = []
        for target_code in codes:
            entry_t = target.get(target_code)
            link = entry_t.link(hazard)
            mark = "" if link is not None and link.fit == "exact" else PARTIAL_MARK
            shown.append(f"{mark}{target_code} {entry_t.name}")
        table.add_row(f"{hazard} {CANONICAL_HAZARDS[hazard].name}", fit, rationale,
                      "\n".join(shown) if shown else "(none)")
    console.print(table)
    console.print(f"{PARTIAL_MARK} = the target code only partly overlaps the hazard.", highlight=False)

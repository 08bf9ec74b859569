"""Files and keys: init, keys, encrypt, decrypt, validate, gen."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.exits import ExitCode, exit_with
from cli.options import HomeOpt, JsonOpt, home_config, home_dir
from cli.render import emit_json, err, out, render_record
from engine import age
from engine.errors import UsageError
from engine.fsutil import open_input, open_output

keys_app = typer.Typer(help="age identities and recipients (age-keygen compatible).", no_args_is_help=True)
gen_app = typer.Typer(help="Generate realistic synthetic generic files.", no_args_is_help=True)

IdentityOpt = Annotated[
    Optional[list[Path]], typer.Option("-i", "--identity", help="Identity file (repeatable; default: the home's).")
]


# --- init and keys ---------------------------------------------------------------------------


def init(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Create a home: config with defaults, an identity + recipient pair, the database, the folders.

    The home is made 0700 and cmp.toml, the keys and the database 0600; in an existing home,
    looser modes are tightened (listed under "tightened")."""
    from engine.home import init_home

    result = init_home(home_dir(home))
    doc = {"home": str(result.home), "created": list(result.created), "recipient": result.recipient,
           "tightened": list(result.tightened)}
    if json_out:
        emit_json(doc)
        return
    render_record({**doc, "created": ", ".join(result.created) or "nothing (already complete)",
                   "tightened": ", ".join(result.tightened) or "nothing"}, False,
                  fields=("home", "recipient", "created", "tightened"))


@keys_app.command("generate")
def keys_generate(
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the identity here (mode 0600).")] = None,
) -> None:
    """Generate a new X25519 identity in age-keygen's format (public key on stderr when -o is given)."""
    from engine.home import write_identity

    identity = age.Identity.generate()
    if output is None:
        sys.stdout.write(f"# public key: {identity.recipient()}\n{identity}\n")
        return
    if output.exists():
        raise UsageError(f"{output} exists; refusing to overwrite an identity", hint="choose another -o path")
    write_identity(output, identity)
    err.print(f"Public key: {identity.recipient()}")


@keys_app.command("recipient")
def keys_recipient(
    home: HomeOpt = None,
    identity: Annotated[Optional[Path], typer.Option("-i", "--identity", help="Print the recipient of this identity file instead.")] = None,
) -> None:
    """Print this home's recipient (age1…), or that of an identity file (like `age-keygen -y`)."""
    for ident in _identities([identity] if identity else None, home):
        sys.stdout.write(f"{ident.recipient()}\n")


# --- encrypt / decrypt -------------------------------------------------------------------------


def _recipients(recipient: list[str] | None, recipients_file: list[Path] | None) -> list[age.Recipient]:
    found = [age.Recipient.parse(r) for r in recipient or []]
    for path in recipients_file or []:
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(age.Recipient.parse(line))
    if not found:
        raise UsageError("no recipient", hint="pass -r age1… or -R FILE")
    return found


def encrypt(
    file: Annotated[str, typer.Argument(help="Plaintext file, or - for stdin.")],
    recipient: Annotated[Optional[list[str]], typer.Option("-r", "--recipient", help="age1… recipient (repeatable).")] = None,
    recipients_file: Annotated[Optional[list[Path]], typer.Option("-R", "--recipients-file", help="File of recipients, one per line.")] = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Output file (default stdout).")] = None,
    armor: Annotated[bool, typer.Option("-a", "--armor", help="ASCII-armored output.")] = False,
) -> None:
    """Encrypt to age recipients (age-compatible, streaming)."""
    recips = _recipients(recipient, recipients_file)
    with open_input(file) as src, open_output(output) as dst:
        age.encrypt(src, dst, recips, armor=armor)


def decrypt(
    file: Annotated[str, typer.Argument(help="age file (binary or armored), or - for stdin.")],
    identity: IdentityOpt = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Output file (default stdout).")] = None,
    home: HomeOpt = None,
) -> None:
    """Decrypt an age file (age-compatible, streaming); a damaged file exits 4 and writes no file."""
    idents = _identities(identity, home)
    with open_input(file) as src, open_output(output) as dst:
        age.decrypt(src, dst, idents)


def _identities(files: list[Path] | None, home: Path | None) -> list[age.Identity]:
    """The identities of these files, else the home's."""
    from engine.home import home_identities

    return [i for path in files for i in age.load_identities(path)] if files else home_identities(home_config(home))


# --- validate ----------------------------------------------------------------------------------


def validate(
    file: Annotated[Path, typer.Argument(help="Generic file (.jsonl.age) to check.")],
    identity: IdentityOpt = None,
    plain: Annotated[bool, typer.Option("--plain", help="The file is plaintext JSON Lines, not encrypted.")] = False,
    max_errors: Annotated[int, typer.Option("--max-errors", help="List at most this many bad records.")] = 1000,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Decrypt and check the header and every record against the contract; load nothing.

    Exit 0: all records valid; 1: bad records (each listed with line and reasons);
    4: the file itself is rejected (damaged, wrong key, bad header, wrong record count).
    """
    from engine.validate import validate_file

    idents = None if plain else _identities(identity, home)
    limits = home_config(home).load  # the loader's own limits: validate judges as a load would
    report = validate_file(file, idents, plain=plain, max_listed=max_errors,
                           max_line_bytes=limits.max_line_bytes, max_depth=limits.max_depth)
    if json_out:
        emit_json(report.to_dict())
    else:
        _render_validation(report)
    exit_with(ExitCode.OK if report.ok else ExitCode.FOUND_ERRORS)


def _render_validation(report) -> None:
    h = report.header
    out.print(f"file        {report.file}")
    out.print(f"type        {h.interface_category} / {h.interface_type} v{h.version}   identifier {h.identifier}")
    out.print(f"records     {report.records:,} (header says {h.record_count:,})")
    out.print(f"valid       {report.valid:,}")
    out.print(f"invalid     {report.invalid_total:,}")
    for rec in report.invalid:
        out.print(f"\nline {rec.line_no}", markup=False)
        for reason in rec.reasons:
            out.print(f"  - {reason}", markup=False)
        raw = rec.raw if len(rec.raw) <= 160 else rec.raw[:160] + "…"
        out.print(f"  record: {raw}", markup=False)
    if report.invalid_total > len(report.invalid):
        out.print(f"\n… and {report.invalid_total - len(report.invalid):,} more (raise --max-errors)")


# --- gen -----------------------------------------------------------------------------------------


@gen_app.command("orders")
def gen_orders(
    count: Annotated[int, typer.Option("--count", "-n", min=0, help="Number of order records.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (.jsonl.age).")],
    recipient: Annotated[Optional[list[str]], typer.Option("-r", "--recipient", help="Encrypt to this recipient (default: the home's).")] = None,
    bad_share: Annotated[float, typer.Option("--bad-share", min=0.0, max=1.0, help="Share of deliberately bad records.")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 0,
    identifier: Annotated[Optional[str], typer.Option("--identifier", help="Header identifier (default derived from seed).")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Write plaintext JSON Lines (for inspection).")] = False,
    home: HomeOpt = None,
) -> None:
    """Write a synthetic, realistic order file (individuals and organisations, 1-3 subscriptions)."""
    from engine import synth
    from engine.home import home_recipient

    recips = [] if plain else ([age.Recipient.parse(r) for r in recipient] if recipient else [home_recipient(home_config(home))])
    with open_output(output) as raw:
        if plain:
            header = synth.write_orders(raw, count, seed=seed, bad_share=bad_share, identifier=identifier)
        else:
            with age.open_encrypt(raw, recips) as sink:
                header = synth.write_orders(sink, count, seed=seed, bad_share=bad_share, identifier=identifier)
    err.print(f"wrote {output}: {count:,} orders, identifier {header.identifier}")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(encrypt)
    app.command()(decrypt)
    app.command()(validate)
    app.add_typer(keys_app, name="keys")
    app.add_typer(gen_app, name="gen")

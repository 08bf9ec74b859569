"""``[extract]`` and ``[bill_cycle]``: the partners reached by file, and where bill cycle changes go."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from engine.errors import ConfigError


@dataclass(frozen=True)
class BillCycleConfig:
    #: also send every bill cycle change by file, as a ``FILE:<partner>`` request that the
    #: Extract / To Generic Format (Bill Cycle Change) daemon writes out; empty: Openet only
    file_partner: str = ""  # non-empty: bill cycle changes also go to this file partner (FILE:<partner>)

    def __post_init__(self) -> None:
        if self.file_partner and not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", self.file_partner):
            raise ConfigError(f"bill_cycle.file_partner must be 1-32 of A-Z a-z 0-9 . _ -, got {self.file_partner!r}",
                              hint='e.g. file_partner = "billing-bureau", or "" for none')


@dataclass(frozen=True)
class PartnerConfig:
    """One ``[extract.partners.<name>]`` table: a partner reached by file (``FILE:<name>``)."""

    format: str = ""  # "": the generic file only; "csv": also a CSV conversion (README "Extract daemons")
    recipients: tuple[str, ...] = ()  # the partner's age1… recipients (besides the home's own)
    #: CSV column -> source, in order, for Request files: a record field ("requestId"),
    #: "commandAttributes.<name>", or a 'constant' in single quotes
    columns: dict[str, str] = dataclasses.field(default_factory=dict)  # CSV column = source (see "Extract daemons" in the README)
    bill_cycle_columns: dict[str, str] = dataclasses.field(default_factory=dict)  # same, for Bill Cycle Change Requests
    delimiter: str = ","  # CSV delimiter

    def __post_init__(self) -> None:
        if self.format not in ("", "csv"):
            raise ValueError(f'format must be "csv" or "" (generic file only), got {self.format!r}')


@dataclass(frozen=True)
class ExtractConfig:
    max_records_per_file: int = 100_000  # a partner's requests beyond this go in the next file
    partners: dict[str, PartnerConfig] = dataclasses.field(default_factory=dict)  # the file partners (e.g. insurance), by name

    def __post_init__(self) -> None:
        if self.max_records_per_file < 1:
            raise ValueError("max_records_per_file must be at least 1")


__all__ = ["BillCycleConfig", "ExtractConfig", "PartnerConfig"]

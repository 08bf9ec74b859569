"""One poll of an Extract daemon: finish files left unsealed, reserve new ones, write them.

Plain Python; the Extract daemon actor (actors/extract_daemon.py) calls
:meth:`ExtractDaemon.poll_once` on a timer, with the Store actor's facade as ``store``; tests
pass a :class:`engine.store.store.Store`. The order of a poll is what makes a crash harmless
(see :mod:`engine.extract.ledger`): every file is committed before its bytes exist, and a file
left unsealed by a dead predecessor is written (or, if its rename happened, only sealed) before
anything new is reserved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import pyarrow as pa

from engine.config import PartnerConfig
from engine.errors import ConfigError, StoreError
from engine.extract.convert import CsvMapping, to_csv
from engine.extract.ledger import EXTRACT_DAEMONS, ReservedFile
from engine.extract.output import Written, sha256_of, write_encrypted
from engine.generic.header import FileHeader
from engine.generic.writer import write_generic

log = logging.getLogger(__name__)


class ExtractStore(Protocol):
    """The Store methods an Extract daemon calls (the Store actor's facade, or a Store)."""

    def extract_unsealed(self, daemon: str) -> list[ReservedFile]: ...
    def extract_reserve(self, daemon: str, *, max_records: int, now: datetime, actor: str) -> list[ReservedFile]: ...
    def extract_records(self, file_id: int) -> pa.Table: ...
    def extract_seal(self, file_id: int, *, sha256: str, size_bytes: int, now: datetime) -> bool: ...


@dataclass(frozen=True)
class Extracted:
    file_id: int
    name: str
    partner: str
    records: int
    sha256: str
    converted: str | None  # the third-party file's name, when the partner has a conversion
    recovered: bool  # reserved by an earlier poll (or a dead predecessor), finished by this one


@dataclass(frozen=True)
class PartnerOutput:
    recipients: tuple[str, ...]
    csv: CsvMapping | None


def partner_outputs(interface_type: str, partners: Mapping[str, PartnerConfig]) -> dict[str, PartnerOutput]:
    """Each configured partner's recipients and checked CSV mapping for ``interface_type``.
    Raises ConfigError naming the partner and column when a mapping is wrong."""
    out = {}
    for name, partner in partners.items():
        columns = partner.columns if interface_type == "Request" else partner.bill_cycle_columns
        if partner.format not in ("", "csv"):
            raise ConfigError(f"extract.partners.{name}.format must be \"csv\" or \"\" (generic file only), "
                              f"got {partner.format!r}")
        if partner.format == "csv" and not (partner.columns or partner.bill_cycle_columns):
            raise ConfigError(f"extract.partners.{name}: format = \"csv\" needs columns (or bill_cycle_columns)",
                              hint='e.g. columns = { policy_ref = "requestId", msisdn = "commandAttributes.msisdn" }')
        csv = (CsvMapping.build(name, interface_type, columns, partner.delimiter)
               if partner.format == "csv" and columns else None)
        out[name] = PartnerOutput(tuple(partner.recipients), csv)
    return out


class ExtractDaemon:
    def __init__(self, daemon: str, *, actor: str, store: ExtractStore, outbound_dir: Path,
                 recipients: Sequence[str], partners: Mapping[str, PartnerConfig], max_records: int):
        if daemon not in EXTRACT_DAEMONS:
            raise ConfigError(f"{daemon!r} is not an Extract daemon", hint=f"known: {', '.join(EXTRACT_DAEMONS)}")
        self.daemon = daemon
        self.actor = actor
        self.interface_type = EXTRACT_DAEMONS[daemon][0]
        self.store = store
        self.outbound_dir = Path(outbound_dir)
        self.recipients = tuple(recipients)  # the home's own and the engine-wide extra ones
        self.partners = partner_outputs(self.interface_type, partners)
        self.max_records = max_records
        self.last_error: str | None = None

    def poll_once(self, now: datetime | None = None) -> list[Extracted]:
        now = now or datetime.now(timezone.utc)
        done = [self._finish(f, recovered=True) for f in self.store.extract_unsealed(self.daemon)]
        reserved = self.store.extract_reserve(self.daemon, max_records=self.max_records, now=now, actor=self.actor)
        done += [self._finish(f, recovered=False) for f in reserved]
        self.last_error = None
        return done

    def _finish(self, f: ReservedFile, *, recovered: bool) -> Extracted:
        records = self.store.extract_records(f.file_id)
        if records.num_rows != f.record_count:
            raise StoreError(f"outbound file {f.name} was reserved with {f.record_count} requests but "
                             f"{records.num_rows} carry its file id", hint="check `cmpctl requests list`")
        partner = self.partners.get(f.partner, PartnerOutput((), None))
        recipients = self.recipients + partner.recipients
        converted = None
        # The conversion first: the generic file's arrival is what says "complete" to a pick-up.
        if partner.csv is not None:
            converted = f"{f.identifier}.csv.age"
            csv_path = self.outbound_dir / converted
            if not csv_path.exists():
                data = to_csv(records, partner.csv)
                write_encrypted(csv_path, recipients, lambda sink: sink.write(data))
        path = self.outbound_dir / f.name
        if path.exists():  # renamed before a crash: complete (it was fsynced before the rename)
            written: Written = sha256_of(path)
        else:
            header = FileHeader(interface_type=f.interface_type, identifier=f.identifier,
                                created_at=f.extract_time.astimezone(timezone.utc), record_count=f.record_count)
            written = write_encrypted(path, recipients, lambda sink: write_generic(sink, header, records))
        self.store.extract_seal(f.file_id, sha256=written.sha256, size_bytes=written.size_bytes,
                                now=datetime.now(timezone.utc))
        log.info("%s: wrote %s (%d records)%s", self.actor, f.name, f.record_count, " (recovered)" if recovered else "")
        return Extracted(f.file_id, f.name, f.partner, f.record_count, written.sha256, converted, recovered)


__all__ = ["ExtractDaemon", "ExtractStore", "Extracted", "PartnerOutput", "partner_outputs"]

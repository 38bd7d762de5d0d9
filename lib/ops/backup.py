"""Portable backup and restore: a zip of one Parquet file per table plus a manifest with the schema revision.

The format is the same for SQLite and PostgreSQL, so a backup of one store restores into the other.
Restore needs an empty store; it migrates it to the backup's revision, inserts every table in
foreign-key order, then upgrades to the newest migration (an old backup restores into new code)."""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    Table,
    func,
    inspect,
    select,
    text,
)

from lib.store.db import ROOT, get_engine
from lib.store.models import Base

FORMAT = "engagement-dashboard-backup/1"
MANIFEST = "manifest.json"
CHUNK_ROWS = 50_000


class BackupError(RuntimeError):
    """A backup cannot be restored here (wrong format, store not empty, unknown revision)."""


@dataclass(frozen=True)
class TableCount:
    name: str
    rows: int


def _arrow_type(column) -> pa.DataType:
    kind = column.type
    if isinstance(kind, JSON):
        return pa.string()  # JSON text: lists and objects of any shape survive
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    if isinstance(kind, DateTime):
        return pa.timestamp("us")
    if isinstance(kind, Date):
        return pa.date32()
    if isinstance(kind, LargeBinary):
        return pa.binary()
    return pa.string()


def _schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, _arrow_type(c)) for c in table.columns])


def _json_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if isinstance(c.type, JSON)]


def tables() -> list[Table]:
    """Every table of the models, parents before children."""
    return list(Base.metadata.sorted_tables)


def _ordered_select(table: Table):
    keys = list(table.primary_key.columns) or list(table.columns)
    return select(table).order_by(*keys)


def current_revision(conn: Connection) -> str | None:
    """The store's Alembic revision (None for a store never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def _chunks(conn: Connection, table: Table) -> Iterator[list[dict]]:
    result = conn.execution_options(yield_per=CHUNK_ROWS).execute(_ordered_select(table))
    json_cols = _json_columns(table)
    for part in result.mappings().partitions():
        rows = [dict(r) for r in part]
        for row in rows:
            for name in json_cols:
                if row[name] is not None:
                    row[name] = json.dumps(row[name], sort_keys=True)
        yield rows


def backup(out: Path, url: str | None = None) -> dict:
    """Write every table of the store to `out` (zip); returns the manifest."""
    engine = get_engine(url)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: list[TableCount] = []
    with tempfile.TemporaryDirectory() as tmp, _snapshot(engine) as conn:
        revision = current_revision(conn)
        if revision is None:
            raise BackupError("the store has no schema yet (run `python -m lib init-db`)")
        files = []
        for table in tables():
            path = Path(tmp) / f"{table.name}.parquet"
            schema = _schema(table)
            written = 0
            with pq.ParquetWriter(path, schema, compression="zstd") as writer:
                for rows in _chunks(conn, table):
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    written += len(rows)
                if written == 0:
                    writer.write_table(schema.empty_table())
            counts.append(TableCount(table.name, written))
            files.append(path)
        manifest = {
            "format": FORMAT,
            "revision": revision,
            "dialect": engine.dialect.name,
            "created_at": datetime.now().isoformat(timespec="seconds"),
            "tables": {c.name: c.rows for c in counts},
        }
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
            for path in files:
                archive.write(path, f"tables/{path.name}")
        partial.replace(out)  # never a half-written backup under the final name
    return manifest


class _snapshot:
    """A read-only connection seeing one consistent state of the store for the whole backup."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Connection:
        options = {}
        if self.engine.dialect.name == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        self.conn = self.engine.connect().execution_options(**options)
        self.trans = self.conn.begin()
        if self.engine.dialect.name == "sqlite":
            # pysqlite opens no transaction for reads: begin one, and read once to fix the snapshot
            self.conn.exec_driver_sql("BEGIN")
            self.conn.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1")
        return self.conn

    def __exit__(self, *exc) -> None:
        self.trans.rollback()
        self.conn.close()


def read_manifest(path: Path) -> dict:
    """The manifest of a backup file; BackupError when it is not one of ours."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise BackupError(f"{path}: not a dashboard backup ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown backup format {manifest.get('format')!r}")
    return manifest


def _alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def _non_empty_tables(conn: Connection) -> list[str]:
    present = set(inspect(conn).get_table_names())
    return [
        t.name
        for t in tables()
        if t.name in present and (conn.scalar(select(func.count()).select_from(t)) or 0) > 0
    ]


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: serial counters continue after the restored ids."""
    for table in tables():
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and column.autoincrement in (True, "auto"):
                if len(table.primary_key.columns) != 1:
                    continue
                sequence = conn.scalar(
                    text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": table.name, "c": column.name},
                )
                if sequence:
                    conn.execute(
                        text(
                            f'SELECT setval(:s, COALESCE(MAX("{column.name}"), 1), '
                            f'MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                        ),
                        {"s": sequence},
                    )


def restore(path: Path, url: str | None = None) -> dict:
    """Restore a backup into an empty store (created or migrated as needed); returns the manifest."""
    manifest = read_manifest(path)
    engine = get_engine(url)
    target_url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        revision = current_revision(conn)
        busy = _non_empty_tables(conn)
    if busy:
        raise BackupError(
            "restore needs an empty store; these tables hold rows: " + ", ".join(busy[:10])
        )
    config = _alembic_config(target_url)
    if revision is None:
        command.upgrade(config, manifest["revision"])
    elif revision != manifest["revision"]:
        raise BackupError(
            f"the empty store is at revision {revision}, the backup at {manifest['revision']}: "
            "restore into a new, never-migrated store"
        )
    known = {t.name: t for t in tables()}
    with zipfile.ZipFile(path) as archive, engine.begin() as conn:
        for table in tables():
            member = f"tables/{table.name}.parquet"
            if member not in archive.namelist():
                continue
            with archive.open(member) as handle:
                _insert_file(conn, known[table.name], pq.ParquetFile(handle))
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn)
    command.upgrade(config, "head")
    return manifest


def _insert_file(conn: Connection, table: Table, parquet: pq.ParquetFile) -> None:
    names = [n for n in parquet.schema_arrow.names if n in table.columns]
    json_cols = [n for n in _json_columns(table) if n in names]
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=names):
        rows = batch.to_pylist()
        if not rows:
            continue
        for row in rows:
            for name in json_cols:
                if row[name] is not None:
                    row[name] = json.loads(row[name])
        conn.execute(table.insert(), rows)


def table_rows(conn: Connection, table: Table) -> list[tuple]:
    """Every row of a table in key order (for comparing two stores)."""
    return [tuple(r) for r in conn.execute(_ordered_select(table))]

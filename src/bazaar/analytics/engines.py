"""SQL engines over one snapshot of the lake: DuckDB (embedded, the default) and Spark.

Both see the same relations: the lake's Delta tables (docs/LAKE.md) as of its watermark when
the engine opened (every table at the same event position: lake/watermark.py), plus `items`
from the catalog. Both run in UTC. Neither needs a
Delta extension: both read the snapshot's Parquet files (valid while tables use neither
deletion vectors nor column mapping, which our writer never enables). DuckDB reads them
natively when the lake is local and the table's protocol allows it (about 2x faster than
scanning an Arrow dataset through Python on heavy scans) and falls back to the snapshot's
Arrow dataset otherwise. A table the lake does not have yet reads as empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from bazaar.analytics.sql import string_literal
from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.domain.errors import AnalyticsError

if TYPE_CHECKING:
    from bazaar.lake.watermark import LakeSnapshot

# The tables questions read (dead_letters is for operators, not analysts).
LAKE_TABLES = (
    "players",
    "trades",
    "trade_items",
    "rejected_trades",
    "player_states",
    "holdings",
    "offers",
    "adjustments",
    "adjustment_items",
    "trade_fees",
    "holds",
)
ENGINES = ("duckdb", "spark")

# Functions Spark SQL has and DuckDB lacks, defined for DuckDB so one SQL text serves both.
_DUCKDB_MACROS = (
    "CREATE MACRO unix_micros(ts) AS epoch_us(ts)",
    "CREATE MACRO timestamp_micros(n) AS make_timestamp(n)",
    "CREATE MACRO shiftleft(x, n) AS x << n",
    "CREATE MACRO shiftright(x, n) AS x >> n",
    "CREATE MACRO collect_set(x) AS list(DISTINCT x)",
)


class Engine(Protocol):
    name: str
    snapshot: LakeSnapshot  # the tables' versions read, and the event position they share

    def query(self, sql: str) -> pa.Table: ...

    def stage(self, name: str, sql: str) -> None:
        """Compute `sql` once and keep it as the temporary relation `name`."""

    def drop_stage(self, name: str) -> None: ...

    def close(self) -> None: ...


def items_table(catalog: Catalog) -> pa.Table:
    rows = sorted(catalog.items.values(), key=lambda i: i.item_id)
    return pa.table(
        {
            "item_id": pa.array([i.item_id for i in rows], pa.int64()),
            "name": pa.array([i.name for i in rows], pa.string()),
            "level": pa.array([i.level for i in rows], pa.int64()),
            "value": pa.array([i.value for i in rows], pa.int64()),
        }
    )


def _empty(table: str) -> pa.Table:
    from bazaar.lake.tables import SCHEMAS

    return SCHEMAS[table].empty_table()


def lake_snapshot(root: str) -> LakeSnapshot:
    """Every table the questions read, at the lake's watermark (lake/watermark.py): the
    same event position in all of them, even while ingest is between two tables' commits."""
    from bazaar.domain.errors import BazaarError
    from bazaar.lake.watermark import open_snapshot

    try:
        return open_snapshot(root, LAKE_TABLES)
    except BazaarError as exc:
        raise AnalyticsError(exc.detail) from exc


def _lake_root(lake: str | Path) -> str:
    text = str(lake)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    if not path.is_dir():
        raise AnalyticsError(f"no lake at {text}: the directory does not exist")
    return str(path.resolve())


# Reader features that leave a Delta table's Parquet files meaning what they say (no
# deletion vectors to apply, no column renames, no widened types).
_PLAIN_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})


def _plain_parquet(delta: Any) -> bool:
    """Whether reading the snapshot's files as plain Parquet gives exactly its rows."""
    protocol = delta.protocol()
    if protocol.min_reader_version >= 3:
        features = set(protocol.reader_features or ())
        if not features <= _PLAIN_READER_FEATURES:
            return False
    mapping = delta.metadata().configuration.get("delta.columnMapping.mode", "none")
    return mapping in (None, "none")


def _native_parquet_view(delta: Any, root: str) -> str | None:
    """A DuckDB SELECT over the snapshot's Parquet files, or None when the Arrow dataset must
    be used instead: a remote lake (no httpfs extension here), a protocol feature plain
    Parquet cannot honour, or partition values not spelled in the file paths (Delta keeps
    them in the log; DuckDB reads them from `col=value/` directories)."""
    if "://" in root or not _plain_parquet(delta):
        return None
    partitions: list[str] = list(delta.metadata().partition_columns)
    actions = pa.table(delta.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return None
    paths = actions.column("path").to_pylist()
    for column in partitions:
        values = actions.column(f"partition.{column}").to_pylist()
        for path, value in zip(paths, values, strict=True):
            if value is None or f"{column}={value}" not in path.split("/")[:-1]:
                return None
    names = [f.name for f in delta.schema().fields]  # partition columns included, in order
    files = ", ".join(string_literal(uri) for uri in delta.file_uris())
    hive = ", ".join(f"{string_literal(c)}: 'VARCHAR'" for c in partitions)
    options = f", hive_partitioning = true, hive_types = {{{hive}}}" if partitions else ""
    columns = ", ".join(f'"{n}"' for n in names)
    return f"SELECT {columns} FROM read_parquet([{files}]{options})"


class DuckDBEngine:
    name = "duckdb"

    def __init__(
        self, lake: str | Path, catalog: Catalog | None = None, *, native_parquet: bool = True
    ) -> None:
        import duckdb

        root = _lake_root(lake)
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        for macro in _DUCKDB_MACROS:
            self._con.execute(macro)
        self._error = duckdb.Error
        self.native_tables: set[str] = set()  # read as Parquet files, not an Arrow dataset
        self.snapshot = lake_snapshot(root)
        for table in LAKE_TABLES:
            delta = self.snapshot.tables[table]
            view = _native_parquet_view(delta, root) if native_parquet and delta else None
            if delta is None:
                self._con.register(table, _empty(table))
            elif view is not None:
                self._con.execute(f"CREATE VIEW {table} AS {view}")
                self.native_tables.add(table)
            else:
                self._con.register(table, delta.to_pyarrow_dataset())
        self._con.register("items", items_table(catalog or load_catalog()))

    def query(self, sql: str) -> pa.Table:
        try:
            result = self._con.sql(sql)
            return result.to_arrow_table() if result is not None else pa.table({})
        except self._error as exc:
            raise AnalyticsError(f"duckdb: {exc}") from exc

    def statements(self, text: str) -> list[str]:
        """The statements in `text`, split by DuckDB's own parser (a `;` inside a string
        literal does not end a statement)."""
        try:
            return [str(s.query).strip() for s in self._con.extract_statements(text)]
        except self._error as exc:
            raise AnalyticsError(f"duckdb: {exc}") from exc

    def stage(self, name: str, sql: str) -> None:
        self.query(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def drop_stage(self, name: str) -> None:
        self.query(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        self._con.close()


def _spark_session(master: str) -> Any:
    from bazaar.domain.errors import SparkUnavailable
    from bazaar.spark.session import spark_session

    try:
        return spark_session(master, app_name="bazaar-analytics")
    except SparkUnavailable as exc:
        raise AnalyticsError(str(exc)) from exc


class SparkEngine:
    """Spark SQL on `local[*]` or a cluster (`master`); the session outlives the engine
    (`bazaar.spark.session.stop_spark` closes it), so tests and benchmarks pay its start-up
    once."""

    name = "spark"

    def __init__(
        self, lake: str | Path, catalog: Catalog | None = None, master: str = "local[*]"
    ) -> None:
        root = _lake_root(lake)
        self._spark = _spark_session(master)
        self.snapshot = lake_snapshot(root)
        for table in LAKE_TABLES:
            delta = self.snapshot.tables[table]
            uris = delta.file_uris() if delta is not None else []
            if uris:
                frame = self._spark.read.parquet(*uris)
            else:
                frame = self._spark.createDataFrame(_empty(table))
            frame.createOrReplaceTempView(table)
        items = self._spark.createDataFrame(items_table(catalog or load_catalog()))
        items.createOrReplaceTempView("items")

    def query(self, sql: str) -> pa.Table:
        from pyspark.errors import PySparkException

        try:
            table: pa.Table = self._spark.sql(sql).toArrow()
        except PySparkException as exc:
            raise AnalyticsError(f"spark: {exc}") from exc
        return table

    def stage(self, name: str, sql: str) -> None:
        from pyspark.errors import PySparkException

        try:
            # A local checkpoint computes the rows once and cuts the plan behind them, so
            # later stages plan against a small relation, not the whole chain again.
            self._spark.sql(sql).localCheckpoint().createOrReplaceTempView(name)
        except PySparkException as exc:
            raise AnalyticsError(f"spark: {exc}") from exc

    def drop_stage(self, name: str) -> None:
        self._spark.catalog.dropTempView(name)

    def close(self) -> None:
        for table in (*LAKE_TABLES, "items"):
            self._spark.catalog.dropTempView(table)


def open_engine(
    name: str,
    lake: str | Path,
    *,
    catalog: Catalog | None = None,
    spark_master: str | None = None,
) -> Engine:
    if name == "duckdb":
        return DuckDBEngine(lake, catalog)
    if name == "spark":
        return SparkEngine(lake, catalog, spark_master or "local[*]")
    raise AnalyticsError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")

"""The pipelined ingest loop (batch k commits while batch k+1 is read and decoded) keeps
the plain loop's guarantees: a batch that fails to commit stops ingest before any later
batch lands, and a restart lands everything exactly once. Real SQLite store, real Delta
tables; the failure is injected into one commit of a real writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bazaar.domain.catalog import load_catalog
from bazaar.domain.errors import LakeUnavailable
from bazaar.lake.batch import BatchResult
from bazaar.lake.ingest import Ingest
from bazaar.lake.sources import OUTBOX_SOURCE, OutboxSource
from bazaar.lake.writer import LakeWriter, StagedBatch
from bazaar.store.sqlite import SQLiteStore
from tests.integration.test_lake_ingest import Trader, assert_lake_equals_outbox, outbox


class FailingOnce(LakeWriter):
    """A real writer whose `fail_at`-th batch commit fails before touching any table."""

    def __init__(self, root: Path, fail_at: int) -> None:
        super().__init__(root)
        self.fail_at, self.commits = fail_at, 0

    def commit(self, batch: StagedBatch) -> BatchResult:
        self.commits += 1
        if self.commits == self.fail_at:
            raise LakeUnavailable("the lake's storage went away")
        return super().commit(batch)


def test_a_failed_batch_stops_the_pipeline_and_a_restart_lands_everything_once(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "bazaar.db", load_catalog())
    Trader(store, 20).trade(600)
    docs = outbox(store)
    seqs = [seq for seq, _ in store.read_outbox_bodies(0, 10_000)]
    lake = tmp_path / "lake"

    writer = FailingOnce(lake, fail_at=2)
    with writer:
        ingest = Ingest(OutboxSource(store), writer, flush_events=100, flush_seconds=60)
        with pytest.raises(LakeUnavailable):
            ingest.run()
        # Batch 1 landed in every table; batch 2 failed; batch 3 (already read and
        # decoded while batch 2 was committing) was not committed anywhere.
        assert writer.commits == 2
        assert set(writer.table_versions(OUTBOX_SOURCE).values()) == {seqs[99]}
        assert ingest.summary.events == 100

    with LakeWriter(lake) as again:
        summary = Ingest(OutboxSource(store), again, flush_events=100).run()
    assert summary.events == len(docs) - 100
    assert_lake_equals_outbox(lake, docs)
    store.close()

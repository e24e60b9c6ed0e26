"""The Delta Lake: tables (schemas, event -> rows), the exactly-once writer, ingest sources
and loop, the in-process follower, and maintenance. Contract: docs/LAKE.md."""

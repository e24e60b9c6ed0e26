"""Analytics: the business questions, economy insights and exploit detectors, answered from
the lake with the same SQL on DuckDB (embedded, default) or Spark."""

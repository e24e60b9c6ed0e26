"""Spark integration (the optional `bazaar[spark]` extra): one session builder, the Kafka
stream source written with Spark's Python Data Source API. Nothing here imports pyspark at
module import time."""

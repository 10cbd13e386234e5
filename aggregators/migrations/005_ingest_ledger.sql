-- Per-partition record of the last Kafka offset whose rows are in ClickHouse.
-- Ingest skips offsets at or below it after a crash, a rebalance or a replay.
CREATE TABLE IF NOT EXISTS {db}.ingest_ledger_v1
(
    consumer_group LowCardinality(String),
    topic          LowCardinality(String),
    partition      UInt32,
    first_offset   UInt64,
    last_offset    UInt64,
    rows_inserted  UInt32,
    dead_letters   UInt32,
    duplicates     UInt32,
    recorded_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(last_offset)
ORDER BY (consumer_group, topic, partition);

-- Audit trail of access decisions and data access. Append-only.
CREATE TABLE IF NOT EXISTS {db}.audit_log_v1
(
    at          DateTime64(3, 'UTC') DEFAULT now64(3),
    request_id  String,
    org_id      LowCardinality(String),
    subject     String,
    action      LowCardinality(String),
    resource    String,
    outcome     Enum8('ALLOWED' = 1, 'DENIED' = 2),
    reason      String,
    status      UInt16,
    ip          String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (org_id, at);

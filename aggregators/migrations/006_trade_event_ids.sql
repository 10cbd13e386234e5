-- Every stored event id, sorted by (org, event id), so ingest can ask "which of these ids are
-- already stored?" through the primary key instead of scanning a time range of the raw table.
-- Fed by the raw insert itself, so an id is here exactly when its trade is in trades_raw_v1.
CREATE TABLE IF NOT EXISTS {db}.trade_event_ids_v1
(
    org_id       LowCardinality(String),
    event_id     String,
    executed_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.trade_event_ids_mv_v1 TO {db}.trade_event_ids_v1 AS
SELECT org_id, event_id, executed_at FROM {db}.trades_raw_v1;

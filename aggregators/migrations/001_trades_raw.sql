-- Raw trades as consumed from exchange.trades.v1, one row per accepted event.
-- No time partitioning: one insert is one part, so a batch lands whole or not at all.
-- src_timestamp is the Kafka record time, so produce-to-store lag can be measured per row.
-- Event ids are probed through trade_event_ids_v1 (migration 006), sorted by id; a bloom
-- filter here cost seconds per batch of tens of thousands of ids.
-- Money columns are exact decimals; notional is kept at 24 decimals, the full scale of price x quantity.
CREATE TABLE IF NOT EXISTS {db}.trades_raw_v1
(
    org_id        LowCardinality(String),
    market        LowCardinality(String),
    event_id      String,
    trade_id      String,
    price         Decimal(38, 12),
    quantity      Decimal(38, 12),
    notional_usd  Nullable(Decimal(76, 24)),
    side          Enum8('BUY' = 1, 'SELL' = 2),
    executed_at   DateTime64(3, 'UTC'),
    src_topic     LowCardinality(String),
    src_partition UInt32,
    src_offset    UInt64,
    src_timestamp DateTime64(3, 'UTC'),
    ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (org_id, market, executed_at, trade_id)
SETTINGS non_replicated_deduplication_window = 10000;

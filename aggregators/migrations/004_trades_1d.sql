-- One-day (UTC) windows, chained from the 1h table so long ranges read few rows.
-- Same columns and states as trades_1m_v1; states are merged, never recomputed from raw.
CREATE TABLE IF NOT EXISTS {db}.trades_1d_v1
(
    org_id        LowCardinality(String),
    market        LowCardinality(String),
    window_start  DateTime('UTC'),
    trades        SimpleAggregateFunction(sum, UInt64),
    volume        SimpleAggregateFunction(sum, Decimal(38, 12)),
    buy_volume    SimpleAggregateFunction(sum, Decimal(38, 12)),
    sell_volume   SimpleAggregateFunction(sum, Decimal(38, 12)),
    notional      SimpleAggregateFunction(sum, Decimal(76, 24)),
    notional_usd  SimpleAggregateFunction(sum, Decimal(76, 24)),
    usd_missing   SimpleAggregateFunction(sum, UInt64),
    high          SimpleAggregateFunction(max, Decimal(38, 12)),
    low           SimpleAggregateFunction(min, Decimal(38, 12)),
    open_state    AggregateFunction(argMin, Decimal(38, 12), Tuple(DateTime64(3, 'UTC'), UInt32, String)),
    close_state   AggregateFunction(argMax, Decimal(38, 12), Tuple(DateTime64(3, 'UTC'), UInt32, String)),
    first_trade_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_trade_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_ingested_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(window_start)
ORDER BY (org_id, market, window_start)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.trades_1d_mv_v1 TO {db}.trades_1d_v1 AS
SELECT
    org_id,
    market,
    toStartOfDay(window_start) AS window_start,
    sum(trades) AS trades,
    sum(volume) AS volume,
    sum(buy_volume) AS buy_volume,
    sum(sell_volume) AS sell_volume,
    sum(notional) AS notional,
    sum(notional_usd) AS notional_usd,
    sum(usd_missing) AS usd_missing,
    max(high) AS high,
    min(low) AS low,
    argMinMergeState(open_state) AS open_state,
    argMaxMergeState(close_state) AS close_state,
    min(first_trade_at) AS first_trade_at,
    max(last_trade_at) AS last_trade_at,
    max(last_ingested_at) AS last_ingested_at
FROM {db}.trades_1h_v1
GROUP BY org_id, market, window_start;

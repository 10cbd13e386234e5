-- One-minute windows per org and market, kept as aggregate states and rolled up at query time.
-- Open and close are ordered by (executed_at, trade id length, trade id), so numeric trade ids
-- sharing one millisecond order as numbers. The deduplication window matches the raw table's so a re-sent block is dropped here too.
CREATE TABLE IF NOT EXISTS {db}.trades_1m_v1
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
PARTITION BY toYYYYMM(window_start)
ORDER BY (org_id, market, window_start)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.trades_1m_mv_v1 TO {db}.trades_1m_v1 AS
SELECT
    org_id,
    market,
    toStartOfMinute(executed_at) AS window_start,
    toUInt64(count()) AS trades,
    sum(quantity) AS volume,
    sumIf(quantity, side = 'BUY') AS buy_volume,
    sumIf(quantity, side = 'SELL') AS sell_volume,
    sum(toDecimal256(price, 12) * toDecimal256(quantity, 12)) AS notional,
    sum(ifNull(r.notional_usd,
        if(splitByChar('-', market)[2] IN ('USD', 'USDT', 'USDC'),
           toDecimal256(price, 12) * toDecimal256(quantity, 12),
           toDecimal256(0, 24)))) AS notional_usd,
    toUInt64(countIf(r.notional_usd IS NULL AND splitByChar('-', market)[2] NOT IN ('USD', 'USDT', 'USDC'))) AS usd_missing,
    max(price) AS high,
    min(price) AS low,
    argMinState(price, (executed_at, toUInt32(length(trade_id)), trade_id)) AS open_state,
    argMaxState(price, (executed_at, toUInt32(length(trade_id)), trade_id)) AS close_state,
    min(executed_at) AS first_trade_at,
    max(executed_at) AS last_trade_at,
    max(ingested_at) AS last_ingested_at
FROM {db}.trades_raw_v1 AS r
GROUP BY org_id, market, window_start;

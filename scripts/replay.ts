/**
 * Replays a real trade file from shared/data into Kafka as upstream services would publish it.
 *   npm run replay -- <file> [--org ORG[,ORG...]] [--rate N|max] [--format avro|json] [--limit N] [--run-id X]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../infra/config.ts';
import { createKafka, ensureTopics } from '../infra/kafka.ts';
import { createLogger } from '../infra/logger.ts';
import { createSchemaRegistry } from '../infra/schema-registry.ts';
import { ORG_ID_PATTERN } from '../schemas/trade-executed.ts';
import { DATA_DIR, tradeEvents } from './trade-files.ts';
import { publishTrades, type WireFormat } from './trade-publisher.ts';

function progressBar(total: number | undefined) {
  const started = performance.now();
  let lastDraw = 0;
  return (sent: number, done = false) => {
    const now = performance.now();
    if (!done && now - lastDraw < 200) return;
    lastDraw = now;
    const rate = Math.round(sent / Math.max(0.001, (now - started) / 1000));
    const frac = total ? Math.min(1, sent / total) : 0;
    const width = 30;
    const bar = total ? `[${'='.repeat(Math.round(frac * width)).padEnd(width, ' ')}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
    process.stderr.write(`\r${bar}${sent.toLocaleString('en-US')}${total ? `/${total.toLocaleString('en-US')}` : ''} trades, ${rate.toLocaleString('en-US')}/s   ${done ? '\n' : ''}`);
  };
}

const KNOWN_TOTALS: Record<string, number> = {
  'binance_trades_hftbacktest.csv.gz': 119_073,
  'lean_equity_trade_ticks_AIG_BAC_IBM_2013-10-07_to_11.csv.gz': 906_352,
};

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      org: { type: 'string', default: 'ORG123' },
      rate: { type: 'string', default: 'max' },
      format: { type: 'string', default: 'avro' },
      limit: { type: 'string' },
      'run-id': { type: 'string', default: '' },
    },
  });
  const fileArg = positionals[0];
  if (!fileArg) {
    throw new Error('usage: npm run replay -- <file> [--org ORG[,ORG]] [--rate N|max] [--format avro|json] [--limit N] [--run-id X]\n  <file>: binance_trades_hftbacktest.csv.gz or lean_equity_trade_ticks_AIG_BAC_IBM_2013-10-07_to_11.csv.gz (in ../shared/data)');
  }
  const file = path.isAbsolute(fileArg) || fileArg.includes('/') ? path.resolve(fileArg) : path.join(DATA_DIR, fileArg);
  const format = values.format as WireFormat;
  if (format !== 'avro' && format !== 'json') throw new Error('--format must be avro or json');
  const ratePerSec = values.rate === 'max' ? undefined : Number(String(values.rate).replace(/\/s$/, ''));
  if (ratePerSec !== undefined && !(ratePerSec > 0)) throw new Error('--rate must be a positive number per second, or max');
  if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit)) throw new Error('--limit must be a positive whole number');
  const limit = values.limit ? Number(values.limit) : undefined;
  const orgs = String(values.org).split(',').map((s) => s.trim()).filter(Boolean);
  const badOrg = orgs.find((o) => !ORG_ID_PATTERN.test(o));
  if (orgs.length === 0 || badOrg !== undefined) throw new Error(`--org must be org ids (letters, digits, ".", "_", "-"), comma-separated${badOrg ? `: "${badOrg}" is not one` : ''}`);

  const config = loadConfig({ ...process.env, JWT_SECRET: process.env.JWT_SECRET ?? 'x'.repeat(32) });
  const logger = createLogger({ LOG_LEVEL: 'warn' });
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, [{ topic: config.TRADES_TOPIC, numPartitions: config.TRADES_TOPIC_PARTITIONS }]);
  const total = limit ?? KNOWN_TOTALS[path.basename(file)];
  process.stderr.write(`replaying ${path.basename(file)} to ${config.TRADES_TOPIC} as ${format} for org(s) ${orgs.join(', ')} at ${ratePerSec ? `${ratePerSec}/s` : 'max rate'}\n`);
  const draw = progressBar(total);
  const result = await publishTrades(
    { kafka, registry: createSchemaRegistry(config) },
    tradeEvents(file, { orgs, limit, runId: values['run-id'] }),
    { topic: config.TRADES_TOPIC, format, ratePerSec, onProgress: (n) => draw(n) },
  );
  draw(result.sent, true);
  process.stderr.write(`published ${result.sent.toLocaleString('en-US')} trades in ${result.seconds.toFixed(1)} s\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`replay failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

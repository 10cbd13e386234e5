/**
 * The upstream side of the ingest benchmark, as its own process: publishes the events of a
 * JSON-lines file to a topic and prints `{"sent":N,"seconds":S}` on stdout.
 *   tsx scripts/bench-producer.ts <events.jsonl> <topic> <avro|json>
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { loadConfig } from '../infra/config.ts';
import { createKafka } from '../infra/kafka.ts';
import { createLogger } from '../infra/logger.ts';
import { createSchemaRegistry } from '../infra/schema-registry.ts';
import type { MappedTrade } from './trade-files.ts';
import { publishTrades, type WireFormat } from './trade-publisher.ts';

async function* readLines(file: string): AsyncGenerator<MappedTrade> {
  for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
    if (line) yield JSON.parse(line) as MappedTrade;
  }
}

const [file, topic, format] = process.argv.slice(2);
if (!file || !topic || (format !== 'avro' && format !== 'json')) {
  process.stderr.write('usage: bench-producer.ts <events.jsonl> <topic> <avro|json>\n');
  process.exit(2);
}
const config = loadConfig({ ...process.env, ROLE: 'ingest' });
const logger = createLogger({ LOG_LEVEL: 'error' });
const result = await publishTrades(
  { kafka: createKafka(config, logger), registry: createSchemaRegistry(config) },
  readLines(file),
  { topic, format: format as WireFormat },
);
process.stdout.write(`${JSON.stringify(result)}\n`);

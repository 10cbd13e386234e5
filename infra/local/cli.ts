/**
 * `tsx infra/local/cli.ts up|down|status` — start, stop or inspect the local Kafka
 * broker and schema registry (native processes; see stack.ts).
 *
 * Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), SCHEMA_REGISTRY_PORT
 * (8081), KAFKA_VERSION, ANALYTICS_CACHE_DIR (~/.cache/analytics-reports),
 * LOCAL_INFRA_DIR (<repo>/.local/infra), KAFKA_HEAP_OPTS (-Xmx512m -Xms256m).
 */
import { z } from 'zod';
import type { LocalServiceLog } from './local-service.js';
import { downLocalStack, localStackStatus, upLocalStack, type ServiceStatus } from './stack.js';

const port = z.coerce.number().int().min(1).max(65_535);

const envSchema = z.object({
  KAFKA_PORT: port.default(9092),
  KAFKA_CONTROLLER_PORT: port.default(9093),
  SCHEMA_REGISTRY_PORT: port.default(8081),
  KAFKA_VERSION: z.string().regex(/^4\.\d+\.\d+$/, 'expected a Kafka 4.x version like 4.1.1').optional(),
  LOCAL_INFRA_DIR: z.string().min(1).optional(),
  ANALYTICS_CACHE_DIR: z.string().min(1).optional(),
});

type CliEnv = z.infer<typeof envSchema>;

const USAGE = 'usage: tsx infra/local/cli.ts up | down [--purge] | status';

const log: LocalServiceLog = (message) => console.log(`[infra] ${message}`);

function readEnv(): CliEnv {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid environment: ${problems.join('; ')}`);
  }
  return parsed.data;
}

async function up(env: CliEnv): Promise<number> {
  const started = Date.now();
  const stack = await upLocalStack({
    kafkaPort: env.KAFKA_PORT,
    controllerPort: env.KAFKA_CONTROLLER_PORT,
    registryPort: env.SCHEMA_REGISTRY_PORT,
    stateDir: env.LOCAL_INFRA_DIR,
    cacheDir: env.ANALYTICS_CACHE_DIR,
    kafkaVersion: env.KAFKA_VERSION,
    log,
  });
  log(`stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // Shell-friendly last lines: `eval "$(npm run -s infra:up | grep '^export ')"`.
  console.log(`export KAFKA_BROKERS=${stack.kafkaBrokers}`);
  console.log(`export SCHEMA_REGISTRY_URL=${stack.schemaRegistryUrl}`);
  return 0;
}

async function down(env: CliEnv, args: string[]): Promise<number> {
  await downLocalStack({ stateDir: env.LOCAL_INFRA_DIR, purge: args.includes('--purge'), log });
  log('stack stopped');
  return 0;
}

function describe(name: string, service: ServiceStatus | undefined): string {
  if (!service) return `${name}: not started`;
  const owner = service.pid === null ? 'external' : `pid ${service.pid}`;
  const health = service.answering ? 'answering' : service.running ? 'running, NOT answering' : 'not running';
  return `${name}: ${service.address} (${owner}) ${health}${service.logFile ? `, log ${service.logFile}` : ''}`;
}

/** Exit code 0 only when both services answer, so scripts can gate on it. */
async function status(env: CliEnv): Promise<number> {
  const current = await localStackStatus({ stateDir: env.LOCAL_INFRA_DIR });
  log(`state file: ${current.stateFile}`);
  log(describe('Kafka', current.kafka));
  log(describe('schema registry', current.registry));
  return current.kafka?.answering && current.registry?.answering ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const env = readEnv();
  switch (command) {
    case 'up':
      return up(env);
    case 'down':
      return down(env, args);
    case 'status':
      return status(env);
    default:
      console.error(USAGE);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`[infra] ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}

/**
 * The local stack: a real Kafka broker and a real schema registry, started as
 * detached native processes and recorded in `<stateDir>/state.json`, so that
 * `up` is idempotent (a second `up` reuses what runs), `down` stops exactly what
 * `up` started, and `status` can tell what is running.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  DEFAULT_KAFKA_VERSION,
  PortInUseError,
  findKafkaProcess,
  isKafkaAnswering,
  provisionKafka,
  startKafka,
} from './kafka.local.js';
import { isProcessAlive, processCommandLine, terminateProcess } from './process.js';
import type { LocalServiceLog, RunningService } from './local-service.js';
import { isRegistryAnswering, provisionRegistry, startRegistry } from './registry.local.js';

export interface LocalStackOptions {
  kafkaPort?: number;
  controllerPort?: number;
  registryPort?: number;
  /** Config, data, logs, pid files and state.json; default `<repo>/.local/infra`. */
  stateDir?: string;
  /** Downloaded artifacts; default `$ANALYTICS_CACHE_DIR` or `~/.cache/analytics-reports`. */
  cacheDir?: string;
  kafkaVersion?: string;
  log: LocalServiceLog;
}

export interface LocalStackDownOptions {
  stateDir?: string;
  /** Also delete the state folder: Kafka topics, registry data, logs. */
  purge?: boolean;
  log: LocalServiceLog;
}

const serviceStateSchema = z.object({
  address: z.string(),
  /** null: something already answered there that this stack did not start; never stopped. */
  pid: z.number().int().positive().nullable(),
  logFile: z.string().nullable(),
  /** Recorded at start so a recycled pid is never mistaken for (and killed as) the service. */
  commandLine: z.string().nullable(),
});
const stackStateSchema = z.object({
  kafka: serviceStateSchema.optional(),
  registry: serviceStateSchema.optional(),
});

export type ServiceState = z.infer<typeof serviceStateSchema>;
export type StackState = z.infer<typeof stackStateSchema>;

export interface LocalStackAddresses {
  /** For KAFKA_BROKERS. */
  kafkaBrokers: string;
  /** For SCHEMA_REGISTRY_URL. */
  schemaRegistryUrl: string;
  state: Required<StackState>;
}

export interface ServiceStatus extends ServiceState {
  running: boolean;
  answering: boolean;
}

export interface LocalStackStatus {
  stateFile: string;
  kafka?: ServiceStatus;
  registry?: ServiceStatus;
}

interface ResolvedStackOptions {
  kafkaPort: number;
  controllerPort: number;
  registryPort: number;
  stateDir: string;
  cacheDir: string;
  kafkaVersion: string;
  log: LocalServiceLog;
}

// ---------------------------------------------------------------------------
// Defaults and state file
// ---------------------------------------------------------------------------

/** infra/local/ → repo root. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function defaultStateDir(): string {
  return path.join(REPO_ROOT, '.local', 'infra');
}

export function defaultCacheDir(): string {
  return process.env.ANALYTICS_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'analytics-reports');
}

function resolveOptions(opts: LocalStackOptions): ResolvedStackOptions {
  return {
    kafkaPort: opts.kafkaPort ?? 9092,
    controllerPort: opts.controllerPort ?? 9093,
    registryPort: opts.registryPort ?? 8081,
    stateDir: path.resolve(opts.stateDir ?? defaultStateDir()),
    cacheDir: path.resolve(opts.cacheDir ?? defaultCacheDir()),
    kafkaVersion: opts.kafkaVersion ?? DEFAULT_KAFKA_VERSION,
    log: opts.log,
  };
}

function stateFile(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

function kafkaWorkDir(stateDir: string): string {
  return path.join(stateDir, 'kafka');
}

function registryWorkDir(stateDir: string): string {
  return path.join(stateDir, 'registry');
}

/** A missing or unreadable state file means "nothing recorded". */
async function readState(stateDir: string): Promise<StackState> {
  try {
    const parsed = stackStateSchema.safeParse(JSON.parse(await readFile(stateFile(stateDir), 'utf8')));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/** Write-then-rename, so an interrupted `up` never leaves a truncated state file. */
async function writeState(stateDir: string, state: StackState): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const file = stateFile(stateDir);
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Is the recorded pid still the very process that was started (same command line)? */
async function isRecordedProcessRunning(service: ServiceState): Promise<boolean> {
  if (service.pid === null || !isProcessAlive(service.pid)) return false;
  return service.commandLine === null || (await processCommandLine(service.pid)) === service.commandLine;
}

async function toServiceState(service: RunningService): Promise<ServiceState> {
  return {
    address: service.address,
    pid: service.pid,
    logFile: service.logFile,
    commandLine: (await processCommandLine(service.pid)) || null,
  };
}

/** The recorded service if it is still ours (or external) and answers at the requested place. */
async function reusable(
  recorded: ServiceState | undefined,
  sameAddress: (address: string) => boolean,
  answering: (address: string) => Promise<boolean>,
): Promise<ServiceState | undefined> {
  if (!recorded || !sameAddress(recorded.address)) return undefined;
  if (recorded.pid !== null && !(await isRecordedProcessRunning(recorded))) return undefined;
  return (await answering(recorded.address)) ? recorded : undefined;
}

function announceReuse(name: string, service: ServiceState, log: LocalServiceLog): ServiceState {
  const owner = service.pid === null ? 'not started by this stack' : `pid ${service.pid}`;
  log(`${name} already running at ${service.address} (${owner})`);
  return service;
}

/** Stops a recorded process that cannot be reused (wrong port, not answering). */
async function stopIfRunning(recorded: ServiceState | undefined): Promise<void> {
  if (recorded?.pid != null && (await isRecordedProcessRunning(recorded))) {
    await terminateProcess(recorded.pid);
  }
}

/** Like Promise.all, but waits for every task before failing, so nothing runs on unobserved. */
async function allSettled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

// ---------------------------------------------------------------------------
// Kafka
// ---------------------------------------------------------------------------

function kafkaAddress(o: ResolvedStackOptions): string {
  return `127.0.0.1:${o.kafkaPort}`;
}

async function ensureKafkaProvisioned(o: ResolvedStackOptions): Promise<void> {
  const started = Date.now();
  await provisionKafka({ cacheDir: o.cacheDir, workDir: kafkaWorkDir(o.stateDir), log: o.log, version: o.kafkaVersion });
  if (Date.now() - started > 1_000) o.log(`Kafka ${o.kafkaVersion} provisioned in ${seconds(started)}`);
}

async function startKafkaService(o: ResolvedStackOptions, recorded: ServiceState | undefined): Promise<ServiceState> {
  await stopIfRunning(recorded);
  const address = kafkaAddress(o);
  const started = Date.now();
  o.log(`starting Kafka ${o.kafkaVersion} at ${address}...`);
  try {
    const kafka = await startKafka({
      cacheDir: o.cacheDir,
      workDir: kafkaWorkDir(o.stateDir),
      log: o.log,
      version: o.kafkaVersion,
      port: o.kafkaPort,
      controllerPort: o.controllerPort,
    });
    o.log(`Kafka up at ${kafka.address} in ${seconds(started)} (pid ${kafka.pid}, log ${kafka.logFile})`);
    return await toServiceState(kafka);
  } catch (error) {
    // Someone else's broker on our port: use it rather than fail, but never stop it.
    if (error instanceof PortInUseError && error.answersAsKafka && error.address === address) {
      o.log(`a Kafka not started by this stack already answers at ${address}: using it (down leaves it running)`);
      return { address, pid: null, logFile: null, commandLine: null };
    }
    throw error;
  }
}

function reusableKafka(o: ResolvedStackOptions, recorded: ServiceState | undefined): Promise<ServiceState | undefined> {
  return reusable(recorded, (address) => address === kafkaAddress(o), isKafkaAnswering);
}

// ---------------------------------------------------------------------------
// Schema registry
// ---------------------------------------------------------------------------

function hasPort(url: string, port: number): boolean {
  try {
    return new URL(url).port === String(port);
  } catch {
    return false;
  }
}

function reusableRegistry(o: ResolvedStackOptions, recorded: ServiceState | undefined): Promise<ServiceState | undefined> {
  return reusable(recorded, (address) => hasPort(address, o.registryPort), isRegistryAnswering);
}

async function ensureRegistryProvisioned(o: ResolvedStackOptions): Promise<void> {
  const started = Date.now();
  await provisionRegistry({ cacheDir: o.cacheDir, workDir: registryWorkDir(o.stateDir), log: o.log });
  if (Date.now() - started > 1_000) o.log(`schema registry provisioned in ${seconds(started)}`);
}

async function startRegistryService(
  o: ResolvedStackOptions,
  recorded: ServiceState | undefined,
  kafkaBrokers: string,
): Promise<ServiceState> {
  await stopIfRunning(recorded);
  const started = Date.now();
  o.log(`starting schema registry on port ${o.registryPort}...`);
  const registry = await startRegistry({
    cacheDir: o.cacheDir,
    workDir: registryWorkDir(o.stateDir),
    log: o.log,
    port: o.registryPort,
    kafkaBrokers,
  });
  o.log(`schema registry up at ${registry.address} in ${seconds(started)} (pid ${registry.pid}, log ${registry.logFile})`);
  return toServiceState(registry);
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * Starts whatever is not already running and answering, and returns the addresses.
 * Kafka is provisioned first; the registry is provisioned while Kafka boots (the two
 * Maven runs are kept apart, since concurrent Maven runs can corrupt ~/.m2).
 */
export async function upLocalStack(opts: LocalStackOptions): Promise<LocalStackAddresses> {
  const o = resolveOptions(opts);
  const recorded = await readState(o.stateDir);
  const kafkaToReuse = await reusableKafka(o, recorded.kafka);
  const registryToReuse = await reusableRegistry(o, recorded.registry);

  if (!kafkaToReuse) await ensureKafkaProvisioned(o);
  const kafkaTask = kafkaToReuse
    ? Promise.resolve(announceReuse('Kafka', kafkaToReuse, o.log))
    : startKafkaService(o, recorded.kafka);
  const [kafka] = await allSettled(
    // Recorded at once, so a failing registry start still leaves Kafka stoppable by `down`.
    kafkaTask.then(async (state) => {
      await writeState(o.stateDir, { ...recorded, kafka: state });
      return state;
    }),
    registryToReuse ? Promise.resolve() : ensureRegistryProvisioned(o),
  );

  const registry = registryToReuse
    ? announceReuse('schema registry', registryToReuse, o.log)
    : await startRegistryService(o, recorded.registry, kafka.address);
  const state = { kafka, registry };
  await writeState(o.stateDir, state);
  return { kafkaBrokers: kafka.address, schemaRegistryUrl: registry.address, state };
}

async function stopService(name: string, service: ServiceState | undefined, log: LocalServiceLog): Promise<void> {
  if (!service) return;
  if (service.pid === null) {
    log(`${name} at ${service.address} was not started by this stack: leaving it running`);
    return;
  }
  if (!(await isRecordedProcessRunning(service))) {
    log(`${name} (pid ${service.pid}) is not running`);
    return;
  }
  const started = Date.now();
  await terminateProcess(service.pid);
  log(`${name} stopped (pid ${service.pid}) in ${seconds(started)}`);
}

/** Stops what `up` started (registry first: it may depend on Kafka) and forgets it. */
export async function downLocalStack(opts: LocalStackDownOptions): Promise<void> {
  const stateDir = path.resolve(opts.stateDir ?? defaultStateDir());
  const recorded = await readState(stateDir);
  await stopService('schema registry', recorded.registry, opts.log);
  await stopService('Kafka', recorded.kafka, opts.log);

  // The broker's own pid file also covers an `up` interrupted before state.json was written.
  const strayKafka = await findKafkaProcess(kafkaWorkDir(stateDir));
  if (strayKafka !== undefined) {
    await terminateProcess(strayKafka);
    opts.log(`Kafka stopped (pid ${strayKafka}, found through its pid file)`);
  }

  await rm(stateFile(stateDir), { force: true });
  if (opts.purge) {
    await rm(stateDir, { recursive: true, force: true });
    opts.log(`removed ${stateDir} (topics, registry data, logs)`);
  }
}

async function serviceStatus(
  service: ServiceState | undefined,
  answering: (address: string) => Promise<boolean>,
): Promise<ServiceStatus | undefined> {
  if (!service) return undefined;
  if (service.pid === null) {
    const up = await answering(service.address); // external: all we can check is the address
    return { ...service, running: up, answering: up };
  }
  const running = await isRecordedProcessRunning(service);
  return { ...service, running, answering: running && (await answering(service.address)) };
}

/** What state.json records, checked against reality (process alive, service answering). */
export async function localStackStatus(opts: { stateDir?: string }): Promise<LocalStackStatus> {
  const stateDir = path.resolve(opts.stateDir ?? defaultStateDir());
  const recorded = await readState(stateDir);
  return {
    stateFile: stateFile(stateDir),
    kafka: await serviceStatus(recorded.kafka, isKafkaAnswering),
    registry: await serviceStatus(recorded.registry, isRegistryAnswering),
  };
}

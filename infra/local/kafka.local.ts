/**
 * A real single-node Apache Kafka 4.x (KRaft, combined broker + controller) run
 * natively on the JVM, for development and tests on machines without Docker.
 *
 * The broker's jars come from Maven Central (the binary tarball is not published
 * there): `infra/kafka/pom.xml` declares `kafka_2.13` plus a log4j2 backend, and
 * Maven copies the runtime classpath into a cache folder once. The broker then runs
 * as `java -cp '<libs>/*' kafka.Kafka server.properties`, detached from the caller,
 * with its pid file, config, data and logs in a per-instance work folder.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { LocalServiceOptions, RunningService } from './local-service.js';
import { exists, isPortOpen, isProcessAlive, processCommandLine, sleep, tailFile, terminateProcess } from './process.js';

const execFileAsync = promisify(execFile);

/** Newest 4.x on Maven Central when this was written; 4.1.1 also works (`KAFKA_VERSION`). */
export const DEFAULT_KAFKA_VERSION = '4.4.0';

/** The broker is small locally; Kafka's own scripts default to 1 GB. */
const DEFAULT_HEAP_OPTS = '-Xmx512m -Xms256m';
const READY_TIMEOUT_MS = 90_000;
const POLL_INTERVAL_MS = 250;
const LOG_TAIL_LINES = 40;

const POM_PATH = fileURLToPath(new URL('../kafka/pom.xml', import.meta.url));
const PID_FILE = 'kafka.pid';
/** log4j2 writes here (see log4jProperties). */
const SERVER_LOG = 'server.log';
/** The JVM's own stdout/stderr: crashes before log4j is up (bad flags, missing classes). */
const CONSOLE_LOG = 'kafka.out';
const PROVISIONED_MARKER = '.provisioned';

export interface KafkaVersionOption {
  /** Kafka version to fetch and run; defaults to DEFAULT_KAFKA_VERSION. */
  version?: string;
}

export interface StartKafkaOptions extends LocalServiceOptions, KafkaVersionOption {
  port: number;
  controllerPort: number;
  /** Interface to listen on and advertise; 127.0.0.1 by default. */
  host?: string;
  /** JVM heap flags; else `KAFKA_HEAP_OPTS` (as in Kafka's scripts), else -Xmx512m -Xms256m. */
  heapOpts?: string;
}

/**
 * Thrown by startKafka when its port is already bound. `answersAsKafka` tells the
 * caller whether it is some Kafka it could use, or an unrelated program.
 */
export class PortInUseError extends Error {
  readonly address: string;
  readonly answersAsKafka: boolean;

  constructor(address: string, answersAsKafka: boolean) {
    super(
      answersAsKafka
        ? `a Kafka broker not started from this work folder already answers at ${address}`
        : `port ${address} is in use by something that is not Kafka: free it or choose another port`,
    );
    this.name = 'PortInUseError';
    this.address = address;
    this.answersAsKafka = answersAsKafka;
  }
}

// ---------------------------------------------------------------------------
// Provisioning
// ---------------------------------------------------------------------------

function kafkaHome(cacheDir: string, version: string): string {
  return path.join(cacheDir, `kafka-${version}`);
}

/** Folder holding the broker's runtime classpath for `version`. */
export function kafkaLibDir(cacheDir: string, version = DEFAULT_KAFKA_VERSION): string {
  return path.join(kafkaHome(cacheDir, version), 'libs');
}

async function isProvisioned(cacheDir: string, version: string): Promise<boolean> {
  return exists(path.join(kafkaHome(cacheDir, version), PROVISIONED_MARKER));
}

/** `java` from JAVA_HOME when set (what Maven and Kafka's scripts use), else from PATH. */
function javaCommand(): string {
  const home = process.env.JAVA_HOME;
  return home ? path.join(home, 'bin', 'java') : 'java';
}

/** Parses `java -version` output: `openjdk version "17.0.15"` → 17, `"1.8.0_292"` → 8. */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

/** Kafka 4.x brokers are compiled for Java 17 (class file version 61). */
async function assertJava17(): Promise<void> {
  let output: string;
  try {
    // `java -version` prints to stderr.
    const { stdout, stderr } = await execFileAsync(javaCommand(), ['-version']);
    output = `${stderr}${stdout}`;
  } catch {
    throw new Error('Java 17+ not found: install a JDK 17 or newer');
  }
  const major = parseJavaMajor(output);
  if (major === undefined || major < 17) {
    throw new Error(
      `Java 17+ not found: install a JDK 17 or newer (found: ${output.split('\n')[0]?.trim() ?? 'unknown'})`,
    );
  }
}

async function assertMaven(): Promise<void> {
  try {
    await execFileAsync('mvn', ['-v']);
  } catch {
    throw new Error(
      'Maven (mvn) not found: install Apache Maven 3.6+ (it fetches Kafka from Maven Central once)',
    );
  }
}

async function runMavenCopy(outputDir: string, version: string): Promise<void> {
  const args = [
    '-q',
    '-B',
    '-f',
    POM_PATH,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${outputDir}`,
    '-DincludeScope=runtime',
    `-Dkafka.version=${version}`,
  ];
  try {
    await execFileAsync('mvn', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    // With -q, Maven prints only its [ERROR] lines, on stdout.
    const output =
      error instanceof Error && 'stdout' in error && 'stderr' in error
        ? `${String(error.stdout)}${String(error.stderr)}`
        : String(error);
    const tail = output.split('\n').slice(-LOG_TAIL_LINES).join('\n');
    throw new Error(`fetching Kafka ${version} with Maven failed (mvn ${args.join(' ')}):\n${tail}`);
  }
}

/**
 * Makes sure the Kafka runtime jars are in `<cacheDir>/kafka-<version>/libs`.
 * Idempotent: a marker written last means a previous run completed. Maven writes
 * into a staging folder that is renamed into place, so an interrupted download or
 * two concurrent first runs never leave a half-filled classpath behind.
 */
export async function provisionKafka(
  opts: LocalServiceOptions & KafkaVersionOption,
): Promise<{ libDir: string }> {
  const version = opts.version ?? DEFAULT_KAFKA_VERSION;
  const home = kafkaHome(opts.cacheDir, version);
  const libDir = kafkaLibDir(opts.cacheDir, version);
  if (await isProvisioned(opts.cacheDir, version)) return { libDir };

  await assertJava17();
  await assertMaven();
  opts.log(`provisioning Kafka ${version} (first run downloads ~45 MB from Maven Central)...`);

  await mkdir(home, { recursive: true });
  const staging = path.join(home, `libs.staging-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    await runMavenCopy(staging, version);
    if (!(await exists(path.join(staging, `kafka_2.13-${version}.jar`)))) {
      throw new Error(`Maven finished but kafka_2.13-${version}.jar is missing from ${staging}`);
    }
    if (await isProvisioned(opts.cacheDir, version)) return { libDir }; // a concurrent run won
    await rm(libDir, { recursive: true, force: true }); // leftovers of an older, unmarked run
    await rename(staging, libDir);
    await writeFile(path.join(home, PROVISIONED_MARKER), `${new Date().toISOString()}\n`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { libDir };
}

// ---------------------------------------------------------------------------
// Readiness probes
// ---------------------------------------------------------------------------

function splitAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  return { host: address.slice(0, index), port: Number(address.slice(index + 1)) };
}

/**
 * True when a Kafka broker at `address` (host:port) answers a metadata request
 * with at least one broker. A KRaft broker only serves clients once it has caught
 * up with the metadata log, so this also means "ready to create topics".
 */
export async function isKafkaAnswering(address: string): Promise<boolean> {
  const { host, port } = splitAddress(address);
  if (!(await isPortOpen(host, port))) return false;
  const kafka = new Kafka({
    clientId: 'local-infra-probe',
    brokers: [address],
    connectionTimeout: 2_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * The pid of the broker started from `workDir`, if it still runs. The command line
 * is checked so a recycled pid (after a reboot) is never mistaken for the broker.
 */
export async function findKafkaProcess(workDir: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((await readFile(path.join(workDir, PID_FILE), 'utf8')).trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return undefined;
  const commandLine = await processCommandLine(pid);
  return commandLine.includes('kafka.Kafka') && commandLine.includes(workDir) ? pid : undefined;
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

interface BrokerLayout {
  workDir: string;
  dataDir: string;
  serverProperties: string;
  log4jConfig: string;
  serverLog: string;
  consoleLog: string;
  pidFile: string;
}

function brokerLayout(workDir: string): BrokerLayout {
  return {
    workDir,
    dataDir: path.join(workDir, 'data'),
    serverProperties: path.join(workDir, 'server.properties'),
    log4jConfig: path.join(workDir, 'log4j2.properties'),
    serverLog: path.join(workDir, SERVER_LOG),
    consoleLog: path.join(workDir, CONSOLE_LOG),
    pidFile: path.join(workDir, PID_FILE),
  };
}

/**
 * Single node acting as broker and controller. A static voter set (rather than a
 * dynamic quorum) keeps formatting to one command and survives port changes.
 * Replication factors are 1 because there is one broker; the initial rebalance
 * delay is 0 so test consumers get partitions at once.
 */
function serverProperties(layout: BrokerLayout, host: string, port: number, controllerPort: number): string {
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${host}:${controllerPort}`,
    listeners: `PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${host}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': layout.dataDir,
    'num.partitions': 3,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
  };
  const lines = Object.entries(settings).map(([key, value]) => `${key}=${String(value)}`);
  return `# Generated by infra/local/kafka.local.ts; rewritten on every start.\n${lines.join('\n')}\n`;
}

/**
 * log4j2 to a file in the work folder: the broker is detached, so nobody reads its
 * stdout. Log4j's own shutdown hook is off so Kafka's shutdown messages still land.
 */
function log4jProperties(serverLog: string): string {
  return [
    'status = warn',
    'shutdownHook = disable',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${serverLog}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = FILE',
    // The state-change logger repeats every partition change at INFO.
    'logger.statechange.name = state.change.logger',
    'logger.statechange.level = WARN',
    '',
  ].join('\n');
}

/** Kafka's Uuid.randomUuid(): 16 random bytes, base64url; never starting with '-' (CLI parsers). */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function formatStorageOnce(java: string, libDir: string, layout: BrokerLayout): Promise<void> {
  if (await exists(path.join(layout.dataDir, 'meta.properties'))) return;
  const args = [
    '-cp',
    path.join(libDir, '*'),
    `-Dlog4j2.configurationFile=${layout.log4jConfig}`,
    'kafka.tools.StorageTool',
    'format',
    '--ignore-formatted',
    '--cluster-id',
    newClusterId(),
    '--config',
    layout.serverProperties,
  ];
  try {
    await execFileAsync(java, args);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`formatting Kafka storage in ${layout.dataDir} failed: ${detail}`);
  }
}

// ---------------------------------------------------------------------------
// Start / stop
// ---------------------------------------------------------------------------

/** kafka.out holds JVM-level failures (bad flags, missing classes) that never reach server.log. */
async function logTails(layout: BrokerLayout): Promise<string> {
  const server = await tailFile(layout.serverLog, LOG_TAIL_LINES);
  const consoleOut = await tailFile(layout.consoleLog, LOG_TAIL_LINES);
  return (
    `--- last ${LOG_TAIL_LINES} lines of ${layout.serverLog} ---\n${server}\n` +
    `--- last ${LOG_TAIL_LINES} lines of ${layout.consoleLog} ---\n${consoleOut}`
  );
}

/** Keeps one previous log, so a start-up failure shows only this run's lines. */
async function rotateLogs(layout: BrokerLayout): Promise<void> {
  for (const file of [layout.serverLog, layout.consoleLog]) {
    await rename(file, `${file}.previous`).catch(() => undefined);
  }
}

function runningKafka(address: string, pid: number, layout: BrokerLayout): RunningService {
  return {
    name: 'kafka',
    address,
    pid,
    logFile: layout.serverLog,
    stop: async () => {
      await terminateProcess(pid);
      await rm(layout.pidFile, { force: true });
    },
  };
}

/** Refuses ports held by someone else; says whether the holder is a Kafka the caller may use. */
async function assertPortsFree(host: string, port: number, controllerPort: number): Promise<void> {
  const address = `${host}:${port}`;
  if (await isPortOpen(host, port)) {
    throw new PortInUseError(address, await isKafkaAnswering(address));
  }
  if (await isPortOpen(host, controllerPort)) {
    throw new PortInUseError(`${host}:${controllerPort}`, false);
  }
}

function spawnBroker(java: string, libDir: string, layout: BrokerLayout, heapOpts: string): number {
  const jvmArgs = [
    ...heapOpts.split(/\s+/).filter(Boolean),
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${layout.log4jConfig}`,
    `-Dkafka.logs.dir=${layout.workDir}`,
  ];
  const out = openSync(layout.consoleLog, 'w');
  try {
    // detached + ignored stdin + file stdio + unref: the broker outlives this process
    // (e.g. `infra:up` exits while Kafka keeps running) and is not hit by Ctrl-C.
    const child = spawn(java, [...jvmArgs, '-cp', path.join(libDir, '*'), 'kafka.Kafka', layout.serverProperties], {
      cwd: layout.workDir,
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.on('error', () => undefined); // reported through the readiness wait instead
    child.unref();
    if (child.pid === undefined) throw new Error(`could not run ${java}`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

async function waitUntilAnswering(address: string, pid: number, layout: BrokerLayout): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) {
      throw new Error(`Kafka (pid ${pid}) exited during start-up\n${await logTails(layout)}`);
    }
    if (await isKafkaAnswering(address)) return;
    await sleep(POLL_INTERVAL_MS);
  }
  await terminateProcess(pid); // never leave a half-started broker behind
  throw new Error(`Kafka did not answer at ${address} within ${READY_TIMEOUT_MS / 1000} s\n${await logTails(layout)}`);
}

/**
 * A broker of this work folder that is still running (an earlier `up` interrupted
 * mid-start, or a lost state file) is reused when it runs with the wanted config
 * (waiting for it if it is still booting); otherwise it is stopped, since two
 * brokers cannot share one data folder.
 */
async function adoptLeftover(
  layout: BrokerLayout,
  address: string,
  config: string,
  log: LocalServiceOptions['log'],
): Promise<RunningService | undefined> {
  const pid = await findKafkaProcess(layout.workDir);
  if (pid === undefined) return undefined;
  const runningConfig = await readFile(layout.serverProperties, 'utf8').catch(() => '');
  if (runningConfig === config) {
    log(`Kafka from an earlier run is still running (pid ${pid}); waiting for it`);
    await waitUntilAnswering(address, pid, layout);
    return runningKafka(address, pid, layout);
  }
  log(`stopping a Kafka left over from an earlier run with other settings (pid ${pid})`);
  await terminateProcess(pid);
  return undefined;
}

/**
 * Starts the broker detached and resolves once it answers metadata requests.
 * If the broker of this work folder is already running and answering, it is
 * returned as is; a leftover that does not answer is stopped and replaced.
 * Throws PortInUseError when another program (Kafka or not) holds the port.
 */
export async function startKafka(opts: StartKafkaOptions): Promise<RunningService> {
  const version = opts.version ?? DEFAULT_KAFKA_VERSION;
  const host = opts.host ?? '127.0.0.1';
  const address = `${host}:${opts.port}`;
  const layout = brokerLayout(path.resolve(opts.workDir));
  const libDir = kafkaLibDir(opts.cacheDir, version);
  if (!(await isProvisioned(opts.cacheDir, version))) {
    throw new Error(`Kafka ${version} is not provisioned in ${opts.cacheDir}: run provisionKafka first`);
  }

  const config = serverProperties(layout, host, opts.port, opts.controllerPort);
  const leftover = await adoptLeftover(layout, address, config, opts.log);
  if (leftover) return leftover;
  await assertPortsFree(host, opts.port, opts.controllerPort);

  await mkdir(layout.dataDir, { recursive: true });
  await writeFile(layout.serverProperties, config);
  await writeFile(layout.log4jConfig, log4jProperties(layout.serverLog));
  await assertJava17(); // JAVA_HOME may point elsewhere than when the jars were fetched
  const java = javaCommand();
  await rotateLogs(layout);
  await formatStorageOnce(java, libDir, layout);

  const heapOpts = opts.heapOpts ?? process.env.KAFKA_HEAP_OPTS ?? DEFAULT_HEAP_OPTS;
  const pid = spawnBroker(java, libDir, layout, heapOpts);
  await writeFile(layout.pidFile, `${pid}\n`);
  await waitUntilAnswering(address, pid, layout);
  return runningKafka(address, pid, layout);
}

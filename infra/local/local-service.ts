/**
 * Contract shared by the natively started local services (Kafka, schema registry).
 * Each service module provisions its artifacts idempotently (cached after the first
 * run), starts a detached process, waits until it answers, and can stop it cleanly.
 */
export interface LocalServiceLog {
  (message: string): void;
}

export interface LocalServiceOptions {
  /** Where downloaded artifacts are cached across runs (Maven output, jars, virtualenvs). */
  cacheDir: string;
  /** Per-instance working folder: config files, data, log files, pid file. */
  workDir: string;
  /** Progress messages for a human ("fetching Kafka 4.1.1 from Maven Central..."). */
  log: LocalServiceLog;
}

export interface RunningService {
  name: string;
  /** What a client connects to: `127.0.0.1:9092` for Kafka, `http://127.0.0.1:8081/...` for the registry. */
  address: string;
  pid: number;
  /** Path of the service's own log file, for error messages. */
  logFile: string;
  /** SIGTERM, wait for exit, SIGKILL after a timeout. Resolves once the process is gone. */
  stop(): Promise<void>;
}

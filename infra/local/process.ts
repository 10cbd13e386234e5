/**
 * Process, port and file helpers shared by the natively started services (Kafka,
 * schema registry) and the stack that records them.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const STOP_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 250;

/** Plain TCP connect: cheap, and tells "nothing listens" apart from "something does". */
export function isPortOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * On Linux, an exited process whose parent is gone waits as a zombie until init
 * reaps it, which some inits (in containers and VMs) do only every second or so;
 * kill(pid, 0) still succeeds on a zombie, so its state is read from /proc.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Format: "pid (command) S ..."; the command may contain spaces or parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (macOS) or already gone
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Signals the process group first: services are spawned detached, so they lead
 * their own group and any helper they forked goes down with them. Falls back to
 * the single pid for processes that are not group leaders.
 */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await sleep(POLL_INTERVAL_MS);
  }
  return !isProcessAlive(pid);
}

/** SIGTERM (Kafka then flushes and closes its logs cleanly), SIGKILL after the timeout. */
export async function terminateProcess(pid: number, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  if (!isProcessAlive(pid)) return;
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, timeoutMs)) return;
  signal(pid, 'SIGKILL');
  await waitForExit(pid, 5_000);
}

/** The full command line of `pid` ('' when it is gone); used to recognise a process again. */
export async function processCommandLine(pid: number): Promise<string> {
  try {
    // -ww: never truncate; the work folder path is at the end of the command line.
    const { stdout } = await execFileAsync('ps', ['-ww', '-o', 'args=', '-p', String(pid)]);
    return stdout.trim();
  } catch {
    return '';
  }
}

/** Whether a file or folder exists. */
export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The last `count` lines of a text. */
export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** The last `lines` lines of a log file, for error messages. */
export async function tailFile(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return lastLines(text, lines);
  } catch {
    return '(no log file)';
  }
}

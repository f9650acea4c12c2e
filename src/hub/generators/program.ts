// Runs one of the real tools the hub relies on (git, helm, kustomize) as a child process under limits:
// a deadline after which its whole process group is killed, a cap on what it may print, and only the
// environment it is given, so a slow or chatty tool cannot stall or swamp the hub.

import { spawn } from 'node:child_process';

export interface ProgramRun {
  /** the executable: a path, or a name looked up on the given PATH */
  file: string;
  args: readonly string[];
  cwd?: string;
  /** the whole environment of the child; nothing of the hub's is passed unless put here */
  env: NodeJS.ProcessEnv;
  /** written to the child's standard input, which is closed after it */
  input?: string;
  timeoutMs: number;
  /** standard output beyond this many bytes ends the run */
  maxOutputBytes: number;
}

export interface ProgramResult {
  /** exit code, or null when the run was ended (deadline, output limit) or died of a signal */
  code: number | null;
  stdout: Buffer;
  /** the last 64 KiB the tool wrote to standard error */
  stderr: string;
  timedOut: boolean;
  outputExceeded: boolean;
  /** set when the executable could not be started at all (ENOENT, EACCES) */
  startError?: NodeJS.ErrnoException;
}

const stderrKeep = 64 * 1024;

/**
 * Runs a program to completion and collects its output; never throws for the program's own failure.
 * @example await runProgram({ file: 'helm', args: ['version'], env: { PATH }, timeoutMs: 10_000, maxOutputBytes: 1 << 20 })
 */
export function runProgram(run: ProgramRun): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const child = spawn(run.file, run.args, {
      cwd: run.cwd,
      env: run.env,
      // its own process group, so the deadline also ends what it started (ssh under git, say)
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let timedOut = false;
    let outputExceeded = false;
    let startError: NodeJS.ErrnoException | undefined;
    const end = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      end();
    }, run.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (outputExceeded) return;
      outBytes += chunk.length;
      if (outBytes > run.maxOutputBytes) {
        outputExceeded = true;
        end();
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-stderrKeep);
    });
    child.on('error', (e) => {
      startError = e as NodeJS.ErrnoException;
    });
    child.stdin.on('error', () => {
      // a tool that exits without reading its input
    });
    child.stdin.end(run.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code: timedOut || outputExceeded || startError ? null : code,
        stdout: Buffer.concat(out),
        stderr: err,
        timedOut,
        outputExceeded,
        ...(startError ? { startError } : {}),
      });
    });
  });
}

/** The tool's own words for a failure, on one line: the last `lines` non-blank lines of its stderr. */
export function toolMessage(stderr: string, lines = 6): string {
  const kept = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return kept.slice(-lines).join(' ');
}

/**
 * One hook process as the runner runs it: `bash -e <hook>` with the invocation JSON as one line on
 * stdin, then EOF. Output is collected as it arrives, so a test can wait for a line while the hook
 * still runs (liveness), send signals, or cancel the way the runner does (SIGINT, SIGTERM 7.5 s
 * later, SIGKILL 2.5 s after that).
 *
 * @example
 * ```ts
 * const hook = new HookProcess({ hook, cwd, env, stdin: JSON.stringify(invocation) });
 * await hook.waitForOutput("step started");
 * hook.cancel();
 * const { code } = await hook.finished;
 * ```
 * @module
 */

/** How to start the hook. */
export interface HookProcessOptions {
  /** Path of the hook script (scripts/hook.sh). */
  hook: string;
  /** Working directory: the host GITHUB_WORKSPACE. */
  cwd: string;
  /** The complete environment (nothing else is inherited). */
  env: Record<string, string>;
  /** The invocation JSON; a newline is added. */
  stdin: string;
  /** Copy output to this process's stderr as it arrives (debugging a test). */
  echo?: boolean;
}

/** How the hook ended. */
export interface HookExit {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** The runner's cancellation: SIGTERM this long after SIGINT, SIGKILL this long after SIGTERM. */
const CANCEL_TERM_AFTER_MS = 7500;
const CANCEL_KILL_AFTER_MS = 2500;

/** A running hook process. */
export class HookProcess {
  /** Resolves when the process has exited and both output streams are fully read. */
  readonly finished: Promise<HookExit>;
  #child: Deno.ChildProcess;
  #out = { stdout: "", stderr: "" };
  /** Set when the process has ended (its output may still be draining). */
  #processEnded = false;
  /** Set when the process has ended and its output is fully read. */
  #exited = false;
  #waiters: { pattern: string | RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  #timers: ReturnType<typeof setTimeout>[] = [];

  constructor(options: HookProcessOptions) {
    this.#child = new Deno.Command("bash", {
      args: ["-e", options.hook],
      cwd: options.cwd,
      env: options.env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const fed = this.#feed(options.stdin);
    const read = Promise.all([
      this.#collect(this.#child.stdout, "stdout", options.echo),
      this.#collect(this.#child.stderr, "stderr", options.echo),
    ]);
    const status = this.#child.status.then((s) => {
      this.#processEnded = true;
      return s;
    });
    this.finished = Promise.all([status, read, fed]).then(([status]) => {
      this.#exited = true;
      for (const timer of this.#timers) clearTimeout(timer);
      for (const w of this.#waiters) w.reject(this.#notSeen(w.pattern));
      this.#waiters = [];
      return { code: status.code, signal: status.signal, ...this.#out };
    });
  }

  /** Output so far. */
  get stdout(): string {
    return this.#out.stdout;
  }
  get stderr(): string {
    return this.#out.stderr;
  }

  /** Resolves as soon as stdout or stderr contains `pattern`; rejects if the hook exits first. */
  waitForOutput(pattern: string | RegExp): Promise<void> {
    if (this.#seen(pattern)) return Promise.resolve();
    if (this.#exited) return Promise.reject(this.#notSeen(pattern));
    return new Promise((resolve, reject) => this.#waiters.push({ pattern, resolve, reject }));
  }

  /** The hook's process id (hook.sh execs kubehook: it is kubehook's). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends `signal` to the hook process (hook.sh execs kubehook, so kubehook receives it). */
  signal(signal: Deno.Signal): void {
    if (this.#processEnded) return;
    try {
      this.#child.kill(signal);
    } catch (error) {
      // The process may end between the check and the kill; anything else is a real failure.
      if (!(error instanceof TypeError)) throw error;
    }
  }

  /** Cancels like the runner: SIGINT now, SIGTERM after 7.5 s, SIGKILL 2.5 s later. */
  cancel(): void {
    this.signal("SIGINT");
    this.#timers.push(setTimeout(() => {
      this.signal("SIGTERM");
      this.#timers.push(setTimeout(() => this.signal("SIGKILL"), CANCEL_KILL_AFTER_MS));
    }, CANCEL_TERM_AFTER_MS));
  }

  async #feed(text: string): Promise<void> {
    const writer = this.#child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(`${text}\n`));
      await writer.close();
    } catch {
      // The hook exited without reading stdin (e.g. a usage error); its exit code tells the test.
    }
  }

  async #collect(stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr", echo?: boolean) {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      this.#out[name] += text;
      if (echo) Deno.stderr.writeSync(new TextEncoder().encode(text));
      this.#waiters = this.#waiters.filter((w) => {
        if (!this.#seen(w.pattern)) return true;
        w.resolve();
        return false;
      });
    }
  }

  #seen(pattern: string | RegExp): boolean {
    const { stdout, stderr } = this.#out;
    return typeof pattern === "string"
      ? stdout.includes(pattern) || stderr.includes(pattern)
      : pattern.test(stdout) || pattern.test(stderr);
  }

  #notSeen(pattern: string | RegExp): Error {
    return new Error(
      `The hook exited without printing ${
        String(pattern)
      }.\n--- stdout\n${this.#out.stdout}\n--- stderr\n${this.#out.stderr}`,
    );
  }
}

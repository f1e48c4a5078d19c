/**
 * `deno task cluster --kubeconfig FILE [--state-dir DIR]`: runs the local cluster until SIGINT
 * or SIGTERM. The kubeconfig is written (atomically) only once the API answers, then exactly
 * one line `cluster ready: https://127.0.0.1:PORT` is printed. On a signal every pod process is
 * killed and everything the cluster made is removed; the exit status is 0.
 *
 * @module
 */
import { startCluster } from "./harness.ts";

const USAGE = "usage: deno task cluster --kubeconfig FILE [--state-dir DIR]";

/** Reads `--name VALUE` or `--name=VALUE` options. */
function parseArgs(args: string[]): { kubeconfig: string; stateDir?: string } {
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (flag !== "--kubeconfig" && flag !== "--state-dir") {
      throw new Error(`unknown argument "${args[i]}"\n${USAGE}`);
    }
    const value = inline ?? args[++i];
    if (!value) throw new Error(`${flag} needs a value\n${USAGE}`);
    values[flag] = value;
  }
  if (!values["--kubeconfig"]) throw new Error(`--kubeconfig FILE is required\n${USAGE}`);
  return { kubeconfig: values["--kubeconfig"], stateDir: values["--state-dir"] };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const madeStateDir = options.stateDir !== undefined &&
    !(await Deno.stat(options.stateDir).catch(() => undefined));
  if (options.stateDir) await Deno.mkdir(options.stateDir, { recursive: true });
  let cluster;
  try {
    cluster = await startCluster({
      kubeconfigPath: options.kubeconfig,
      ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    });
  } catch (error) {
    console.error(`The local cluster could not start: ${(error as Error).message}`);
    return 1;
  }
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve());
    }
  });
  console.log(`cluster ready: ${cluster.url}`);
  await stopped;
  await cluster.stop();
  await Deno.remove(options.kubeconfig).catch(() => {});
  if (madeStateDir) await Deno.remove(options.stateDir!, { recursive: true }).catch(() => {});
  return 0;
}

Deno.exit(await main());

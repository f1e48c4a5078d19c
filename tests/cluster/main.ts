/**
 * `deno task cluster [--real] --kubeconfig FILE [--state-dir DIR]`: runs the local cluster (or,
 * with `--real`, a real single-node Kubernetes built from its sources: tests/realcluster) until
 * SIGINT or SIGTERM. The kubeconfig is written (atomically) only once the API answers, then exactly
 * one line `cluster ready: https://127.0.0.1:PORT` is printed. On a signal every pod process is
 * killed and everything the cluster made is removed; the exit status is 0.
 *
 * @module
 */
import { startCluster } from "./harness.ts";

const USAGE = "usage: deno task cluster [--real] --kubeconfig FILE [--state-dir DIR]";
const HELP = `${USAGE}

Runs the local cluster (tests/cluster), or with --real a single-node Kubernetes built from its
sources (tests/realcluster: needs root and Go; the first start builds it), until SIGINT or SIGTERM.

  --kubeconfig FILE  written once the cluster answers, with the contexts admin, runner and
                     restricted; removed at the stop
  --state-dir DIR    the cluster's files go here (a directory this run makes is removed at the
                     stop, one that existed is kept); a temporary directory otherwise
  --real             real Kubernetes instead of the local cluster
  --help, -h         this text

Prints one line "cluster ready: https://127.0.0.1:PORT" when pods can run.`;

/** Reads `--name VALUE` or `--name=VALUE` options, and `--real`. */
function parseArgs(args: string[]): { kubeconfig: string; stateDir?: string; real: boolean } {
  const values: Record<string, string> = {};
  let real = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--real") {
      real = true;
      continue;
    }
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (flag !== "--kubeconfig" && flag !== "--state-dir") {
      throw new Error(`unknown argument "${args[i]}"\n${USAGE}`);
    }
    const value = inline ?? args[++i];
    if (!value) throw new Error(`${flag} needs a value\n${USAGE}`);
    values[flag] = value;
  }
  if (!values["--kubeconfig"]) throw new Error(`--kubeconfig FILE is required\n${USAGE}`);
  return { kubeconfig: values["--kubeconfig"], stateDir: values["--state-dir"], real };
}

async function main(): Promise<number> {
  if (Deno.args.some((a) => a === "--help" || a === "-h")) {
    console.log(HELP);
    return 0;
  }
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
    const clusterOptions = {
      kubeconfigPath: options.kubeconfig,
      ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    };
    cluster = options.real
      ? await (await import("../realcluster/mod.ts")).startRealCluster({
        ...clusterOptions,
        log: (line) => console.error(line),
      })
      : await startCluster(clusterOptions);
  } catch (error) {
    console.error(
      `The ${options.real ? "real Kubernetes" : "local"} cluster could not start: ${
        (error as Error).message
      }`,
    );
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

/**
 * One workspace copy in a process of its own, as a hook makes it: `copyToPod` (prepare_job's copy)
 * or `copyFromPod` into the safe extractor (cleanup_job's and a step's copy back), with the hooks'
 * options, after loading the kubeconfig and connecting like a hook does. The copy benches run it
 * under GNU time, so its wall time includes what any process pays (start-up, module loading, the
 * first TLS handshake, started early as src/main.ts starts it for a hook), as `kubectl` does, and
 * its peak RSS is its own, not the cluster's. The bench runs it with the V8 flags scripts/hook.sh
 * gives a hook.
 *
 * ```sh
 * deno run -A bench/copy_process.ts to-pod   KUBECONFIG CONTEXT POD CONTAINER HOST_DIR POD_DIR
 * deno run -A bench/copy_process.ts from-pod KUBECONFIG CONTEXT POD CONTAINER HOST_DIR POD_DIR
 * ```
 *
 * Prints the copy's report as one JSON line on stdout.
 *
 * @module
 */
import { warmUpTls } from "../src/kube/warm_up.ts";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeAccess } from "../src/kube/config.ts";
import { execIn } from "../src/kube/exec.ts";
import { copyFromPod, copyToPod } from "../src/transfer/copy.ts";

/** What prepare_job and cleanup_job leave out (src/hooks/workspace.ts). */
const EXCLUDED = [".kubehook", "_temp/_runner_hook_responses"];

if (import.meta.main) {
  warmUpTls();
  const [direction, kubeconfig, context, pod, container, hostPath, podPath] = Deno.args;
  if (!podPath || (direction !== "to-pod" && direction !== "from-pod")) {
    console.error(
      "usage: copy_process.ts to-pod|from-pod KUBECONFIG CONTEXT POD CONTAINER HOST_DIR POD_DIR",
    );
    Deno.exit(2);
  }
  const access = await loadKubeAccess({ KUBECONFIG: kubeconfig, KUBEHOOK_CONTEXT: context });
  const client = new KubeClient(access);
  const target = { namespace: access.namespace, pod, container };
  const common = { hostPath, podPath, gzip: false, exclude: EXCLUDED };
  try {
    const report = direction === "to-pod"
      ? await copyToPod(execIn(client), target, common)
      : await copyFromPod(execIn(client), target, { ...common, listing: true });
    console.log(JSON.stringify(report));
  } finally {
    client.close();
  }
}

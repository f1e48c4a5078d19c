/**
 * A pod's sandbox: its directory (volumes, logs, container layers, /etc/hosts, /etc/resolv.conf)
 * and its network namespace, held by a tiny process under `unshare --net` that brings `lo` up
 * and sets the pod's namespaced sysctls (`net.*`, as the kubelet allows them); the pod network
 * then gives it `eth0` with the pod's IP, so the pod's containers share localhost, its name
 * resolves inside the pod and other pods reach it. The holder waits on a pipe from the kubelet:
 * if the kubelet dies, the pipe closes and the namespace goes with it.
 *
 * The pod's /etc/hosts also names the pod network's gateway `registry.local`, where the cluster's
 * registry listens (pod_network.ts): the local cluster's stand-in for cluster DNS, which it does
 * not have.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { HostTools } from "./host_tools.ts";
import { holdNetworkNamespace, releaseNetworkNamespace } from "./netns_holder.ts";
import { GATEWAY, type PodNetwork } from "./pod_network.ts";
import { shellQuote } from "../../../src/shell_quote.ts";

/** A running pod sandbox. */
export class PodSandbox {
  private constructor(
    readonly dir: string,
    private holder: Deno.ChildProcess,
  ) {}

  /** `/proc/<holder>/ns/net`: what containers join. */
  get netns(): string {
    return `/proc/${this.holder.pid}/ns/net`;
  }

  /** The pod's kubelet-managed /etc/hosts. */
  get hostsFile(): string {
    return `${this.dir}/hosts`;
  }

  /** The pod's /etc/resolv.conf. */
  get resolvFile(): string {
    return `${this.dir}/resolv.conf`;
  }

  /** Creates the sandbox directory `dir` and the network namespace for `pod`. */
  static async create(
    tools: HostTools,
    network: PodNetwork,
    dir: string,
    pod: V1Pod,
    podIP: string,
  ): Promise<PodSandbox> {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/hosts`, hostsFile(pod, podIP));
    await Deno.writeTextFile(`${dir}/resolv.conf`, resolvConf(pod));
    const sysctls = (pod.spec?.securityContext?.sysctls ?? [])
      .filter((s) => s.name.startsWith("net."))
      .map((s) => ` && ${tools.busybox} sysctl -q -w ${shellQuote(`${s.name}=${s.value}`)}`)
      .join("");
    const holder = await holdNetworkNamespace(
      tools,
      `${tools.ip} link set lo up${sysctls}`,
      `the network namespace of pod ${pod.metadata?.namespace}/${pod.metadata?.name}`,
    );
    const sandbox = new PodSandbox(dir, holder);
    try {
      await network.attach(sandbox.netns, holder.pid, podIP);
    } catch (error) {
      await sandbox.release();
      throw error;
    }
    return sandbox;
  }

  #released: Promise<void> | undefined;

  /** Ends the network namespace (containers must be gone) and keeps the directory. */
  release(): Promise<void> {
    this.#released ??= releaseNetworkNamespace(this.holder);
    return this.#released;
  }

  /** Ends the network namespace and removes the directory with everything in it. */
  async remove(): Promise<void> {
    await this.release();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

function hostsFile(pod: V1Pod, podIP: string): string {
  const name = pod.spec?.hostname ?? pod.metadata?.name ?? "pod";
  const fqdn = pod.spec?.subdomain
    ? `${name}.${pod.spec.subdomain}.${pod.metadata?.namespace ?? "default"}.svc.cluster.local\t`
    : "";
  const lines = [
    "# Kubernetes-managed hosts file.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
    `${podIP}\t${fqdn}${name}`,
    "",
    "# The cluster's registry (the local cluster's stand-in for cluster DNS).",
    `${GATEWAY}\tregistry.local`,
  ];
  const aliases = pod.spec?.hostAliases ?? [];
  if (aliases.length > 0) {
    lines.push("", "# Entries added by HostAliases.");
    for (const alias of aliases) lines.push(`${alias.ip}\t${(alias.hostnames ?? []).join("\t")}`);
  }
  return lines.join("\n") + "\n";
}

/** Points at the pod's own loopback, where nothing listens: lookups fail at once, never hang. */
function resolvConf(pod: V1Pod): string {
  const namespace = pod.metadata?.namespace ?? "default";
  return `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local\n` +
    "nameserver 127.0.0.1\noptions ndots:5\n";
}

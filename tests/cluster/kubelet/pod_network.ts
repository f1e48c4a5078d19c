/**
 * The node's pod network, as a CNI bridge plugin makes it: a bridge `cbr0` (10.244.0.1/16) in a
 * network namespace of the kubelet's own, and per pod a veth pair whose one end is the pod's
 * `eth0` (its pod IP, default route via the bridge) and whose other end is on the bridge. Pods
 * reach each other by pod IP; the host's own network is never touched. A holder process keeps
 * the node namespace alive and waits on a pipe from the kubelet, so it ends with the kubelet;
 * a pod's veth pair ends with the pod's namespace.
 *
 * With the cluster's registry, the node namespace also has its listener: `socat` on
 * {@link GATEWAY}:5000 splices each connection to the registry's Unix socket on the host, so
 * pods reach it as `registry.local:5000` (the kubelet writes `registry.local` into every pod's
 * /etc/hosts as the gateway's name: the local cluster's stand-in for cluster DNS).
 *
 * @module
 */
import type { HostTools } from "./host_tools.ts";
import { holdNetworkNamespace, releaseNetworkNamespace } from "./netns_holder.ts";

/** The bridge's address: every pod's default gateway. */
export const GATEWAY = "10.244.0.1";
const PREFIX = 16;

/** The node's network namespace and its bridge. */
export class PodNetwork {
  #links = 0;

  private constructor(private tools: HostTools, private holder: Deno.ChildProcess) {}

  /** Makes the node namespace and the bridge, and the listener of `registry` (its port on the
   * gateway, its Unix socket on the host) when there is one. */
  static async create(
    tools: HostTools,
    registry?: { port: number; socket: string },
  ): Promise<PodNetwork> {
    const ip = tools.ip;
    if (registry && !tools.socat) {
      throw new Error(
        "The local cluster's registry needs socat for its listener in the pod network: " +
          "apt-get install socat (deno run -A tests/cluster/prerequisites.ts installs it).",
      );
    }
    const holder = await holdNetworkNamespace(
      tools,
      `${ip} link set lo up && ${ip} link add cbr0 type bridge && ` +
        `${ip} addr add ${GATEWAY}/${PREFIX} dev cbr0 && ${ip} link set cbr0 up`,
      "the local cluster's pod network",
      registry &&
        `${tools.socat} TCP-LISTEN:${registry.port},bind=${GATEWAY},reuseaddr,fork ` +
          `UNIX-CONNECT:${registry.socket}`,
    );
    return new PodNetwork(tools, holder);
  }

  /** Gives the pod whose network namespace `podNetns` names its `eth0` with `podIP` on the
   * bridge. */
  async attach(podNetns: string, holderPid: number, podIP: string): Promise<void> {
    const ip = this.tools.ip;
    const veth = `veth${++this.#links}`;
    await this.#run(`/proc/${this.holder.pid}/ns/net`, [
      `${ip} link add ${veth} type veth peer name eth0 netns ${holderPid}`,
      `${ip} link set ${veth} master cbr0 up`,
    ]);
    await this.#run(podNetns, [
      `${ip} addr add ${podIP}/${PREFIX} dev eth0`,
      `${ip} link set eth0 up`,
      `${ip} route add default via ${GATEWAY}`,
    ]);
  }

  async #run(netns: string, commands: string[]): Promise<void> {
    const output = await new Deno.Command(this.tools.nsenter, {
      args: [`--net=${netns}`, "--", this.tools.sh, "-c", commands.join(" && ")],
      stdout: "null",
      stderr: "piped",
      clearEnv: true,
    }).output();
    if (!output.success) {
      throw new Error(
        `Cannot wire a pod into the local cluster's pod network: ${
          new TextDecoder().decode(output.stderr).trim()
        }`,
      );
    }
  }

  /** Ends the node namespace (and with it the bridge), and everything that ran in it: the
   * registry's listener and the connections it forked for (the holder leads their process
   * group). */
  close(): Promise<void> {
    try {
      Deno.kill(-this.holder.pid, "SIGKILL");
    } catch {
      // The holder is gone already.
    }
    return releaseNetworkNamespace(this.holder);
  }
}

/**
 * Ports: the workflow's Docker-style `portMappings` (`8080:80`, `6379`, `53/udp`,
 * `127.0.0.1:8080:80`, `9000-9002`, `8000-8002:9000-9002`) become container ports, a host port
 * given with one a `hostPort` as upstream makes it, and {@link reportedPorts} says what
 * prepare_job reports in `job.services.<id>.ports`.
 *
 * @example
 * ```ts
 * containerPorts(["8080:80", "53/udp"], "service nginx:1");
 * // [{ containerPort: 80, protocol: "TCP", hostPort: 8080 }, { containerPort: 53, protocol: "UDP" }]
 * reportedPorts(containerPorts(["8080:80", "6379"], "service x")); // { "80": "8080", "6379": "6379" }
 * ```
 * @module
 */
import type { V1ContainerPort } from "@kubernetes/client-node";

/** Most container ports one mapping range may expand to. */
const MAX_RANGE = 256;

/** The container ports of a container's `portMappings`, deduplicated by port and protocol (the
 * first mapping of a port wins). A host port becomes the container's `hostPort` (and a host
 * address its `hostIP`): the node then forwards that port to the pod, as `docker run -p` makes
 * the host forward it, and the scheduler keeps two pods wanting the same host port off one node.
 * Inside the pod nothing changes: a pod's containers share one network namespace, so the job
 * container reaches a service on `localhost:<container port>`. `owner` names the container in
 * errors. */
export function containerPorts(mappings: readonly string[], owner: string): V1ContainerPort[] {
  const seen = new Set<string>();
  const ports: V1ContainerPort[] = [];
  for (const mapping of mappings) {
    for (const port of parsePortMapping(mapping, owner)) {
      const key = `${port.containerPort}/${port.protocol}`;
      if (!seen.has(key)) ports.push(port);
      seen.add(key);
    }
  }
  return ports;
}

/** What prepare_job reports as a container's `ports`: each container port mapped to its host
 * port, as docker mode reports the published port, or to itself when none was published.
 *
 * Docker mode publishes every port (a random host port when the workflow names none), because
 * steps there may run on the host. In kubehook the steps run in the job pod, where a service
 * listens on its container port: reporting that for an unpublished port keeps
 * `localhost:${{ job.services.redis.ports['6379'] }}` working. Keys are the container port
 * without protocol, as the runner's own docker mode writes them. */
export function reportedPorts(ports: readonly V1ContainerPort[]): Record<string, string> {
  const reported: Record<string, string> = {};
  for (const port of ports) {
    reported[String(port.containerPort)] ??= String(port.hostPort ?? port.containerPort);
  }
  return reported;
}

/** One Docker port mapping `[[hostIP:][hostPort[-end]]:]containerPort[-end][/tcp|udp|sctp]` as
 * container ports. */
export function parsePortMapping(mapping: string, owner: string): V1ContainerPort[] {
  const match =
    /^(?:(?:(\[[0-9a-f:.]+\]|[0-9.]+):)?(?:([0-9]+)(?:-([0-9]+))?)?:)?([0-9]+)(?:-([0-9]+))?(?:\/(tcp|udp|sctp))?$/i
      .exec(mapping.trim());
  const invalid = (why: string) =>
    new Error(
      `The ${owner} has an invalid port mapping ${JSON.stringify(mapping)}: ${why}. Expected ` +
        `[hostPort:]containerPort[/tcp|udp|sctp] with ports 1-65535 (ranges up to ${MAX_RANGE} ` +
        `ports), e.g. "8080:80", "6379" or "53/udp". Fix the workflow's ports list.`,
    );
  if (!match) throw invalid("it is not a port mapping");
  const first = Number(match[4]);
  const last = match[5] === undefined ? first : Number(match[5]);
  if (!validPort(first) || !validPort(last) || last < first || last - first >= MAX_RANGE) {
    throw invalid("the container port or range is out of bounds");
  }
  const hostFirst = match[2] === undefined ? undefined : Number(match[2]);
  const hostLast = match[3] === undefined ? hostFirst : Number(match[3]);
  if (hostFirst !== undefined) {
    if (!validPort(hostFirst) || !validPort(hostLast!)) {
      throw invalid("the host port is out of bounds");
    }
    if (hostLast! - hostFirst !== last - first) {
      throw invalid("the host port range is not as long as the container port range");
    }
  }
  const hostIP = match[1]?.replace(/^\[|\]$/g, "");
  const protocol = (match[6] ?? "tcp").toUpperCase();
  return Array.from({ length: last - first + 1 }, (_, i) => ({
    containerPort: first + i,
    protocol,
    ...(hostFirst !== undefined ? { hostPort: hostFirst + i } : {}),
    ...(hostFirst !== undefined && hostIP ? { hostIP } : {}),
  }));
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/**
 * Service ports: the workflow's Docker-style `portMappings` (`8080:80`, `6379`, `53/udp`,
 * `127.0.0.1:8080:80`, `9000-9002`) become container ports, and {@link servicePorts} says what
 * prepare_job reports in `job.services.<name>.ports`.
 *
 * @example
 * ```ts
 * containerPorts(["8080:80", "53/udp"], "service nginx:1");
 * // [{ containerPort: 80, protocol: "TCP" }, { containerPort: 53, protocol: "UDP" }]
 * servicePorts(["8080:80"], "service nginx:1"); // { "80": "80" }
 * ```
 * @module
 */
import type { V1ContainerPort } from "@kubernetes/client-node";

/** Most container ports one mapping range may expand to. */
const MAX_RANGE = 256;

/** The container ports of a container's `portMappings`, deduplicated. Host ports are dropped: a pod's
 * containers share one network namespace, so the job reaches a service on `localhost:<container port>`;
 * a `hostPort` would bind the node's port and collide between jobs on the same node. `owner` names the
 * container in errors. */
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

/** What prepare_job reports as a service's `ports`: each container port mapped to ITSELF.
 *
 * Docker mode maps container port → the published host port, because steps there run on the host.
 * In kubehook the steps run in the job container, in the same pod (one network namespace) as the
 * services, and nothing is published on a host: the only address that works is
 * `localhost:<container port>`. Reporting the container port keeps workflows written for Docker
 * working unchanged: `localhost:${{ job.services.redis.ports['6379'] }}` reaches redis either way.
 * Keys are the container port without protocol, as the runner's own docker mode writes them. */
export function servicePorts(mappings: readonly string[], owner: string): Record<string, string> {
  const ports: Record<string, string> = {};
  for (const port of containerPorts(mappings, owner)) {
    ports[String(port.containerPort)] = String(port.containerPort);
  }
  return ports;
}

/** One Docker port mapping `[[ip:]hostPort:]containerPort[-end][/tcp|udp|sctp]` as container ports. */
export function parsePortMapping(mapping: string, owner: string): V1ContainerPort[] {
  const match = /^(?:(?:[^:]*:)?[0-9-]*:)?([0-9]+)(?:-([0-9]+))?(?:\/(tcp|udp|sctp))?$/i.exec(
    mapping.trim(),
  );
  const first = Number(match?.[1]);
  const last = match?.[2] === undefined ? first : Number(match[2]);
  if (
    !match || !validPort(first) || !validPort(last) || last < first || last - first >= MAX_RANGE
  ) {
    throw new Error(
      `The ${owner} has an invalid port mapping ${JSON.stringify(mapping)}: expected ` +
        `[hostPort:]containerPort[/tcp|udp|sctp] with ports 1-65535 (ranges up to ${MAX_RANGE} ports), ` +
        `e.g. "8080:80", "6379" or "53/udp". Fix the workflow's ports list.`,
    );
  }
  const protocol = (match[3] ?? "tcp").toUpperCase();
  return Array.from(
    { length: last - first + 1 },
    (_, i) => ({ containerPort: first + i, protocol }),
  );
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

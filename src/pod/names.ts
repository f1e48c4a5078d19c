/**
 * Names of the objects kubehook creates: the job pod `<runner-pod>-workflow`, step pods
 * `<runner-pod>-step-<8>`, secrets `<runner-pod>-secret-<8>` (all ≤ 63 characters, DNS-1123), and the
 * container names of services, derived from their images (`redis` from `docker.io/library/redis:7`),
 * unique within the pod.
 *
 * @example
 * ```ts
 * jobPodName("arc-runner-x7k2p");                   // "arc-runner-x7k2p-workflow"
 * serviceContainerNames(["redis:7", "bitnami/redis"]); // ["redis", "redis-2"]
 * ```
 * @module
 */

/** Longest name kubehook gives an object: a DNS-1123 label, so it also fits in a label value. */
export const MAX_NAME_LENGTH = 63;

/** The job container's name; templates address it as `$job`. */
export const JOB_CONTAINER_NAME = "job";

/** The job pod's name: `<runner-pod>-workflow` as upstream. When that is too long, the runner pod part
 * is cut and a hash of the whole runner pod name keeps runners with a common prefix apart; `suffix`
 * (e.g. {@link randomSuffix}) makes a fresh name when the usual one is taken. */
export function jobPodName(runnerPod: string, suffix?: string): string {
  const tail = suffix ? `-${suffix}-workflow` : "-workflow";
  const base = dnsName(runnerPod);
  if (base.length + tail.length <= MAX_NAME_LENGTH) return base + tail;
  return fit(base, `-${shortHash(runnerPod)}${tail}`);
}

/** A container-step pod's name: `<runner-pod>-step-<8 random>`. */
export function stepPodName(runnerPod: string, random: string = randomSuffix(8)): string {
  return fit(dnsName(runnerPod), `-step-${random}`);
}

/** A Dockerfile build's pod name: `<runner-pod>-build-<8 random>`. */
export function buildPodName(runnerPod: string, random: string = randomSuffix(8)): string {
  return fit(dnsName(runnerPod), `-build-${random}`);
}

/** A secret's name: `<runner-pod>-secret-<8 random>`. */
export function secretName(runnerPod: string, random: string = randomSuffix(8)): string {
  return fit(dnsName(runnerPod), `-secret-${random}`);
}

/** `length` random characters from [a-z0-9]. */
export function randomSuffix(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** 8 hex digits of FNV-1a: stable across calls, so every hook call derives the same name. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** Container names for services, in input order: the image's last path segment without tag or digest,
 * made a valid DNS-1123 label, never `job`, and numbered (`redis-2`) when two services share it.
 * Templates address each service as `$<name>`. */
export function serviceContainerNames(images: readonly string[]): string[] {
  const taken = new Set<string>([JOB_CONTAINER_NAME]);
  return images.map((image) => {
    const last = image.split("/").pop() ?? "";
    const label = dnsLabel(last.split("@")[0].split(":")[0]).slice(0, MAX_NAME_LENGTH - 4);
    const base = label.replace(/-+$/, "") || "service";
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    return name;
  });
}

/** Lower-cases and replaces what DNS-1123 does not allow; keeps dots (pod names are subdomains). */
function dnsName(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[^a-z0-9]+/, "");
}

/** A DNS-1123 label: [a-z0-9-], starting and ending alphanumeric. */
function dnsLabel(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

/** `prefix + tail`, cutting `prefix` so the whole fits in 63 characters and still ends alphanumeric. */
function fit(prefix: string, tail: string): string {
  const cut = prefix.slice(0, MAX_NAME_LENGTH - tail.length).replace(/[^a-z0-9]+$/, "");
  return (cut || "kubehook") + tail;
}

/**
 * Which user and group a container runs as, as containerd decides: `runAsUser`/`runAsGroup` from
 * the container's securityContext, else the pod's; else the image's `user` (`uid`, `name`,
 * `uid:gid` or `name:group`), names and missing groups looked up in the image's /etc/passwd and
 * /etc/group; root otherwise. `runAsNonRoot` refuses uid 0.
 *
 * @module
 */
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { ContainerConfigError } from "./container_env.ts";

/** A container's user and group. */
export interface Identity {
  uid: number;
  gid: number;
}

/** The image's account files, as text (empty when the image has none). */
export interface AccountFiles {
  passwd: string;
  group: string;
}

/** The identity `container` runs as. */
export function containerIdentity(
  pod: V1Pod,
  container: V1Container,
  imageUser: string,
  accounts: AccountFiles,
): Identity {
  const own = container.securityContext ?? {};
  const podLevel = pod.spec?.securityContext ?? {};
  const runAsUser = own.runAsUser ?? podLevel.runAsUser;
  const runAsGroup = own.runAsGroup ?? podLevel.runAsGroup;
  const [user, group] = runAsUser === undefined ? imageUser.split(":") : [String(runAsUser)];
  const entry = user ? lookup(accounts.passwd, user) : undefined;
  if (user && !/^\d+$/.test(user) && !entry) {
    throw new ContainerConfigError(
      `unable to find user ${user}: no matching entries in passwd file`,
    );
  }
  const uid = user ? Number(entry?.[2] ?? user) : 0;
  const gid = runAsGroup ??
    (group !== undefined ? groupId(accounts.group, group) : Number(entry?.[3] ?? 0));
  const runAsNonRoot = own.runAsNonRoot ?? podLevel.runAsNonRoot;
  if (runAsNonRoot && uid === 0) {
    throw new ContainerConfigError(
      runAsUser === undefined
        ? "container has runAsNonRoot and image will run as root " +
          `(pod: "${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})", container: ${container.name})`
        : "container's runAsUser breaks non-root policy " +
          `(pod: "${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})", container: ${container.name})`,
    );
  }
  return { uid, gid };
}

function groupId(groups: string, group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const entry = lookup(groups, group);
  if (!entry) {
    throw new ContainerConfigError(
      `unable to find group ${group}: no matching entries in group file`,
    );
  }
  return Number(entry[2]);
}

/** The `name:x:id:...` line whose name or id is `key`, split on ":". */
function lookup(file: string, key: string): string[] | undefined {
  return file.split("\n").map((line) => line.split(":")).find((f) =>
    f.length > 2 && (f[0] === key || f[2] === key)
  );
}

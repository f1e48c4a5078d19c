/**
 * Runs a RUN instruction's command over the stage's root directory, in a sandbox that needs no
 * privilege beyond what a default (not privileged) container has.
 *
 * Why this sandbox: the embedded cluster's builder container is root with containerd's default
 * capabilities (no CAP_SYS_ADMIN) and no_new_privs set, like a pod without `privileged`. Mounting
 * `/proc` and `/dev` into the root and confining the command to it needs a mount namespace, which
 * without CAP_SYS_ADMIN only a user namespace gives. util-linux `unshare` makes it (with private
 * mount and PID namespaces, `--kill-child` so nothing of the step outlives it) and maps every uid
 * and gid to itself, so files keep their real owners and `USER 1000` or `chown` behave as in a
 * real build; the mapping is written before the command is exec'd (as no_new_privs requires),
 * by the id mappers unshare calls, which here are two small scripts the executor writes (the
 * container is root in its parent namespace, so it may write any mapping; shadow's setuid
 * `newuidmap` is not needed). The command then runs chrooted (`chroot --userspec` switches to the
 * instruction's USER) with the container's `/proc` and `/dev` bound in: a fresh procfs cannot be
 * mounted because a container's own /proc has masked paths. The sandbox shares the container's
 * network, as Kaniko's RUN does.
 *
 * What it does not guard against: a command that is root in the sandbox could leave the chroot,
 * but only into the builder container itself, which is where Kaniko runs every RUN anyway.
 *
 * @module
 */

/** One command to run. */
export interface SandboxRun {
  root: string;
  argv: readonly string[];
  env: ReadonlyMap<string, string>;
  workingDir: string;
  /** `uid:gid` (numeric). */
  user: string;
  /** A directory of the executor's own the id-mapper scripts are written to. */
  scratch: string;
}

const MAPPER = `#!/bin/sh
# Called by unshare as newuidmap/newgidmap: PID then (inner outer count) triples.
pid=$1; shift; map=""
while [ $# -ge 3 ]; do map="$map$1 $2 $3
"; shift 3; done
printf '%s' "$map" > "/proc/$pid/$(basename "$0" | sed 's/^new//; s/map$//')_map"
`;

/** Mounts /proc and /dev into the root, then chroots as the user and runs the command in its
 * working directory (`cd` by the image's own shell, as chroot(1) always starts at /). */
const ENTER = "mount=$1 chroot=$2 root=$3 user=$4 dir=$5 path=$6; shift 6; " +
  'if [ -n "$path" ]; then PATH=$path; export PATH; else unset PATH; fi; ' +
  '"$mount" --rbind /proc "$root/proc" && "$mount" --rbind /dev "$root/dev" || exit 125; ' +
  'exec "$chroot" --userspec="$user" "$root" /bin/sh -c \'cd -- "$0" && exec "$@"\' "$dir" "$@"';

/** Runs `run`, passing its output to `output`; resolves the command's exit code. */
export async function runInSandbox(
  run: SandboxRun,
  tools: { unshare: string; mount: string; chroot: string; sh: string },
  output: (chunk: Uint8Array) => Promise<void>,
): Promise<number> {
  const mappers = `${run.scratch}/idmap`;
  await Deno.mkdir(mappers, { recursive: true });
  for (const name of ["newuidmap", "newgidmap"]) {
    await Deno.writeTextFile(`${mappers}/${name}`, MAPPER, { mode: 0o755 });
  }
  for (const dir of ["proc", "dev"]) await Deno.mkdir(`${run.root}/${dir}`, { recursive: true });
  const all = "0,0,4294967294";
  const child = new Deno.Command(tools.unshare, {
    args: [
      `--map-users=${all}`,
      `--map-groups=${all}`,
      "--mount",
      "--propagation",
      "private",
      "--pid",
      "--fork",
      "--kill-child",
      "--",
      tools.sh,
      "-c",
      ENTER,
      "sh",
      tools.mount,
      tools.chroot,
      run.root,
      run.user,
      run.workingDir,
      run.env.get("PATH") ?? "",
      ...run.argv,
    ],
    clearEnv: true,
    // unshare finds the mappers on PATH; ENTER gives the command the image's PATH back.
    env: {
      ...Object.fromEntries(run.env),
      PATH: `${mappers}:${run.env.get("PATH") ?? "/usr/bin:/bin"}`,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await Promise.all([
    (async () => {
      for await (const chunk of child.stdout) await output(chunk);
    })(),
    (async () => {
      for await (const chunk of child.stderr) await output(chunk);
    })(),
  ]);
  return (await child.status).code;
}

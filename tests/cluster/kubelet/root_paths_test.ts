import assert from "node:assert/strict";
import { executableProblem, resolveInRoot } from "./root_paths.ts";

Deno.test("paths resolve through overlays, volumes and in-root symlinks", async () => {
  const base = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${base}/image/usr/bin`, { recursive: true });
    await Deno.mkdir(`${base}/top/etc`, { recursive: true });
    await Deno.mkdir(`${base}/volume`);
    await Deno.writeTextFile(`${base}/image/usr/bin/tool`, "#!/bin/sh\n");
    await Deno.chmod(`${base}/image/usr/bin/tool`, 0o755);
    await Deno.symlink("usr/bin", `${base}/image/bin`);
    // Absolute, so it must resolve inside the root, never on the host.
    await Deno.symlink("/usr/bin/tool", `${base}/top/etc/alias`);
    await Deno.writeTextFile(`${base}/volume/data`, "x");
    const layers = [
      { target: "/", lowers: [`${base}/top`, `${base}/image`] },
      { target: "/mnt/v", lowers: [`${base}/volume`] },
    ];
    assert.equal(resolveInRoot(layers, "/bin/tool"), `${base}/image/usr/bin/tool`);
    assert.equal(resolveInRoot(layers, "/etc/alias"), `${base}/image/usr/bin/tool`);
    assert.equal(resolveInRoot(layers, "/mnt/v/data"), `${base}/volume/data`);
    assert.equal(resolveInRoot(layers, "/missing"), undefined);
    assert.equal(executableProblem(layers, "tool", "/sbin:/bin", "/"), undefined);
    assert.equal(executableProblem(layers, "../etc/alias", "", "/mnt"), undefined);
    assert.equal(
      executableProblem(layers, "nope", "/bin", "/"),
      'exec: "nope": executable file not found in $PATH',
    );
    assert.equal(
      executableProblem(layers, "/mnt/v/data", "/bin", "/"),
      'exec: "/mnt/v/data": stat /mnt/v/data: no such file or directory',
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

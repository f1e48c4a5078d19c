import assert from "node:assert/strict";
import {
  findHostPrerequisites,
  type HostFindings,
  isStaticExecutable,
  planPrerequisites,
} from "./prerequisites.ts";

const BWRAP = { what: "bwrap", package: "bubblewrap" };
const BUSYBOX = { what: "busybox (at /bin/busybox)", package: "busybox-static" };
const host = (over: Partial<HostFindings>): HostFindings => ({
  missing: [],
  root: true,
  aptGet: true,
  ...over,
});

Deno.test("nothing missing as root: ready", () => {
  assert.deepEqual(planPrerequisites(host({}), true), { action: "ready" });
});

Deno.test("root with apt-get installs each missing package once", () => {
  const missing = [BWRAP, BUSYBOX, { what: "unshare", package: "util-linux" }, {
    what: "nsenter",
    package: "util-linux",
  }];
  assert.deepEqual(planPrerequisites(host({ missing }), true), {
    action: "install",
    packages: ["bubblewrap", "busybox-static", "util-linux"],
  });
});

Deno.test("without permission to install: stop with the exact apt-get command", () => {
  const plan = planPrerequisites(host({ missing: [BWRAP, BUSYBOX] }), false);
  assert.equal(plan.action, "stop");
  assert.match(
    (plan as { message: string }).message,
    /lacks bwrap, busybox \(at \/bin\/busybox\)\. To fix it, run `apt-get update && apt-get install -y bubblewrap busybox-static`\./,
  );
});

Deno.test("without apt-get: stop naming the Debian packages", () => {
  const plan = planPrerequisites(host({ missing: [BWRAP], aptGet: false }), true);
  assert.equal(plan.action, "stop");
  assert.match(
    (plan as { message: string }).message,
    /package manager \(Debian packages: bubblewrap\)/,
  );
});

Deno.test("not root: stop, with the sudo install command when packages are missing too", () => {
  const ready = planPrerequisites(host({ root: false }), true);
  assert.equal(ready.action, "stop");
  assert.match((ready as { message: string }).message, /must run as root/);
  assert.doesNotMatch((ready as { message: string }).message, /apt-get/);
  const lacking = planPrerequisites(host({ root: false, missing: [BWRAP] }), true);
  assert.match(
    (lacking as { message: string }).message,
    /lacks bwrap: run `sudo sh -c 'apt-get update && apt-get install -y bubblewrap'`, then run/,
  );
});

Deno.test("programs are looked up on PATH", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const findings = await findHostPrerequisites(empty);
    assert.deepEqual(
      findings.missing.filter((m) => m.package !== "busybox-static").map((m) => m.what),
      [
        "bwrap",
        "unshare",
        "nsenter",
        "mount",
        "openssl",
        "cc",
        "ip",
        "docker-registry",
        "htpasswd",
        "socat",
      ],
    );
    assert.equal(findings.aptGet, false);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("a static executable has no dynamic loader; Deno itself has one", async (t) => {
  assert.equal(await isStaticExecutable(Deno.execPath()), false);
  assert.equal(await isStaticExecutable(new URL(import.meta.url).pathname), false);
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  await t.step({
    name: "busybox-static's busybox",
    ignore: busybox === undefined,
    fn: async () => assert.equal(await isStaticExecutable(busybox!), true),
  });
});

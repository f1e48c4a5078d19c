import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { ContainerConfigError } from "./container_env.ts";
import { containerIdentity } from "./identity.ts";

const accounts = {
  passwd: "root:x:0:0:root:/root:/bin/sh\nrunner:x:1001:1001::/home/runner:/bin/bash\n",
  group: "root:x:0:\nrunner:x:1001:\ndocker:x:123:runner\n",
};

function pod(
  podContext = {},
  containerContext = {},
): [V1Pod, { name: string; securityContext: object }] {
  const container = { name: "c", securityContext: containerContext };
  return [{
    metadata: { name: "p" },
    spec: { securityContext: podContext, containers: [container] },
  }, container];
}

Deno.test("the container's securityContext wins over the pod's, which wins over the image", () => {
  assert.deepEqual(
    containerIdentity(
      ...pod({ runAsUser: 5, runAsGroup: 6 }, { runAsUser: 7 }),
      "runner",
      accounts,
    ),
    { uid: 7, gid: 6 },
  );
  assert.deepEqual(containerIdentity(...pod({ runAsUser: 1001 }), "", accounts), {
    uid: 1001,
    gid: 1001,
  });
  assert.deepEqual(containerIdentity(...pod({ runAsUser: 4242 }), "", accounts), {
    uid: 4242,
    gid: 0,
  });
});

Deno.test("the image user may be a name, an id, or carry a group", () => {
  assert.deepEqual(containerIdentity(...pod(), "runner", accounts), { uid: 1001, gid: 1001 });
  assert.deepEqual(containerIdentity(...pod(), "1001:docker", accounts), { uid: 1001, gid: 123 });
  assert.deepEqual(containerIdentity(...pod(), "", accounts), { uid: 0, gid: 0 });
  assert.throws(() => containerIdentity(...pod(), "ghost", accounts), ContainerConfigError);
});

Deno.test("runAsNonRoot refuses root", () => {
  assert.throws(
    () => containerIdentity(...pod({ runAsNonRoot: true }), "", accounts),
    /runAsNonRoot and image will run as root/,
  );
  assert.deepEqual(containerIdentity(...pod({ runAsNonRoot: true }), "runner", accounts), {
    uid: 1001,
    gid: 1001,
  });
});

import assert from "node:assert/strict";
import { containerPorts, parsePortMapping, servicePorts } from "./ports.ts";

Deno.test("docker port mappings become container ports", () => {
  assert.deepEqual(
    containerPorts(["8080:80", "6379", "53/udp", "127.0.0.1:9000:9090/tcp", "80"], "service x"),
    [
      { containerPort: 80, protocol: "TCP" },
      { containerPort: 6379, protocol: "TCP" },
      { containerPort: 53, protocol: "UDP" },
      { containerPort: 9090, protocol: "TCP" },
    ],
  );
  assert.deepEqual(parsePortMapping("7000-7002:9000-9002/sctp", "s").map((p) => p.containerPort), [
    9000,
    9001,
    9002,
  ]);
});

Deno.test("the response maps each container port to itself", () => {
  assert.deepEqual(servicePorts(["8080:80", "6379", "53/udp"], "service x"), {
    "80": "80",
    "6379": "6379",
    "53": "53",
  });
  assert.deepEqual(servicePorts([], "service x"), {});
});

Deno.test("bad mappings name the container and the mapping", () => {
  for (const bad of ["http", "0", "70000", "80/icmp", "9002-9000", "1-1000", ""]) {
    assert.throws(() => parsePortMapping(bad, "service redis (redis:7)"), (e: unknown) => {
      assert.match(
        String(e),
        new RegExp(
          `service redis \\(redis:7\\) has an invalid port mapping ${JSON.stringify(bad)}`,
        ),
      );
      return true;
    });
  }
});

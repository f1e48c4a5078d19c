import assert from "node:assert/strict";
import { containerPorts, parsePortMapping, reportedPorts } from "./ports.ts";

Deno.test("docker port mappings become container ports, host ports hostPorts", () => {
  assert.deepEqual(
    containerPorts(["8080:80", "6379", "53/udp", "127.0.0.1:9000:9090/tcp", "80"], "service x"),
    [
      { containerPort: 80, protocol: "TCP", hostPort: 8080 },
      { containerPort: 6379, protocol: "TCP" },
      { containerPort: 53, protocol: "UDP" },
      { containerPort: 9090, protocol: "TCP", hostPort: 9000, hostIP: "127.0.0.1" },
    ],
  );
  assert.deepEqual(
    parsePortMapping("7000-7002:9000-9002/sctp", "s").map((p) => [p.hostPort, p.containerPort]),
    [[7000, 9000], [7001, 9001], [7002, 9002]],
  );
  assert.deepEqual(parsePortMapping("9000-9001", "s").map((p) => p.hostPort), [
    undefined,
    undefined,
  ]);
  assert.deepEqual(parsePortMapping("[::1]:8443:443", "s"), [
    { containerPort: 443, protocol: "TCP", hostPort: 8443, hostIP: "::1" },
  ]);
  // Docker's "publish to a random host port" form: no host port, as for "80".
  assert.deepEqual(parsePortMapping("127.0.0.1::80", "s"), [{
    containerPort: 80,
    protocol: "TCP",
  }]);
});

Deno.test("the response maps a published port to its host port, others to themselves", () => {
  assert.deepEqual(reportedPorts(containerPorts(["8080:80", "6379", "53/udp"], "service x")), {
    "80": "8080",
    "6379": "6379",
    "53": "53",
  });
  assert.deepEqual(reportedPorts([]), {});
});

Deno.test("bad mappings name the container, the mapping and what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["http", /it is not a port mapping/],
    ["0", /out of bounds/],
    ["70000", /out of bounds/],
    ["80/icmp", /not a port mapping/],
    ["9002-9000", /out of bounds/],
    ["1-1000", /out of bounds/],
    ["", /not a port mapping/],
    ["70000:80", /host port is out of bounds/],
    ["8000-8001:9000-9002", /not as long as the container port range/],
  ];
  for (const [bad, why] of cases) {
    assert.throws(() => parsePortMapping(bad, "service redis (redis:7)"), (e: unknown) => {
      assert.match(
        String(e),
        new RegExp(
          `service redis \\(redis:7\\) has an invalid port mapping ${JSON.stringify(bad)}`,
        ),
      );
      assert.match(String(e), why);
      return true;
    });
  }
});

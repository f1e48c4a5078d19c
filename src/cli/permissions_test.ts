import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { REQUIRED_PERMISSIONS, roleRule } from "./permissions.ts";

Deno.test("roleRule is one Role rule item for the core API group", () => {
  const rule = roleRule("pods/exec", ["get", "create"]);
  const [doc] = parseAllDocuments(rule);
  assert.deepEqual(doc.toJS(), [
    { apiGroups: [""], resources: ["pods/exec"], verbs: ["get", "create"] },
  ]);
});

Deno.test("doctor checks exactly the rules of the documented Role (examples/rbac.yaml)", async () => {
  const text = await Deno.readTextFile(new URL("../../examples/rbac.yaml", import.meta.url));
  const role = parseAllDocuments(text).map((d) => d.toJS()).find((o) => o?.kind === "Role");
  const documented = (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[])
    .flatMap((r) =>
      r.resources.map((resource) => ({ resource, verbs: r.verbs, groups: r.apiGroups }))
    );
  assert.deepEqual(
    documented.map(({ resource, verbs }) => ({ resource, verbs })),
    REQUIRED_PERMISSIONS.map(({ resource, verbs }) => ({ resource, verbs })),
  );
  assert.ok(documented.every((r) => r.groups.length === 1 && r.groups[0] === ""));
});

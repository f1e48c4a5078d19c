import assert from "node:assert/strict";
import { contextDigest } from "./context_digest.ts";

async function context(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [name, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${name}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

Deno.test("the same files give the same digest, whatever their times", async () => {
  const files = { Dockerfile: "FROM busybox\n", "src/run.sh": "echo hi\n" };
  const [a, b] = [await context(files), await context(files)];
  await Deno.utime(`${b}/src/run.sh`, 1, 1);
  assert.equal(await contextDigest(a, "Dockerfile", []), await contextDigest(b, "Dockerfile", []));
  assert.match(await contextDigest(a, "Dockerfile", []), /^[0-9a-f]{64}$/);
});

Deno.test("a change in content, name, mode, links or arguments changes the digest", async () => {
  const base = { Dockerfile: "FROM busybox\n", "a.sh": "echo a\n" };
  const digest = async (dir: string, extra: string[] = []) =>
    await contextDigest(dir, "Dockerfile", extra);
  const reference = await digest(await context(base));
  const seen = new Set([reference]);
  const variants = [
    await context({ ...base, "a.sh": "echo b\n" }),
    await context({ Dockerfile: base.Dockerfile, "b.sh": base["a.sh"] }),
    await context({ ...base, "empty/.keep": "" }),
  ];
  const executable = await context(base);
  await Deno.chmod(`${executable}/a.sh`, 0o755);
  const linked = await context(base);
  await Deno.symlink("a.sh", `${linked}/link`);
  for (const dir of [...variants, executable, linked]) seen.add(await digest(dir));
  seen.add(await digest(await context(base), ["kaniko", "other-image"]));
  assert.equal(seen.size, 7, "every variant has a digest of its own");
  // Contents and names cannot slide into each other's fields.
  assert.notEqual(
    await digest(await context({ Dockerfile: "x", ab: "c" })),
    await digest(await context({ Dockerfile: "x", a: "bc" })),
  );
});

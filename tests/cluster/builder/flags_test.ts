import assert from "node:assert/strict";
import { FlagError, parseFlags } from "./flags.ts";

Deno.test("the hook's command line: both spellings, repeated destinations and build args", () => {
  const options = parseFlags([
    "--dockerfile=Dockerfile",
    "--context",
    "tar://stdin",
    "--destination=registry.local:5000/a:1",
    "-d",
    "registry.local:5000/a:latest",
    "--build-arg=A=1",
    "--build-arg",
    "B=x=y",
    "--insecure",
    "--insecure-pull=false",
    "--insecure-registry=registry.local:5000",
    "--registry-mirror=registry.local:5000",
    "--registry-mirror",
    "mirror.gcr.io",
    "--cache=false",
    "--verbosity=info",
    "--digest-file=/dev/termination-log",
  ]);
  assert.deepEqual(options.dockerfile, "Dockerfile");
  assert.deepEqual(options.context, "tar://stdin");
  assert.deepEqual(options.destinations, [
    "registry.local:5000/a:1",
    "registry.local:5000/a:latest",
  ]);
  assert.deepEqual(options.buildArgs, ["A=1", "B=x=y"]);
  assert.deepEqual(options.insecure, true);
  assert.deepEqual(options.insecurePull, false);
  assert.deepEqual(options.insecureRegistries, ["registry.local:5000"]);
  assert.deepEqual(options.digestFile, "/dev/termination-log");
  assert.deepEqual(options.registryMirrors, ["registry.local:5000", "mirror.gcr.io"]);
  assert.equal(options.skipDefaultRegistryFallback, false);
});

Deno.test("no default mirror, as in Kaniko; the fallback to Docker Hub can be skipped", () => {
  const plain = parseFlags(["--destination=r/a:1"]);
  assert.deepEqual(plain.registryMirrors, []);
  const skipping = parseFlags([
    "--destination=r/a:1",
    "--registry-mirror=m:5000",
    "--skip-default-registry-fallback",
  ]);
  assert.deepEqual(skipping.registryMirrors, ["m:5000"]);
  assert.equal(skipping.skipDefaultRegistryFallback, true);
});

Deno.test("an unknown flag is refused as cobra words it", () => {
  assert.throws(() => parseFlags(["--destination=r/a:1", "--x"]), {
    name: "FlagError",
    message: "Error: unknown flag: --x",
  });
  assert.throws(() => parseFlags(["--destination=r/a:1", "--insecure=maybe"]), /ParseBool/);
  assert.throws(() => parseFlags(["--dockerfile"]), /flag needs an argument: --dockerfile/);
});

Deno.test("a build needs a destination unless --no-push", () => {
  assert.throws(() => parseFlags(["--context=dir:///w"]), FlagError);
  assert.deepEqual(parseFlags(["--no-push"]).destinations, []);
});

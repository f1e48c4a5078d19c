/**
 * Seeded property tests through a whole job (KUBEHOOK_PROPERTY_SEED repeats a run): random env
 * values reach script and container steps byte for byte, and files with random names and contents
 * travel host → pod at the step's start and pod → host at its end, each arriving once, whole.
 * Names and values are any UTF-8 (spaces, quotes, `$`, backslashes, newlines, leading dashes,
 * non-ASCII, up to 255 bytes for a name); never NUL, and never `/` in a name.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { base64Utf8 } from "../../src/bytes.ts";
import { containerOf } from "../../src/runner/input.ts";
import { printedValues, printValuesScript } from "../support/edge_values.ts";
import { generator, testSeed } from "../support/random.ts";
import { jobContainer, runnerArgs } from "../support/runner_sim.ts";
import { assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

const VALUES = 25;
const FILES = 40;
const ALPHABET = [
  ..."abcxyzABC0129 _-.,:;=+@%#!?*'\"`$\\&|<>()[]{}~^",
  "\n",
  "\t",
  "é",
  "ß",
  "✓",
  "日",
  "本",
  "🚀",
  "\u00a0",
  "\u200b",
];

function randomText(random: () => number, maxChars: number): string {
  let text = "";
  for (let i = Math.floor(random() * maxChars); i > 0; i--) {
    text += ALPHABET[Math.floor(random() * ALPHABET.length)];
  }
  return text;
}

/** A file name: 1..255 bytes, no `/` and no NUL, not `.` or `..`. */
function randomName(random: () => number, taken: Set<string>): string {
  for (;;) {
    let name = randomText(random, 1 + Math.floor(random() * 60)).replaceAll("/", "_");
    if (random() < 0.1) name = `-${name}`;
    while (new TextEncoder().encode(name).length > 255) name = name.slice(0, -1);
    if (name && name !== "." && name !== ".." && !taken.has(name)) {
      taken.add(name);
      return name;
    }
  }
}

/** A script printing `<base64 name> <sha256>` for every file in the working directory. */
const LIST_FILES = `for f in ./* ./.[!.]* ./..?*; do [ -f "$f" ] || continue; ` +
  `printf '%s %s\\n' "$(printf '%s' "\${f#./}" | base64 -w0)" "$(sha256sum < "$f" | cut -c1-64)"; done`;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function decodeName(base64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

Deno.test("random env values and file names survive the trip both ways", async (t) => {
  const seed = testSeed("KUBEHOOK_PROPERTY_SEED");
  const random = generator(seed);
  await using hc = await HookCluster.start();
  // GNU tools and busybox take names and options apart differently: both are job images.
  for (const image of ["debian:12", "busybox:1.36"]) {
    await hc.job(t, `${image}, seed ${seed}`, async ({ sim }) => {
      const env: Record<string, string> = {};
      for (let i = 0; i < VALUES; i++) env[`V${i}`] = randomText(random, 200);
      const names = Object.keys(env);
      const taken = new Set<string>();
      const files = new Map<string, string>();
      for (let i = 0; i < FILES; i++) {
        const name = randomName(random, taken);
        const content = new TextEncoder().encode(randomText(random, 3000));
        await Deno.writeFile(`${sim.workspace}/${name}`, content);
        files.set(name, sha256(content));
      }
      assertHookOk(
        await sim.prepareJob({ container: jobContainer(image), services: [] }),
        "prepare_job",
      );

      const step = await sim.scriptStep(`${printValuesScript(names)}\n${LIST_FILES}\n`, { env });
      assertHookOk(step, "the script step");
      assert.deepEqual(printedValues(step.stdout, names), env, "env values of the script step");
      const seen = new Map<string, string>();
      for (const line of step.stdout.split("\n")) {
        const match = /^([A-Za-z0-9+/=]+) ([0-9a-f]{64})$/.exec(line);
        if (match) seen.set(decodeName(match[1]), match[2]);
      }
      assert.deepEqual(seen, files, "files in the pod (name → sha256) differ from the runner's");

      // The pod makes files named by random values; the runner must get each one back, whole.
      const back = new Map<string, string>();
      let make = "mkdir -p made\n";
      // Always among them: names GNU tar would unquote (found by this test: `a\tb` was not copied
      // back), one ending in a newline, one that looks like an option.
      const fixed = ["back\\tslash\\nnames\\\\", "trailing newline\n", "--looks-like=an-option"];
      for (let i = 0; i < 15 + fixed.length; i++) {
        const name = i < fixed.length ? fixed[i] : randomName(random, taken);
        const content = randomText(random, 500);
        back.set(name, sha256(new TextEncoder().encode(content)));
        // `$(...)` drops trailing newlines: an `x` after the name keeps them, then goes.
        make += `n=$(printf '%s' '${base64Utf8(name)}' | base64 -d; echo x); ` +
          `printf '%s' '${content.replaceAll("'", "'\\''")}' > "made/\${n%x}"\n`;
      }
      assertHookOk(await sim.scriptStep(make), "a step making files");
      const returned = new Map<string, string>();
      for await (const entry of Deno.readDir(`${sim.workspace}/made`)) {
        returned.set(
          entry.name,
          sha256(await Deno.readFile(`${sim.workspace}/made/${entry.name}`)),
        );
      }
      assert.deepEqual(returned, back, "files copied back differ from the pod's");

      const container = await sim.containerStep(containerOf("busybox:1.36", {
        entryPoint: "sh",
        entryPointArgs: runnerArgs(["-c", printValuesScript(names).replaceAll("\n", "; ")]),
        environmentVariables: env,
      }));
      assertHookOk(container, "the container step");
      assert.deepEqual(
        printedValues(container.stdout, names),
        env,
        `env values of the container step:\n${logOf(container)}`,
      );
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    });
  }
});

import assert from "node:assert/strict";
import { containerOf } from "../runner/input.ts";
import { renderJobPod } from "./job_pod.ts";
import { serviceContainerNames } from "./names.ts";
import { loadPodTemplate } from "./template.ts";
import { mergePodTemplate } from "./template_merge.ts";

const TEMPLATES = new URL("../../templates/", import.meta.url);

Deno.test("every shipped template parses and merges into a job pod", async () => {
  const files = [...Deno.readDirSync(TEMPLATES)].filter((e) => e.name.endsWith(".yaml")).map((e) =>
    e.name
  );
  assert.ok(files.includes("default.yaml"), "templates/default.yaml is missing");
  const images = ["redis:7"];
  const serviceNames = serviceContainerNames(images);
  const base = renderJobPod({
    name: "arc-x-workflow",
    runnerPodName: "arc-x",
    container: containerOf("node:20", { workingDirectory: "/__w/r/r" }),
    services: images.map((image) => containerOf(image, { portMappings: ["6379"] })),
    serviceNames,
    imagePullSecrets: [],
    runnerImage: "ghcr.io/actions/actions-runner:latest",
    workspace: { mode: "copy" },
    workspacePath: "repo/repo",
  });
  for (const file of files) {
    const template = await loadPodTemplate(new URL(file, TEMPLATES).pathname);
    const { pod, warnings } = mergePodTemplate(base, template, { serviceNames });
    assert.deepEqual(warnings, [], `${file}: ${warnings.join("; ")}`);
    assert.equal(pod.spec?.restartPolicy, "Never", file);
    assert.equal(pod.spec?.containers[0].name, "job", file);
    assert.equal(pod.metadata?.labels?.["runner-pod"], "arc-x", file);
  }
});

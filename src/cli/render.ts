/**
 * `kubehook render --input FILE [--template FILE]`: prints, as YAML documents, the objects a hook
 * invocation would create (for prepare_job: its image pull secrets, then the job pod with the pod
 * template merged in), without a cluster. Platform engineers use it to see what a template does
 * before a runner uses it; secret data is redacted so the output can be shared.
 *
 * @module
 */
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { InputError, type Invocation, parseInvocation } from "../runner/input.ts";
import { workLayout } from "../runner/layout.ts";
import { readSettings, type Settings } from "../runner/settings.ts";
import { planContainerStep } from "../pod/container_step_plan.ts";
import { formatRef } from "../registry/registry_client.ts";
import {
  type JobPlan,
  planJobObjects,
  workspacePathOf,
  workspacePathOutsideRunner,
} from "../pod/job_plan.ts";

/** The runner pod name render assumes when ACTIONS_RUNNER_POD_NAME is unset. */
export const DEFAULT_RUNNER_POD = "runner";
/** Stands for the runner pod's node, which only the cluster knows (volume mode pins the pod). */
export const RUNNER_NODE_PLACEHOLDER = "<runner-node>";
/** What secret values are replaced with. */
export const REDACTED = "REDACTED";

const HELP = `Usage: kubehook render --input FILE [--template FILE]

Prints the objects a hook invocation would create, as YAML documents, without a cluster:
for a prepare_job input, its image pull secrets (data ${REDACTED}) and then the job pod, with
the pod template merged in; for a run_container_step input, the Secret of the step's environment
and the ephemeral container added to the job pod (the input's state names it), or the step's own
pod. Template warnings go to stderr.

  --input FILE, -i FILE     a hook input JSON as the runner writes it on stdin ("-": stdin)
  --template FILE, -t FILE  a pod template; overrides ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE

Settings are read from the environment like the hook does (see "kubehook --help"), except that
ACTIONS_RUNNER_POD_NAME defaults to "${DEFAULT_RUNNER_POD}" here, so render works outside a runner
pod. What only the cluster knows is left out or shown as a placeholder: the runner pod's uid (the
ownerReferences prepare_job adds when it finds the runner pod), its node (volume mode pins the job
pod to ${RUNNER_NODE_PLACEHOLDER}), and the namespace. Secret names end in a random part, as in the
hook.

Exit codes: 0 printed, 1 the input or template cannot be used (the message names the field or
file:line), 2 wrong arguments.
`;

/** Runs `kubehook render`; resolves with the exit code. */
export async function render(rest: string[]): Promise<number> {
  let options: { input?: string; template?: string; help?: boolean };
  // Imported where used, not at the top: see src/main.ts.
  const { parseArgs } = await import("node:util");
  try {
    options = parseArgs({
      args: rest,
      options: {
        input: { type: "string", short: "i" },
        template: { type: "string", short: "t" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`kubehook render: ${(error as Error).message.replace(/\.?$/, ".")}\n\n${HELP}`);
    return 2;
  }
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  if (!options.input) {
    console.error(`kubehook render: --input FILE is required.\n\n${HELP}`);
    return 2;
  }
  try {
    const invocation = await readInvocation(options.input);
    if (invocation.command !== "prepare_job" && invocation.command !== "run_container_step") {
      console.error(`kubehook render: ${options.input}: ${nothingToRender(invocation)}`);
      return 1;
    }
    const env = Deno.env.toObject();
    if (!env.ACTIONS_RUNNER_POD_NAME?.trim()) env.ACTIONS_RUNNER_POD_NAME = DEFAULT_RUNNER_POD;
    if (options.template) {
      // Read here, so that a wrong path is blamed on --template, not on the variable.
      const problem = await Deno.stat(options.template).then(
        (info) => info.isFile ? undefined : "is not a file",
        (error) => (error as Error).message,
      );
      if (problem) {
        console.error(
          `kubehook render: --template ${options.template} cannot be read: ${problem}. ` +
            "Check the path (relative paths start in the current directory).",
        );
        return 1;
      }
      env.ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE = options.template;
    }
    const settings = readSettings(env);
    if (invocation.command === "run_container_step") {
      console.log(await containerStepYaml(invocation, settings, options.input));
      return 0;
    }
    // No uid: render cannot know it, and without one the plan adds no ownerReferences.
    const runner: V1Pod = {
      metadata: { name: settings.runnerPodName },
      spec: { containers: [], nodeName: RUNNER_NODE_PLACEHOLDER },
    };
    const plan = await planJobObjects(
      invocation.args,
      settings,
      runner,
      workspacePathOutsideRunner(invocation.args.container),
      { env, readEnvFile: (path) => Deno.readTextFileSync(path) },
    );
    for (const warning of plan.warnings) console.error(`warning: ${warning}`);
    const header = [
      `What prepare_job creates for ${options.input}, in this order.`,
      `Runner pod "${settings.runnerPodName}"${
        Deno.env.get("ACTIONS_RUNNER_POD_NAME")?.trim() ? "" : " (ACTIONS_RUNNER_POD_NAME unset)"
      }, workspace ${settings.workspace}, pod template ${settings.templatePath ?? "none"}.`,
    ];
    console.log(await planYaml(plan, header));
    return 0;
  } catch (error) {
    // Input, settings and template errors already name the field, variable or file:line.
    const message = error instanceof InputError
      ? `${options.input}: ${error.message}`
      : (error as Error).message;
    console.error(`kubehook render: ${message}`);
    return 1;
  }
}

/** Reads and validates the hook input at `path` ("-" for stdin). */
async function readInvocation(path: string): Promise<Invocation> {
  let text: string;
  try {
    text = path === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(
      `Cannot read the hook input ${path}: ${(error as Error).message}. Give the path of a JSON ` +
        "file like the one the runner writes on the hook's stdin.",
    );
  }
  try {
    JSON.parse(text);
  } catch (error) {
    // parseInvocation would blame stdin; here the file is at fault.
    throw new Error(
      `The hook input ${path} is not valid JSON (${(error as Error).message}). Fix the file.`,
    );
  }
  return parseInvocation(text);
}

function nothingToRender(invocation: Invocation): string {
  return `${invocation.command} creates no objects, so there is nothing to render. Give a ` +
    "prepare_job or run_container_step input.";
}

/** A run_container_step plan: the environment Secret, then the ephemeral container added to the
 * job pod, or the step's own pod (and its pull secret); for a job-pod step also the pod it gets
 * when the Role does not allow ephemeral containers. */
async function containerStepYaml(
  invocation: Invocation & { command: "run_container_step" },
  settings: Settings,
  input: string,
): Promise<string> {
  const { stringify } = await import("yaml");
  const jobPod = typeof invocation.state?.jobPod === "string" ? invocation.state.jobPod : undefined;
  let workspacePath: string;
  // Outside a runner the action is named after its own directory (build_target.ts).
  let workDir = "";
  try {
    const layout = workLayout(Deno.env.toObject());
    workspacePath = workspacePathOf(layout);
    workDir = layout.work;
  } catch {
    workspacePath = workspacePathOutsideRunner(null);
  }
  const build = invocation.args.image === null
    ? await (await import("../build/build_plan.ts")).planBuild({
      dockerfile: invocation.args.dockerfile!,
      settings,
      env: Deno.env.toObject(),
      workDir,
      namespace: settings.namespace ?? "(the kubeconfig's namespace)",
      podSecurity: settings.podSecurity,
    })
    : undefined;
  const plan = planContainerStep({
    step: build ? { ...invocation.args, image: formatRef(build.target.pull) } : invocation.args,
    pullSecret: build?.registry.secretName,
    settings,
    workspacePath,
    jobPod: jobPod
      ? { name: jobPod, hasJobContainer: invocation.state?.hasJobContainer !== false }
      : undefined,
    runnerNodeName: RUNNER_NODE_PLACEHOLDER,
    optionsContext: {
      env: Deno.env.toObject(),
      readEnvFile: (path) => Deno.readTextFileSync(path),
    },
  });
  for (const warning of plan.warnings) console.error(`warning: ${warning}`);
  const yaml = (comment: string[], object: unknown) =>
    `---\n${comment.map((l) => `# ${l}`).join("\n")}\n${
      stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })
    }`;
  const redacted = (secret: V1Secret) => ({
    ...secret,
    data: Object.fromEntries(Object.keys(secret.data ?? {}).map((k) => [k, REDACTED])),
  });
  const ownPod = () => {
    const { pod, registrySecret } = plan.ownPod();
    return [
      ...(registrySecret
        ? [yaml(["Image pull secret for the step's image."], redacted(registrySecret))]
        : []),
      yaml(["The step's own pod."], pod),
    ];
  };
  const where = plan.placement === "job-pod"
    ? `an ephemeral container of the job pod "${jobPod}"`
    : `a pod of its own: ${plan.ownPodReason}`;
  const documents = [
    ...(build
      ? [yaml([
        `The builder pod, created only when the registry lacks ${formatRef(build.target.push)};`,
        `the action's directory ${build.contextDir} reaches it on stdin.`,
      ], build.pod)]
      : []),
    yaml(
      ["The step's environment, read by the container through envFrom."],
      redacted(plan.envSecret),
    ),
    ...(plan.placement === "job-pod"
      ? [
        yaml(
          [`The patch of pods/${jobPod}/ephemeralcontainers (strategic merge).`],
          { spec: { ephemeralContainers: [plan.ephemeral] } },
        ),
        ...ownPod().map((d) =>
          d.replace(
            /^---\n/,
            "---\n# Instead, when the Role lacks patch on pods/ephemeralcontainers:\n",
          )
        ),
      ]
      : ownPod()),
  ];
  return [
    `# What run_container_step creates for ${input}, in this order: it runs as ${where}.`,
    `# Runner pod "${settings.runnerPodName}", workspace ${settings.workspace}.`,
    ...documents,
  ].join("\n").trimEnd();
}

/** The plan as YAML documents with comments: a header, then one document per object. */
async function planYaml(plan: JobPlan, header: string[]): Promise<string> {
  const { stringify } = await import("yaml");
  const comment = (lines: string[]) => lines.map((l) => `# ${l}`).join("\n");
  const documents = [
    ...plan.secrets.map(({ secret, about }) => {
      const data = Object.fromEntries(Object.keys(secret.data ?? {}).map((k) => [k, REDACTED]));
      return `${comment([`Image pull secret for ${about}.`])}\n${
        stringify({ ...secret, data }, { lineWidth: 0 })
      }`;
    }),
    `${comment(["The job pod."])}\n${stringify(plan.pod, { lineWidth: 0 })}`,
  ];
  return `${comment(header)}\n${documents.map((d) => `---\n${d}`).join("")}`.trimEnd();
}

/**
 * Pulling a container's image as kubelet does, with its events and waiting reasons: the pull
 * policy (Always for `latest` or no tag, else IfNotPresent; Never), `Pulling`/`Pulled` events,
 * and on failure `Failed` with the runtime's error, the waiting reason ErrImagePull, then
 * ImagePullBackOff and a retry after kubelet's back-off. Unparsable references stay
 * InvalidImageName. Credentials come from the pod's `imagePullSecrets`.
 *
 * @module
 */
import type { V1Container, V1Secret } from "@kubernetes/client-node";
import { InvalidImageNameError, parseImageReference } from "./image_reference.ts";
import type { PulledImage } from "./images.ts";
import { ImagePullError } from "./pull_errors.ts";
import { backOffSeconds, type PodContext, sleep } from "./pod_context.ts";
import type { ContainerRecord } from "./pod_status.ts";
import { credentialsFor } from "./pull_secrets.ts";

/** How long ErrImagePull shows before the back-off (kubelet's next sync) turns it into ImagePullBackOff. */
const ERR_IMAGE_PULL_MS = 1000;

/** Pulls `container`'s image, retrying until it succeeds; undefined when the pod is stopped first. */
export async function pullImage(
  context: PodContext,
  container: V1Container,
  record: ContainerRecord,
): Promise<PulledImage | undefined> {
  const image = container.image ?? "";
  const waiting = (reason: string, message: string) => {
    record.state = { waiting: { reason, message } };
    context.publish();
  };
  let reference;
  try {
    reference = parseImageReference(image);
  } catch (error) {
    if (!(error instanceof InvalidImageNameError)) throw error;
    context.event("Warning", "InspectFailed", error.message);
    context.event("Warning", "Failed", "Error: InvalidImageName");
    waiting("InvalidImageName", error.message);
    // The reference can never become valid: wait for the pod to go away.
    while (await sleep(60_000, context.signal));
    return undefined;
  }
  const policy = container.imagePullPolicy ?? (reference.floating ? "Always" : "IfNotPresent");
  for (let attempt = 0; !context.signal.aborted; attempt++) {
    // Read on every attempt: a missing pull secret may be created meanwhile.
    const credentials = credentialsFor(pullSecrets(context), reference.domain);
    const present = context.images.isPresent(reference);
    if (policy === "Never" && !present) {
      const message = `Container image "${image}" is not present with pull policy of Never`;
      context.event("Warning", "ErrImageNeverPull", message);
      waiting("ErrImageNeverPull", message);
    } else {
      const quiet = present && policy !== "Always";
      if (!quiet) context.event("Normal", "Pulling", `Pulling image "${image}"`);
      const started = performance.now();
      try {
        // A present image under IfNotPresent is not fetched again: no registry, no credentials.
        const pulled = await context.images.pull(reference, quiet ? "present" : credentials);
        const seconds = ((performance.now() - started) / 1000).toFixed(3);
        context.event(
          "Normal",
          "Pulled",
          quiet
            ? `Container image "${image}" already present on machine`
            : `Successfully pulled image "${image}" in ${seconds}s (${seconds}s including waiting). ` +
              `Image size: ${pulled.sizeBytes} bytes.`,
        );
        record.pulled = { image: reference.normalized, imageID: pulled.imageID };
        return pulled;
      } catch (error) {
        if (!(error instanceof ImagePullError)) throw error;
        context.event("Warning", "Failed", `Failed to pull image "${image}": ${error.message}`);
        context.event("Warning", "Failed", "Error: ErrImagePull");
        waiting("ErrImagePull", error.message);
        if (!await sleep(ERR_IMAGE_PULL_MS, context.signal)) return undefined;
        context.event("Normal", "BackOff", `Back-off pulling image "${image}"`);
        context.event("Warning", "Failed", "Error: ImagePullBackOff");
        waiting(
          "ImagePullBackOff",
          `Back-off pulling image "${image}": ErrImagePull: ${error.message}`,
        );
      }
    }
    if (!await sleep(backOffSeconds(attempt) * 1000, context.signal)) return undefined;
  }
  return undefined;
}

/** The pod's pull secrets that exist; warns once about missing ones, as kubelet does. */
function pullSecrets(context: PodContext): V1Secret[] {
  const namespace = context.pod.metadata?.namespace ?? "default";
  const names = (context.pod.spec?.imagePullSecrets ?? []).map((ref) => ref.name ?? "");
  const secrets = names.map((name) => context.store.get<V1Secret>("secrets", namespace, name));
  const missing = names.filter((_, i) => !secrets[i]);
  if (missing.length > 0) {
    context.event(
      "Warning",
      "FailedToRetrieveImagePullSecret",
      `Unable to retrieve some image pull secrets (${
        missing.join(", ")
      }); attempting to pull the image may not succeed.`,
    );
  }
  return secrets.filter((s): s is V1Secret => s !== undefined);
}

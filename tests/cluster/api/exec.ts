/**
 * `pods/exec` and `pods/attach` over WebSocket: checks the request, answers the upgrade itself
 * (echoing the negotiated subprotocol, which `Deno.upgradeWebSocket` cannot do for
 * comma-separated offers without spaces), starts the process through the kubelet and runs the
 * session with the pending exec fault aimed at its command, if any.
 *
 * @module
 */
import { type ContainerProcess, RuntimeError } from "../contract.ts";
import { negotiateSubprotocol, startFailureStatus, statusFrame, SUBPROTOCOLS } from "./channels.ts";
import { runSession } from "./exec_session.ts";
import type { RawUpgrade } from "./front.ts";
import type { HandlerContext } from "./handler.ts";
import { findPod, processRequest } from "./pod_target.ts";
import type { ResourceRoute } from "./routes.ts";
import { badRequest } from "./status.ts";
import { acceptKey, WebSocketConnection, writeAll } from "./websocket.ts";

/** Serves an exec/attach request; null once the connection was taken over. */
export async function serveExec(
  context: HandlerContext,
  route: ResourceRoute,
  request: Request,
  upgrade: RawUpgrade | undefined,
): Promise<Response | null> {
  const kind = route.subresource === "attach" ? "attach" : "exec";
  const websocket = upgrade?.request.headers.get("upgrade")?.toLowerCase() === "websocket";
  if (!upgrade || !websocket) {
    throw badRequest(
      request.method === "GET" && !upgrade
        ? "Upgrade request required"
        : `the local cluster serves ${kind} only over WebSocket (${SUBPROTOCOLS.join(" or ")}); ` +
          "SPDY is not supported",
    );
  }
  const params = new URL(request.url).searchParams;
  const pod = findPod(context.control.store, route.namespace ?? "", route.name ?? "");
  const target = processRequest(pod, params, kind);
  const offered = request.headers.get("sec-websocket-protocol");
  const protocol = negotiateSubprotocol(offered);
  if (!protocol) {
    throw badRequest(
      `none of the offered WebSocket subprotocols (${offered ?? "none"}) is supported: ` +
        `offer ${SUBPROTOCOLS.join(" or ")}`,
    );
  }
  const key = request.headers.get("sec-websocket-key");
  if (!key) throw badRequest("the WebSocket upgrade has no Sec-WebSocket-Key header");

  await writeAll(
    upgrade.conn,
    new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n` +
        `Sec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    ),
  );
  const socket = new WebSocketConnection(upgrade.conn, upgrade.leftover);
  let process: ContainerProcess;
  try {
    const runtime = context.control.runtime;
    process = await (kind === "exec" ? runtime.exec(target) : runtime.attach(target));
  } catch (error) {
    const code = error instanceof RuntimeError ? error.code : 500;
    const message = error instanceof Error ? error.message : String(error);
    await socket.send(statusFrame(startFailureStatus(code, message))).catch(() => {});
    await socket.close(1000);
    return null;
  }
  context.stats.countExecSession();
  await runSession({
    socket,
    protocol,
    process,
    stdout: target.stdout,
    stderr: target.stderr,
    reportExitCode: kind === "exec",
    fault: context.faults.takeExecFault(params.getAll("command").join(" ")),
  });
  return null;
}

import type { IncomingMessage, ServerResponse } from "node:http";
import type { ControlHost, SandboxControl } from "./control";
import { BodyTooLarge, isRecord, readBody, sendApiJson, sendText } from "./http";
import { SandboxError, type BulkRequest, type ContactOp, type FaultSpec, type InjectRequest, type SentFilter, type Settings } from "./types";

/** The HTTP face of the control operations, under /api/sandbox/ (lib/sandbox/README.md, "Control API"). */

/** The largest control request body (an injected file travels base64 in it): 30 MiB. */
export const CONTROL_BODY_MAX = 30 * 1024 * 1024;

const STATUS: Partial<Record<SandboxError["code"], number>> = {
  NOT_FOUND: 404,
  AMBIGUOUS: 409,
  CONFLICT: 409,
  TIMEOUT: 408,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_LARGE: 413,
};

/** The control API's error answer: `{error: {code, message}}` with the status of the code. */
export function sendControlError(res: ServerResponse, err: unknown): void {
  if (err instanceof SandboxError) return sendApiJson(res, STATUS[err.code] ?? 400, { error: { code: err.code, message: err.message } });
  return sendApiJson(res, 500, { error: { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) } });
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let raw: Buffer;
  try {
    raw = await readBody(req, CONTROL_BODY_MAX);
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new SandboxError("TOO_LARGE", `control requests are limited to ${CONTROL_BODY_MAX} bytes`);
    throw err;
  }
  const text = raw.toString("utf8");
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SandboxError("INVALID_ARGUMENT", "the body is not JSON");
  }
  if (!isRecord(value)) throw new SandboxError("INVALID_ARGUMENT", "the body must be a JSON object");
  return value;
}

function opt(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : value;
}

export async function handleControl(control: SandboxControl, host: ControlHost, req: IncomingMessage, res: ServerResponse, sub: string, query: URLSearchParams): Promise<void> {
  const method = req.method ?? "GET";
  const route = `${method} ${sub}`;
  try {
    const wait = Math.min(Number(query.get("wait") ?? "0") || 0, 60_000);
    switch (route) {
      case "GET logins": {
        if (wait > 0) await host.until(["login", "login-state"], () => control.logins().find((l) => l.state === "waiting"), wait).catch(() => undefined);
        return sendApiJson(res, 200, { logins: control.logins() });
      }
      case "POST scan":
      case "POST scan/only":
      case "POST confirm":
      case "POST cancel":
      case "POST qr/expire": {
        const body = await jsonBody(req);
        const uuid = typeof body.uuid === "string" ? body.uuid : undefined;
        const account = typeof body.account === "string" || typeof body.account === "number" ? body.account : undefined;
        const r = { ...(uuid ? { uuid } : {}), ...(account !== undefined ? { account } : {}) };
        const login = sub === "scan" ? control.scan(r) : sub === "scan/only" ? control.scanOnly(r) : sub === "confirm" ? control.confirm(r) : sub === "cancel" ? control.cancel(r) : control.expireQr(r);
        return sendApiJson(res, 200, { uuid: login.uuid, state: login.state });
      }
      case "POST messages":
        return sendApiJson(res, 200, control.inject((await jsonBody(req)) as unknown as InjectRequest));
      case "POST messages/bulk":
        return sendApiJson(res, 200, control.injectBulk((await jsonBody(req)) as unknown as BulkRequest));
      case "POST contacts":
        return sendApiJson(res, 200, control.contacts((await jsonBody(req)) as unknown as ContactOp));
      case "GET sent": {
        const after = opt(query.get("after"));
        const filter: SentFilter = {
          ...(opt(query.get("account")) !== undefined ? { account: opt(query.get("account")) as string } : {}),
          ...(opt(query.get("to")) !== undefined ? { to: opt(query.get("to")) as string } : {}),
          ...(opt(query.get("type")) !== undefined ? { type: opt(query.get("type")) as SentFilter["type"] & string } : {}),
          ...(after !== undefined ? { after: Number(after) } : {}),
        };
        if (wait > 0) await host.until(["sent"], () => (control.sent(filter).length > 0 ? true : undefined), wait).catch(() => undefined);
        return sendApiJson(res, 200, { sent: control.sent(filter) });
      }
      case "GET uploads":
        return sendApiJson(res, 200, { uploads: control.uploads() });
      case "GET device-ids":
        return sendApiJson(res, 200, { deviceIds: control.deviceIds() });
      case "GET memory":
        return sendApiJson(res, 200, control.memory());
      case "GET violations":
        return sendApiJson(res, 200, { violations: control.violations() });
      case "GET deviations":
        return sendApiJson(res, 200, { deviations: control.deviations() });
      case "DELETE violations":
        control.clearViolations();
        return sendApiJson(res, 200, { ok: true });
      case "POST faults":
        control.fault((await jsonBody(req)) as unknown as FaultSpec);
        return sendApiJson(res, 200, { ok: true });
      case "POST session/expire": {
        const body = await jsonBody(req);
        control.expireSession({ code: Number(body.code), ...(typeof body.account === "string" || typeof body.account === "number" ? { account: body.account } : {}) });
        return sendApiJson(res, 200, { ok: true });
      }
      case "GET settings":
        return sendApiJson(res, 200, control.settings());
      case "PUT settings":
        return sendApiJson(res, 200, control.settings((await jsonBody(req)) as Partial<Settings>));
      case "GET world":
        return sendApiJson(res, 200, control.world());
      case "GET world/contacts": {
        const account = opt(query.get("account"));
        const kind = opt(query.get("kind"));
        const name = opt(query.get("name"));
        return sendApiJson(res, 200, { contacts: control.worldContacts({ ...(account ? { account } : {}), ...(kind ? { kind } : {}), ...(name ? { name } : {}) }) });
      }
      case "GET world/members": {
        const room = opt(query.get("room"));
        if (!room) throw new SandboxError("INVALID_ARGUMENT", "room is required");
        return sendApiJson(res, 200, { members: control.groupMembers(room, opt(query.get("account"))) });
      }
      case "POST reset": {
        const body = await jsonBody(req);
        control.reset(typeof body.seed === "number" ? { seed: body.seed } : {});
        return sendApiJson(res, 200, { ok: true });
      }
    }
    if (method === "GET" && sub.startsWith("media/")) {
      const media = control.media(decodeURIComponent(sub.slice("media/".length)));
      if (!media) throw new SandboxError("NOT_FOUND", "no media for this MsgId");
      return sendText(res, 200, media.data, /^image\//.test(media.mime) ? media.mime : "application/octet-stream");
    }
    if (method === "GET" && sub.startsWith("uploads/")) {
      const data = control.upload(decodeURIComponent(sub.slice("uploads/".length)));
      if (!data) throw new SandboxError("NOT_FOUND", "no such upload");
      const record = control.uploads().find((u) => u.mediaId === decodeURIComponent(sub.slice("uploads/".length)));
      return sendText(res, 200, data, record?.mediaType === "pic" ? record.mime || "application/octet-stream" : "application/octet-stream");
    }
    throw new SandboxError("NOT_FOUND", `no control operation ${route}`);
  } catch (err) {
    sendControlError(res, err);
  }
}

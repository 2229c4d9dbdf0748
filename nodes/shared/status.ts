import { cleanServerText } from "../../lib/wechat/errors";
import type { LoginProblem, StateInfo } from "../../lib/wechat/types";
import type { Role } from "./ownership";
import type { NodeStatus } from "./red";

type Translate = (key: string) => string;

/**
 * The node status every wx node shows for a session state. Labels come from the wx-account catalog;
 * details (a code, the server's message, cleaned) are appended after a colon so they survive any translation.
 * With Redis, `role` says whether this instance runs the account: `standby: <owner>` or `paused: ...` otherwise.
 * Never the account's nickname: every editor user with status.read sees node status, read-only ones too; the name
 * is in the account dialog, behind wx-account.write.
 */
export function statusFor(state: StateInfo, t: Translate, role?: Role): NodeStatus {
  const label = (key: string, detail?: string): string => {
    const text = t(`wx-account.status.${key}`);
    const shown = detail === undefined ? "" : cleanServerText(detail);
    return shown ? `${text}: ${shown}` : text;
  };
  // Redis (#17): another instance runs the account, or this one cannot reach Redis and does not hold the lease.
  if (role?.kind === "standby") return { fill: "blue", shape: "ring", text: label("standby", role.owner) };
  if (role?.kind === "paused") return { fill: "grey", shape: "ring", text: label("paused", t("wx-account.status.redisUnreachable")) };
  switch (state.state) {
    case "offline":
      return { fill: "grey", shape: "ring", text: label("offline", state.problem ? problemText(state.problem, t) : state.message) };
    case "resuming":
      // resuming again after a failed try: why it failed last time
      return { fill: "yellow", shape: "ring", text: label("resuming", state.problem ? problemText(state.problem, t) : undefined) };
    case "push-login":
      return { fill: "yellow", shape: "dot", text: label("confirm") };
    case "waiting-scan":
      return { fill: "yellow", shape: "ring", text: label("scan") };
    case "scanned":
      return { fill: "yellow", shape: "dot", text: label("confirm") };
    case "logging-in":
      return { fill: "yellow", shape: "dot", text: label("loggingIn") };
    case "online":
      // Online but receiving nothing (the sync loop keeps failing), or still loading the address book.
      if (state.sync) return { fill: "yellow", shape: "ring", text: label("syncFailing", String(state.sync.failures)) };
      if (state.contacts === "loading") return { fill: "green", shape: "ring", text: label("loadingContacts") };
      return { fill: "green", shape: "dot", text: label("online") };
    case "logged-out":
      return { fill: "red", shape: "ring", text: label("loggedOut", state.code === undefined ? undefined : String(state.code)) };
    case "refused":
      return { fill: "red", shape: "ring", text: label("refused", state.message ?? (state.code === undefined ? undefined : String(state.code))) };
  }
}

/** Local wall-clock time HH:MM:SS of the Node-RED host (a status is a short line: no date). */
export function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

/**
 * Why the login fails and when it tries again, short enough for a node status: "DNS failure, retry 12:03:15"
 * (the kind translated; an HTTP status or server code after it), "..., retrying" while an attempt runs (#16.2).
 */
export function problemText(problem: LoginProblem, t: Translate): string {
  const code = problem.kind === "http" ? problem.status : problem.kind === "server" || problem.kind === "login-refused" ? problem.ret : undefined;
  const reason = `${t(`wx-account.problem.${problem.kind}`)}${code === undefined ? "" : ` ${code}`}`;
  if (problem.kind === "login-refused") return reason;
  return problem.retryAt === undefined ? `${reason}, ${t("wx-account.status.retrying")}` : `${reason}, ${t("wx-account.status.retry")} ${clockTime(problem.retryAt)}`;
}

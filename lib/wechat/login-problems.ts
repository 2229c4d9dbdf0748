import { WeChatError, describeError } from "./errors";
import type { Logger, LoginProblem, StateInfo } from "./types";

/** States that mean the server answered a login step: a problem shown until then is over. */
const LOGIN_PROGRESS: ReadonlySet<StateInfo["state"]> = new Set(["waiting-scan", "scanned", "logging-in", "online"]);

/** The kind (and status, code) of a failure; a plain Error is a network one. */
function problemOf(error: unknown): Pick<LoginProblem, "kind" | "status" | "ret"> {
  if (!(error instanceof WeChatError)) return { kind: "network" };
  const problem: Pick<LoginProblem, "kind" | "status" | "ret"> = { kind: error.kind ?? "network" };
  if (error.status !== undefined) problem.status = error.status;
  if (error.ret !== undefined) problem.ret = error.ret;
  return problem;
}

/** Two failures are "the same" for the log when kind, HTTP status and server code agree. */
function failureKey(problem: Pick<LoginProblem, "kind" | "status" | "ret">): string {
  return `${problem.kind}/${problem.status ?? ""}/${problem.ret ?? ""}`;
}

/**
 * Why the login keeps failing (#16.2): the problem every state carries until a login step succeeds, with the time
 * of the next attempt, and the log that says a failure once per reason (the same one again goes to debug only, so
 * a login retrying for hours without a network writes one line, and another when the reason changes).
 */
export class LoginProblems {
  private problem: LoginProblem | undefined;
  /** The failure last logged at warn level. */
  private logged: string | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly warn: (message: string) => void,
  ) {}

  /** The problem to show in a state of this kind; a state that means progress ends it (said once in the log). */
  shownWith(state: StateInfo["state"]): LoginProblem | undefined {
    if (LOGIN_PROGRESS.has(state)) {
      if (this.problem) {
        const { kind, failures } = this.problem;
        this.logger.info(`login: the server answers again (after ${failures} failed attempt${failures === 1 ? "" : "s"}: ${kind})`);
      }
      this.clear();
    }
    return this.problem ? { ...this.problem } : undefined;
  }

  clear(): void {
    this.problem = undefined;
    this.logged = undefined;
  }

  /** A failure worth a warning, logged once per reason. */
  warnOnce(error: unknown, message: string): void {
    const key = failureKey(problemOf(error));
    if (key === this.logged) {
      this.logger.debug(message);
      return;
    }
    this.logged = key;
    this.warn(`${message} (logged once until the reason changes)`);
  }

  /** A login attempt failed: the next state says why and when the next attempt starts. */
  failed(error: unknown, failures: number, retryInMs?: number): void {
    const since = this.problem?.since ?? Date.now();
    this.problem = { ...problemOf(error), message: describeError(error), failures, since };
    if (retryInMs !== undefined) this.problem.retryAt = Date.now() + retryInMs;
    const then = retryInMs === undefined ? "" : `; retrying in ${Math.round(retryInMs / 100) / 10} s`;
    this.warnOnce(error, `login: ${describeError(error)}${then}`);
  }

  /** The next attempt starts: no retry time is pending while it runs. True when one was shown. */
  retryStarts(): boolean {
    if (this.problem?.retryAt === undefined) return false;
    delete this.problem.retryAt;
    return true;
  }
}

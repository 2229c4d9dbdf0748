import { WeChatError, cleanServerText } from "../../lib/wechat/errors";
import type { WxAccount, AccountUser } from "./account";
import { findAccount } from "./account-ref";
import type { DoneFunction, Node, NodeAPI, NodeMessage, SendFunction } from "./red";
import { durationSetting } from "./settings";
import { markUncertain } from "./target";

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** How long a failed input shows on the node before the account's status comes back (settings.js may change it). */
const FAILURE_STATUS_MS = 10_000;

function failureStatusMs(RED: NodeAPI): number {
  return durationSetting(RED, "wxFailureStatusMs", FAILURE_STATUS_MS);
}

/** The failure's code (or its first words), never more: status is visible to every editor user. */
function failureText(RED: NodeAPI, error: unknown): string {
  const code = error instanceof WeChatError ? error.code : undefined;
  const detail = code ?? cleanServerText(asError(error).message).slice(0, 40);
  return `${RED._("wx-account.status.failed")}: ${detail}`;
}

/**
 * Wires a wx node to its account: registers for status (and messages), deregisters on close, and runs
 * each input through `handle`, reporting the outcome with done() exactly once (never also node.error).
 */
export function attachUser(
  RED: NodeAPI,
  node: Node,
  accountId: unknown,
  options: {
    onMessage?: AccountUser["onMessage"];
    onEvent?: AccountUser["onEvent"];
    handle?: (account: WxAccount, msg: NodeMessage, send: SendFunction) => Promise<void>;
  },
): WxAccount | undefined {
  const account = findAccount(RED, accountId);
  if (!account) {
    node.status({ fill: "red", shape: "ring", text: RED._(`${node.type}.status.noAccount`) });
  } else {
    const user: AccountUser = { node };
    if (options.onMessage) user.onMessage = options.onMessage;
    if (options.onEvent) user.onEvent = options.onEvent;
    account.register(user);
    node.on("close", (_removed, done) => account.deregister(user, done));
  }
  const handle = options.handle;
  if (handle) {
    // #16.8: a failed send shows on the node for a while, then the account's status returns.
    let failureTimer: NodeJS.Timeout | undefined;
    const showFailure = (error: unknown): void => {
      if (failureTimer) clearTimeout(failureTimer);
      node.status({ fill: "red", shape: "dot", text: failureText(RED, error) });
      failureTimer = setTimeout(() => {
        failureTimer = undefined;
        if (account) node.status(account.status());
      }, failureStatusMs(RED));
    };
    node.on("close", (_removed, done) => {
      if (failureTimer) clearTimeout(failureTimer);
      failureTimer = undefined;
      done();
    });
    node.on("input", (msg, send, done: DoneFunction) => {
      if (!account) {
        done(new WeChatError("INVALID_ARGUMENT", "no WeChat account configured"));
        return;
      }
      // Run inside a promise so a handler that throws before its first await also ends in done(err);
      // then() calls exactly one of its two callbacks, so done runs once.
      Promise.resolve()
        .then(() => handle(account, msg, send))
        .then(
          () => done(),
          (error: unknown) => {
            markUncertain(msg, error);
            showFailure(error);
            done(asError(error));
          },
        );
    });
  }
  return account;
}

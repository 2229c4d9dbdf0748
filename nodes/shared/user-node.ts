import { WeChatError } from "../../lib/wechat/errors";
import type { WxAccount, AccountUser } from "../wx-account/account";
import { findAccount } from "./account-ref";
import type { DoneFunction, Node, NodeAPI, NodeMessage, SendFunction } from "./red";
import { markUncertain } from "./target";

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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
            done(asError(error));
          },
        );
    });
  }
  return account;
}

import type { WxAccount } from "../shared/account";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { attachUser } from "../shared/user-node";
import { type EventType, eventMsg, eventTypesOf } from "./events";

interface EventDef extends NodeDef {
  account?: string;
  events?: unknown;
}

export = function register(RED: NodeAPI): void {
  function setup(node: Node, config: EventDef): void {
    const selected = eventTypesOf(config.events);
    let closed = false;
    // One QR msg per QR (the state is re-published while it is shown).
    let lastQr: string | undefined;
    // One msg per state reached: an online account re-publishes its state (contacts loaded, sync trouble).
    let lastState: string | undefined;

    const emit = (msg: NodeMessage | undefined): void => {
      if (!msg || closed || !selected.has(msg.topic as EventType)) return;
      if (msg.topic === "qr") {
        const url = (msg.payload as { qrUrl: string }).qrUrl;
        if (url === lastQr) return;
        lastQr = url;
      }
      const wechat = typeof msg.wechat === "object" && msg.wechat !== null ? msg.wechat : {};
      msg.wechat = { ...wechat, account: account?.id ?? "" };
      node.send(msg);
    };

    const account: WxAccount | undefined = attachUser(RED, node, config.account, {
      onEvent: (event) => {
        if (event.kind === "state") {
          const previous = lastState;
          lastState = event.state.state;
          if (event.state.state === previous && event.state.state !== "waiting-scan") return;
        }
        emit(eventMsg(event));
      },
    });
    // Deployed while a QR is already shown (another node started the account): offer that QR too.
    const timer = account
      ? setImmediate(() => {
          if (account.state.state === "waiting-scan") emit(eventMsg({ kind: "state", state: account.state }));
        })
      : undefined;
    node.on("close", (_removed, done) => {
      closed = true;
      if (timer) clearImmediate(timer);
      done();
    });
  }
  function WxEventNode(this: Node, config: EventDef): void {
    RED.nodes.createNode(this, config);
    setup(this, config);
  }
  RED.nodes.registerType("wx-event", WxEventNode);
};

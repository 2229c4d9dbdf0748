/** The flow of the Node-RED level reliability tests: receive -> "echo <text>" -> send, with debug to the console. */

export const ACCOUNT_ID = "relacc";

export function echoFlow(loginUrl: string, options: { debugToConsole?: boolean } = {}): Record<string, unknown>[] {
  const debug = options.debugToConsole ?? true;
  // Flow nodes need x/y: without them Node-RED takes a node for a config node.
  let x = 100;
  const at = (node: Record<string, unknown>): Record<string, unknown> => ({ ...node, x: (x += 150), y: 100 });
  return [
    { id: "reltab", type: "tab", label: "reliability", disabled: false, info: "" },
    { id: ACCOUNT_ID, type: "wx-account", name: "reliability", server: "custom", loginUrl, mode: "desktop", pacing: 600 },
    at({ id: "recv", type: "wx-receive", z: "reltab", name: "in", account: ACCOUNT_ID, wires: [["echo", "dbgIn"]] }),
    at({
      id: "echo",
      type: "function",
      z: "reltab",
      name: "echo",
      func: 'if (msg.wechat && msg.wechat.type === "text" && !String(msg.payload).startsWith("echo ")) { msg.payload = "echo " + msg.payload; return msg; }\nreturn null;',
      outputs: 1,
      wires: [["send"]],
    }),
    at({ id: "send", type: "wx-send-text", z: "reltab", name: "out", account: ACCOUNT_ID, target: "", wires: [["dbgOut"]] }),
    at({ id: "catchAll", type: "catch", z: "reltab", name: "", scope: null, uncaught: false, wires: [["dbgErr"]] }),
    ...["dbgIn", "dbgOut", "dbgErr"].map((id) => at({
      id,
      type: "debug",
      z: "reltab",
      name: id,
      active: true,
      tosidebar: true,
      console: debug,
      tostatus: false,
      complete: "true",
      targetType: "full",
      wires: [],
    })),
  ];
}

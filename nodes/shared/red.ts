/**
 * The small part of the Node-RED runtime API these nodes use, typed locally (Node-RED ships no types).
 * Only what is called is declared; everything arriving from Node-RED is treated as untrusted data.
 */

export interface NodeStatus {
  fill?: "red" | "green" | "yellow" | "blue" | "grey";
  shape?: "ring" | "dot";
  text?: string;
}

/** A Node-RED message: an open record. */
export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  topic?: string;
  [key: string]: unknown;
}

export type SendFunction = (msg: NodeMessage | null | (NodeMessage | null)[]) => void;
export type DoneFunction = (error?: Error) => void;
export type InputHandler = (msg: NodeMessage, send: SendFunction, done: DoneFunction) => void;
export type CloseHandler = (removed: boolean, done: () => void) => void;

export interface Node {
  readonly id: string;
  readonly type: string;
  readonly name?: string;
  readonly z?: string;
  on(event: "input", handler: InputHandler): void;
  on(event: "close", handler: CloseHandler): void;
  send(msg: NodeMessage | null | (NodeMessage | null)[]): void;
  status(status: NodeStatus): void;
  log(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown, msg?: NodeMessage): void;
  debug(message: unknown): void;
}

/** The properties every node configuration has. */
export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
}

/** Minimal express shapes used by the admin routes. */
export interface AdminRequest {
  params: Record<string, string | undefined>;
  query: Record<string, unknown>;
}
export interface AdminResponse {
  status(code: number): AdminResponse;
  json(body: unknown): void;
}
export type AdminHandler = (req: AdminRequest, res: AdminResponse, next: (error?: unknown) => void) => void;

export interface AdminApp {
  get(path: string, ...handlers: AdminHandler[]): void;
  post(path: string, ...handlers: AdminHandler[]): void;
}

export interface RedSettings {
  userDir?: string;
  credentialSecret?: string | false;
  /** settings.js `wxflow: {...}`: this package's own settings (untrusted shape until checked). */
  wxflow?: unknown;
  get?(key: string): unknown;
}

export interface NodeAPI {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    // Node-RED calls the constructor with `new` and the node's configuration.
    registerType(type: string, constructor: (this: Node, def: never) => void, options?: object): void;
    getNode(id: string): unknown;
  };
  settings: RedSettings;
  httpAdmin: AdminApp;
  auth: { needsPermission(permission: string): AdminHandler };
  comms: { publish(topic: string, data: unknown, retain?: boolean): void };
  /** The runtime's event bus ("flows:started" after every deploy, "runtime-event" on stop); one per runtime. */
  events?: { on(event: string, listener: (payload: unknown) => void): unknown };
  util: {
    /** A typedInput's value for one msg (msg / flow / global / env ...); the callback form serves async context stores. */
    evaluateNodeProperty(value: string, type: string, node: Node, msg: NodeMessage, callback: (error: Error | null, result: unknown) => void): void;
  };
  _(key: string, substitutions?: Record<string, string | number>): string;
}

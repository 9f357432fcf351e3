/**
 * The small slice of the Node-RED runtime API the nodes use. Declared here rather than pulling in
 * @types/node-red so the package has no type dependency on one Node-RED major version; both 4.x
 * and 5.x provide this surface.
 */
export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  topic?: string;
  [key: string]: unknown;
}

export type SendFn = (msg: NodeMessage | null | (NodeMessage | NodeMessage[] | null)[]) => void;
export type DoneFn = (err?: Error) => void;

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface Node {
  id: string;
  type: string;
  name?: string;
  z?: string;
  credentials?: Record<string, string | undefined>;
  on(event: 'input', cb: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void;
  on(event: 'close', cb: (removed: boolean, done: () => void) => void): void;
  send: SendFn;
  status(s: NodeStatus | Record<string, never>): void;
  log(m: string): void;
  warn(m: string): void;
  error(m: string | Error, msg?: NodeMessage): void;
  debug(m: string): void;
  trace(m: string): void;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  [key: string]: unknown;
}

export interface AdminPermission {
  (permission: string): (req: unknown, res: unknown, next: () => void) => void;
}

export interface RED {
  nodes: {
    createNode(node: Node, def: NodeDef): void;
    registerType(type: string, ctor: (this: Node, def: NodeDef) => void, opts?: { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: Record<string, unknown> }): void;
    getNode(id: string): Node | null;
    /** Walk the node configurations of the active flows (Node-RED runtime API). */
    eachNode?(cb: (n: NodeDef) => void): void;
  };
  settings: Record<string, unknown> & { userDir?: string };
  log: { info(m: string): void; warn(m: string): void; error(m: string): void; debug(m: string): void };
  httpAdmin: {
    get(path: string, ...handlers: unknown[]): void;
    post(path: string, ...handlers: unknown[]): void;
  };
  auth: { needsPermission: AdminPermission };
  plugins?: { registerPlugin(id: string, def: Record<string, unknown>): void };
  util: { cloneMessage<T>(m: T): T; getMessageProperty(msg: NodeMessage, prop: string): unknown; setMessageProperty(msg: NodeMessage, prop: string, value: unknown, createMissing?: boolean): boolean };
  version(): string;
  /**
   * Message catalog lookup (nodes/locales/<lang>/<file>.json); Node-RED binds it to the calling
   * node module's namespace, so keys start with the file's base name: `RED._('hl7.status.counts')`.
   */
  _(key: string, substitutions?: Record<string, unknown>): string;
}

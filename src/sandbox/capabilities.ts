// The closed list of sandbox capabilities.

export const CAPABILITIES = ['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/bind', 'net/connect'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const NET_CAPABILITIES = ['net/bind', 'net/connect'] as const;
/** Capabilities whose rules name sockets: UNIX paths, abstract names or IP addresses with ports. */
export type NetCapability = (typeof NET_CAPABILITIES)[number];
/** Capabilities whose rules name file system paths. */
export type PathCapability = Exclude<Capability, NetCapability>;

export function isCapability(name: string): name is Capability {
  return (CAPABILITIES as readonly string[]).includes(name);
}

export function isNetCapability(cap: Capability): cap is NetCapability {
  return cap === 'net/bind' || cap === 'net/connect';
}

// The storage fleet as text, `s1=host:port,s2=host:port,…`: how storage nodes learn their
// peers and writers their storage nodes (flags, environment, test fleets).

export interface NodeAddress {
  id: string;
  host: string;
  port: number;
}

/** The fleet on this machine: six nodes, two per AZ, ports 7811–7816. */
export const DEFAULT_FLEET =
  's1=127.0.0.1:7811,s2=127.0.0.1:7812,s3=127.0.0.1:7813,s4=127.0.0.1:7814,s5=127.0.0.1:7815,s6=127.0.0.1:7816';

const ENTRY_PATTERN = /^([a-z0-9-]{1,32})=([^:\s]+):(\d{1,5})$/;

/** The six distinct nodes of `text`, in order; throws an Error saying what is wrong. */
export function parseFleet(text: string): NodeAddress[] {
  const nodes = text.split(',').map((entry) => {
    const match = ENTRY_PATTERN.exec(entry.trim());
    if (match === null) throw new Error(`invalid node ${JSON.stringify(entry)} (want id=host:port)`);
    return { id: match[1] as string, host: match[2] as string, port: Number(match[3]) };
  });
  if (nodes.length !== 6 || new Set(nodes.map((node) => node.id)).size !== 6) {
    throw new Error(`the fleet must list 6 distinct nodes, got ${nodes.length}`);
  }
  return nodes;
}

export function formatFleet(nodes: readonly NodeAddress[]): string {
  return nodes.map((node) => `${node.id}=${node.host}:${node.port}`).join(',');
}

import dgram from "node:dgram";

/** What a name resolves to; a missing type has no records (an empty answer, not an error). */
export interface Records {
  A?: string[];
  AAAA?: string[];
}

const TYPES: Record<number, keyof Records> = { 1: "A", 28: "AAAA" };

function addressBytes(type: keyof Records, address: string): number[] {
  if (type === "A") return address.split(".").map(Number);
  const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head, tail] = host.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined
    ? left
    : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}

/**
 * A DNS server on loopback (UDP) for tests that must control what a name resolves to, and when:
 * the resolver under test is pointed at it. `set(name, ...answers)` makes the first A (or AAAA)
 * query of `name` get the first answer's records, the next the next one, the last repeating
 * (a name that rebinds between two lookups). A name never set is NXDOMAIN.
 */
export async function startTestDns() {
  const socket = dgram.createSocket("udp4");
  const names = new Map<string, Records[]>();
  const asked = new Map<string, number>();

  socket.on("message", (query: Uint8Array, peer: { address: string; port: number }) => {
    const view = new DataView(query.buffer, query.byteOffset, query.byteLength);
    const labels: string[] = [];
    let at = 12;
    while (at < query.length && query[at] !== 0) {
      labels.push(new TextDecoder().decode(query.subarray(at + 1, at + 1 + query[at])));
      at += 1 + query[at];
    }
    const qtype = view.getUint16(at + 1);
    const questionEnd = at + 5;
    const name = labels.join(".").toLowerCase();
    const type = TYPES[qtype];
    const answers = names.get(name);
    let records: string[] = [];
    if (answers && type) {
      const key = `${name} ${type}`;
      const n = asked.get(key) ?? 0;
      asked.set(key, n + 1);
      records = answers[Math.min(n, answers.length - 1)][type] ?? [];
    }
    const rr = records.flatMap((address) => {
      const data = addressBytes(type!, address);
      // a pointer to the question's name, type, class IN, TTL 0 (never cached), the address
      return [0xc0, 12, qtype >> 8, qtype & 0xff, 0, 1, 0, 0, 0, 0, 0, data.length, ...data];
    });
    const reply = new Uint8Array(questionEnd + rr.length);
    reply.set(query.subarray(0, questionEnd));
    reply.set(rr, questionEnd);
    const header = new DataView(reply.buffer);
    header.setUint16(2, 0x8180 | (answers ? 0 : 3)); // a response, recursion available; NXDOMAIN
    header.setUint16(6, records.length);
    header.setUint16(8, 0);
    header.setUint16(10, 0);
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));

  return {
    /** for Deno.resolveDns's nameServer option */
    nameServer: { ipAddr: "127.0.0.1", port: (socket.address() as { port: number }).port },
    set(name: string, ...answers: Records[]) {
      names.set(name.toLowerCase(), answers);
      for (const type of Object.values(TYPES)) asked.delete(`${name.toLowerCase()} ${type}`);
    },
    /** how many A and AAAA queries `name` got */
    queries: (name: string) =>
      Object.values(TYPES).reduce((n, t) => n + (asked.get(`${name.toLowerCase()} ${t}`) ?? 0), 0),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

export type TestDns = Awaited<ReturnType<typeof startTestDns>>;

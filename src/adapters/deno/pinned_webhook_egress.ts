import * as http from "node:http";
import * as https from "node:https";
import { formatIp, parseIp } from "../../core/net/ip.ts";
import {
  isBlockedAddress,
  RefusedTarget,
  RESOLUTION_REFUSALS,
} from "../../core/webhooks/ssrf_guard.ts";
import type { EgressRequest, WebhookEgress } from "../../ports/webhook_egress.ts";

export interface PinnedEgressOptions {
  /** the DNS server to ask; default the system's (/etc/resolv.conf). Tests run one on loopback */
  nameServer?: { ipAddr: string; port?: number };
  /** roots trusted besides the default store (tests sign their receivers' certificates) */
  caCerts?: string[];
  /** which resolved addresses are refused (default isBlockedAddress); tests reach loopback */
  isBlocked?: (address: string) => boolean;
}

interface Resolved {
  address: string;
  family: 4 | 6;
}

/**
 * Client webhooks on Deno, where nothing stops a connection to our own network: at every attempt
 * the host is resolved (A and AAAA, with the attempt's deadline), refused when any address is
 * private or reserved, and the connection is made to an address from that same answer. fetch
 * cannot be told which address to use (its `tcp` proxy transport speaks plain HTTP even to an
 * https URL), so the request goes through node:https with a `lookup` that hands back the checked
 * addresses: the TLS handshake still sends the host name (SNI) and verifies the certificate
 * against it, and no second lookup can rebind the name between the check and the connection.
 *
 * Each attempt opens its own connection: check and connection stay one step, at the cost of a
 * handshake per delivery (fetch would pool connections per host).
 */
export function pinnedWebhookEgress(options: PinnedEgressOptions = {}): WebhookEgress {
  const isBlocked = options.isBlocked ?? isBlockedAddress;

  async function resolveName(name: string, signal: AbortSignal): Promise<string[]> {
    // absolute (trailing dot): the search domains of resolv.conf do not apply, so a short name
    // cannot pick up a cluster-internal answer
    const absolute = `${name.replace(/\.$/, "")}.`;
    const answers = await Promise.allSettled(
      (["A", "AAAA"] as const).map((type) =>
        Deno.resolveDns(absolute, type, { signal, nameServer: options.nameServer })
      ),
    );
    signal.throwIfAborted();
    const found = answers.flatMap((a) => (a.status === "fulfilled" ? a.value : []));
    if (found.length) return found;
    const nowhere = answers.every((a) =>
      a.status === "rejected" && a.reason instanceof Deno.errors.NotFound
    );
    throw new RefusedTarget(nowhere ? RESOLUTION_REFUSALS.noAddress : RESOLUTION_REFUSALS.failed);
  }

  /** Every address the host has now, checked; only these are ever connected to. */
  async function addressesOf(url: URL, signal: AbortSignal): Promise<Resolved[]> {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const literal = parseIp(host);
    const found = literal ? [formatIp(literal)] : await resolveName(host, signal);
    if (found.some((address) => isBlocked(address))) {
      throw new RefusedTarget(RESOLUTION_REFUSALS.blocked);
    }
    return found.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  }

  function send(url: URL, addresses: Resolved[], request: EgressRequest): Promise<number> {
    const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
    const body = new TextEncoder().encode(request.body);
    const secure = url.protocol === "https:";
    return new Promise<number>((resolve, reject) => {
      const req = (secure ? https : http).request({
        host,
        // the name for SNI and the certificate check; an address literal is checked as an IP
        ...(parseIp(host) ? {} : { servername: host }),
        port: Number(url.port) || (secure ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...request.headers, "content-length": String(body.byteLength) },
        agent: false,
        ...(options.caCerts ? { ca: options.caCerts } : {}),
        lookup: (
          _name: string,
          lookupOptions: { all?: boolean },
          callback: (error: Error | null, address: string | Resolved[], family?: number) => void,
        ) =>
          lookupOptions.all
            ? callback(null, addresses)
            : callback(null, addresses[0].address, addresses[0].family),
      }, (res) => {
        // the status is the answer; the body is not read (nothing bounds what a receiver sends)
        resolve(res.statusCode ?? 0);
        res.destroy();
      });
      // node:https in Deno ignores a `signal` option: the deadline is enforced here
      const abort = () => req.destroy(request.signal.reason);
      request.signal.addEventListener("abort", abort, { once: true });
      req.on("close", () => request.signal.removeEventListener("abort", abort));
      req.on("error", reject);
      req.end(body);
    });
  }

  return {
    async vet(url, signal) {
      try {
        await addressesOf(url, signal);
        return null;
      } catch (error) {
        if (error instanceof RefusedTarget) return error.reason;
        if (signal.aborted) return RESOLUTION_REFUSALS.failed;
        throw error;
      }
    },
    async post(url, request) {
      request.signal.throwIfAborted();
      return await send(url, await addressesOf(url, request.signal), request);
    },
  };
}

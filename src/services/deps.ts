import type { Env } from "../config/env.ts";
import type { DataKeys } from "../adapters/supabase/data_keys.ts";
import type { DatabaseAccess } from "../adapters/supabase/database.ts";
import type { GraphClient } from "../adapters/http/graph_client.ts";
import type { InboxWriter } from "../adapters/supabase/inbox_writer.ts";
import type { SendCalls } from "../adapters/supabase/send_calls.ts";
import type { Keyring } from "../core/crypto/envelope.ts";
import type { EventPublisher } from "../ports/events.ts";
import type { Doorbell } from "../ports/jobs.ts";
import type { Logger } from "../ports/logger.ts";

/** What the messaging services need; built once per isolate by src/compose.ts. */
export interface ServiceDeps {
  env: Env;
  db: DatabaseAccess;
  dataKeys: DataKeys;
  keyring: Keyring;
  graph: GraphClient;
  logger: Logger;
  doorbell: Doorbell;
  events: EventPublisher;
  inbox: InboxWriter;
  sends: SendCalls;
  now: () => number;
}

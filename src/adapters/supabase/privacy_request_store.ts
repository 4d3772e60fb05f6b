import type { DatabaseAccess } from "./database.ts";
import { checked as check } from "./checked.ts";
import type {
  AppliedPart,
  ClaimedPart,
  CodeAttempt,
  CodeStored,
  ExportRecord,
  PartRecord,
  PrivacyRequestRecord,
  PrivacyRequestStore,
  RequestWithParts,
} from "../../ports/privacy_requests.ts";

const REQUEST_COLUMNS =
  "id, reference_prefix, filing_client_id, type, channel, status, external_id, subject_kind, verification_method, verified_at, attested_by, attested_at, filed_by, received_at, due_at, extended_due_at, extension_reason, approved_at, rejected_at, rejection_reason, fulfilment_requested_at, completed_at, updated_at";
const PART_COLUMNS =
  "id, request_id, client_id, status, result, error, attempts, done_at, created_at";
const EXPORT_COLUMNS =
  "id, request_id, client_id, part_id, bytes, created_at, expires_at, downloaded_at";
const WITH_PARTS =
  `${REQUEST_COLUMNS}, parts:privacy_request_parts(${PART_COLUMNS}), exports:privacy_exports(${EXPORT_COLUMNS})`;

/** Fields of the request row the API and pages may show (file_privacy_request returns them all). */
function publicFields(row: Record<string, unknown>): PrivacyRequestRecord {
  const out: Record<string, unknown> = {};
  for (const column of REQUEST_COLUMNS.split(", ")) out[column] = row[column] ?? null;
  return out as unknown as PrivacyRequestRecord;
}

/** The privacy request workflow over PostgREST (see PrivacyRequestStore for who runs what). */
export function privacyRequestStore(db: DatabaseAccess): PrivacyRequestStore {
  const service = db.service;
  return {
    async file(request, asClient) {
      const client = asClient ? db.forClient(asClient) : service;
      const answer = check(
        await client.rpc("file_privacy_request", { r: request }),
        "Could not file the privacy request",
      ) as { request: Record<string, unknown>; created: boolean };
      return { request: publicFields(answer.request), created: answer.created };
    },

    async findByReference(referenceHash) {
      return check(
        await service.from("privacy_requests").select(WITH_PARTS)
          .eq("reference_hash", referenceHash).maybeSingle(),
        "Could not read the privacy request",
      ) as RequestWithParts | null;
    },

    async countWebRequests(subjectHash, since) {
      const { count, error } = await service.from("privacy_requests")
        .select("id", { count: "exact", head: true })
        .eq("subject_hash", subjectHash).eq("channel", "web")
        .gte("received_at", since.toISOString());
      check({ data: null, error }, "Could not count privacy requests");
      return count ?? 0;
    },

    async subjectKnown(ids, scope) {
      const probes = [];
      for (const [column, value] of [["wa_id", ids.waId], ["user_id", ids.userId]] as const) {
        if (!value) continue;
        let query = scope.only
          ? db.forClient(scope.only).from("contacts").select("id").eq(column, value)
          : service.from("contacts").select("id").eq(column, value);
        if (scope.except) query = query.neq("client_id", scope.except);
        probes.push(query.limit(1));
      }
      for (const result of await Promise.all(probes)) {
        if ((check(result, "Could not look up the subject") as unknown[]).length) return true;
      }
      return false;
    },

    async sealedSubject(requestId) {
      return check(
        await service.from("privacy_requests").select("subject_ciphertext, details_ciphertext")
          .eq("id", requestId).maybeSingle(),
        "Could not read the privacy request",
      );
    },

    async addSubjectRequestId(requestId, httpRequestId) {
      check(
        await service.rpc("add_privacy_subject_request", {
          request_id: requestId,
          http_request_id: httpRequestId,
        }),
        "Could not record the subject's request",
      );
    },

    async storeCode(requestId, codeHash, options) {
      return check(
        await service.rpc("store_privacy_code", {
          request_id: requestId,
          code_hash: codeHash,
          ttl_seconds: options.ttlSeconds,
          max_attempts: options.maxAttempts,
        }),
        "Could not store the verification code",
      ) as CodeStored;
    },

    async takeCodeAttempt(requestId) {
      return check(
        await service.rpc("take_privacy_code_attempt", { request_id: requestId }),
        "Could not check the verification code",
      ) as CodeAttempt;
    },

    async verify(requestId, ids, privacySender) {
      return check(
        await service.rpc("verify_privacy_request", {
          request_id: requestId,
          wa_id: ids.waId ?? null,
          user_id: ids.userId ?? null,
          privacy_sender: privacySender,
        }),
        "Could not verify the privacy request",
      );
    },

    async duePartIds(limit) {
      return check(
        await service.rpc("due_privacy_parts", { max_rows: limit }),
        "Could not list due privacy work",
      );
    },

    async partIdsOf(requestId) {
      return check(
        await service.from("privacy_request_parts").select("id, client_id")
          .eq("request_id", requestId).eq("status", "queued"),
        "Could not list the request's parts",
      );
    },

    async claimPart(partId, leaseSeconds) {
      return check(
        await service.rpc("claim_privacy_part", { part_id: partId, lease_seconds: leaseSeconds }),
        "Could not claim the privacy request part",
      ) as ClaimedPart | null;
    },

    async resolvePartContacts(partId, ids) {
      return (check(
        await service.rpc("resolve_privacy_part_contacts", {
          part_id: partId,
          wa_id: ids.waId ?? null,
          user_id: ids.userId ?? null,
        }),
        "Could not find the subject's contacts",
      ) as string[] | null) ?? [];
    },

    async partHeld(partId) {
      return check(
        await service.rpc("privacy_part_held", { part_id: partId }),
        "Could not check legal holds",
      ) === true;
    },

    async applyPart(clientId, partId, options) {
      return check(
        await db.forClient(clientId).rpc("apply_privacy_part", {
          part_id: partId,
          delivery_ids: options.deliveryIds ?? [],
          profile_name_ciphertext: options.profileNameCiphertext ?? null,
          plugin_delivery_ids: options.pluginDeliveryIds ?? [],
        }),
        "Could not carry out the privacy request part",
      ) as AppliedPart;
    },

    async finishPart(partId, outcome, options = {}) {
      return check(
        await service.rpc("finish_privacy_part", {
          part_id: partId,
          outcome,
          result: options.result ?? {},
          error: options.error ?? null,
          retry_in_seconds: options.retryInSeconds ?? 60,
        }),
        "Could not record the privacy request part",
      );
    },

    async storeExport(record) {
      check(
        await service.from("privacy_exports").insert(record),
        "Could not store the export",
      );
    },

    async takeExport(exportId) {
      return check(
        await service.rpc("take_privacy_export", { export_id: exportId }),
        "Could not read the export",
      );
    },

    async expireWork(maxRows) {
      return check(
        await service.rpc("expire_privacy_work", { max_rows: maxRows }),
        "Could not expire privacy work",
      );
    },

    async listForClient(clientId, options) {
      let query = db.forClient(clientId).from("privacy_requests").select(WITH_PARTS);
      if (options.status) query = query.eq("status", options.status);
      if (options.before) query = query.lt("received_at", options.before);
      const rows = check(
        await query.order("received_at", { ascending: false }).order("id").limit(options.limit),
        "Could not list privacy requests",
      ) as RequestWithParts[];
      return rows;
    },

    async getForClient(clientId, id) {
      return check(
        await db.forClient(clientId).from("privacy_requests").select(WITH_PARTS).eq("id", id)
          .maybeSingle(),
        "Could not read the privacy request",
      ) as RequestWithParts | null;
    },
  };
}

export type { ExportRecord, PartRecord };

import type { SupabaseClient } from "@supabase/supabase-js";

/**
 * What a re-drive needs of the dead-lettered message, read under the client's RLS. Recipient and
 * content may be null: the schema allows it, and a client's own token can write its rows.
 */
export interface DeadLetter {
  id: string;
  deadLettered: boolean;
  type: string;
  recipient: string | null;
  contentCiphertext: string | null;
  /** Meta's id of the number that sent it */
  phoneNumberId: string;
}

/** The outbound message `id` of this client, or null when it has none by that id. */
export async function readDeadLetter(db: SupabaseClient, id: string): Promise<DeadLetter | null> {
  const { data, error } = await db.from("messages")
    .select(
      "id, type, recipient, content_ciphertext, dead_lettered_at, phone_numbers!inner(phone_number_id)",
    )
    .eq("id", id).eq("direction", "outbound").maybeSingle();
  if (error) throw new Error(`Could not read the message: ${error.message}`);
  if (!data) return null;
  const row = data as unknown as {
    id: string;
    type: string;
    recipient: string | null;
    content_ciphertext: string | null;
    dead_lettered_at: string | null;
    phone_numbers: { phone_number_id: string };
  };
  return {
    id: row.id,
    deadLettered: row.dead_lettered_at !== null,
    type: row.type,
    recipient: row.recipient,
    contentCiphertext: row.content_ciphertext,
    phoneNumberId: row.phone_numbers.phone_number_id,
  };
}

/**
 * Records that `redriveId` sends `originalId` again. Idempotent: a message already linked keeps
 * its link. The database accepts only a dead-lettered message of the same client, once.
 */
export async function linkRedrive(
  db: SupabaseClient,
  redriveId: string,
  originalId: string,
): Promise<void> {
  const { error } = await db.from("messages").update({ retry_of: originalId })
    .eq("id", redriveId).is("retry_of", null);
  if (error) throw new Error(`Could not link the re-drive: ${error.message}`);
}

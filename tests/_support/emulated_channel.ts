import { startGraphEmulator } from "../../tools/emulators/graph_api.ts";
import { startChannel } from "./channel.ts";
import { testStack } from "./stack.ts";

export type Emulator = Awaited<ReturnType<typeof startGraphEmulator>>;

/**
 * A channel whose Graph API is the emulator, which posts signed status and template webhooks back
 * to the app and holds the channel's templates.
 */
export async function emulatedChannel(
  env: NonNullable<Parameters<typeof startChannel>[0]>["env"] = {},
  emulatorOptions: Partial<Parameters<typeof startGraphEmulator>[0]> = {},
  channel: Pick<Parameters<typeof startChannel>[0] & object, "doorbell" | "plugins" | "templates"> =
    {},
) {
  let emulator: Emulator | undefined;
  const ch = await startChannel({
    ...channel,
    env,
    graph: async ({ appWebhookUrl, phoneNumberId, accessToken, wabaId, templates }) => {
      emulator = await startGraphEmulator({
        templates: { [wabaId]: templates },
        port: 0,
        appSecret: testStack().secrets.meta_app_secret,
        webhookUrl: appWebhookUrl,
        tokens: { [phoneNumberId]: accessToken },
        wabaIdFor: () => wabaId,
        statusDelaysMs: { sent: 20, delivered: 40, read: null },
        quiet: true,
        ...emulatorOptions,
      });
      return emulator;
    },
  });
  return { ch, emulator: emulator! };
}

-- Development seed: one demo client with a WhatsApp Business account, a phone number and the
-- Shopify plugin enabled for a demo shop. Secrets (API key, access token, data key) are not static:
-- tools/dev.ts creates them through the same code the operator CLI uses and writes .dev/stack.json.

insert into public.clients (id, name)
values ('00000000-0000-4000-8000-000000000001', 'Demo Shop Ltd')
on conflict (id) do nothing;

insert into public.whatsapp_business_accounts (id, client_id, waba_id, name)
values (
  '00000000-0000-4000-8000-000000000011',
  '00000000-0000-4000-8000-000000000001',
  '102290129340398',
  'Demo Shop WABA'
)
on conflict (id) do nothing;

insert into public.phone_numbers (
  id, client_id, waba_account_id, phone_number_id, display_phone_number, verified_name
)
values (
  '00000000-0000-4000-8000-000000000021',
  '00000000-0000-4000-8000-000000000001',
  '00000000-0000-4000-8000-000000000011',
  '106540352242922',
  '15550783881',
  'Demo Shop'
)
on conflict (id) do nothing;

insert into public.plugin_installations (client_id, plugin_id, enabled, config, routing_key)
values (
  '00000000-0000-4000-8000-000000000001',
  'shopify',
  true,
  -- every notification on with its default template (plugins/shopify/config.ts)
  '{"shop_domain": "demo-shop.myshopify.com"}',
  'demo-shop.myshopify.com'
)
on conflict (client_id, plugin_id) do nothing;

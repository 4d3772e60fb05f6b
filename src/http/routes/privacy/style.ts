/**
 * The privacy pages' only stylesheet, served by this deployment (/privacy/privacy.css): the
 * pages load nothing from elsewhere and carry no inline style, so the strict page policy holds.
 */
export const PRIVACY_CSS = `
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --muted: #4a4a4a;
  --accent: #005ea5; --error: #b10e1e; --ok: #00703c; --line: #b1b4b6; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #f3f2f1; --bg: #141414; --muted: #c8c8c8; --accent: #8ecbff;
    --error: #ff8a8a; --ok: #7fdc9f; --line: #6f777b; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 1.125rem/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; }
header, main, footer { max-width: 42rem; margin: 0 auto; padding: 1rem; }
header { border-bottom: 4px solid var(--accent); }
h1 { font-size: 2rem; line-height: 1.2; }
h2 { font-size: 1.5rem; margin-top: 2rem; }
p, li { max-width: 38rem; }
a { color: var(--accent); }
a:focus, input:focus, button:focus { outline: 3px solid #ffbf47; outline-offset: 2px; }
fieldset { border: 0; padding: 0; margin: 0 0 1.5rem; }
legend { font-weight: 700; margin-bottom: .5rem; }
label { display: block; font-weight: 700; margin-top: 1rem; }
.choice label { display: inline; font-weight: 400; margin-left: .5rem; }
.choice { margin: .5rem 0; }
.hint { color: var(--muted); margin: .25rem 0; }
input[type=text], input[type=tel] { font: inherit; width: 100%; max-width: 24rem;
  padding: .4rem; border: 2px solid var(--fg); background: var(--bg); color: var(--fg); }
input[aria-invalid=true] { border-color: var(--error); }
button { font: inherit; font-weight: 700; margin-top: 1rem; padding: .5rem 1rem;
  border: 0; background: var(--accent); color: var(--bg); cursor: pointer; }
button.secondary { background: transparent; color: var(--accent); border: 2px solid var(--accent); }
.error { border: 4px solid var(--error); padding: 1rem; margin: 1rem 0; }
.error h2 { margin-top: 0; color: var(--error); font-size: 1.25rem; }
.field-error { color: var(--error); font-weight: 700; margin: .25rem 0; }
.notice { border-left: 6px solid var(--ok); padding: .5rem 1rem; margin: 1rem 0; }
.code { font-family: ui-monospace, monospace; font-size: 1.25rem; letter-spacing: .05em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 700; }
dd { margin: 0; }
footer { color: var(--muted); border-top: 1px solid var(--line); margin-top: 3rem; }
`;

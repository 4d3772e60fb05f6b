/**
 * What the privacy pages say, per language. English is the one written so far; a language is
 * added by adding its catalogue here (the type makes sure every sentence is there), and is then
 * chosen by `?lang=` or the browser's Accept-Language.
 */
const en = {
  lang: "en",
  title: "Your privacy rights",
  skip: "Skip to the main content",
  intro:
    "Businesses use this service to send and receive WhatsApp messages. If you have written to one of them, or received messages from one, this page lets you ask for a copy of what we keep about you, have your name corrected, have your data deleted, or stop the messages.",
  how:
    "We send a one-time code to your WhatsApp number to check that the number is yours. Nothing happens before you enter it. We answer within one month; if a request is complex we may take two more months, and we tell you why.",
  unavailable:
    "Requests cannot be verified on this page at the moment. Please write to the contact below.",
  fileHeading: "Make a request",
  typeLegend: "What would you like us to do?",
  types: {
    access: "Send me a copy of my data",
    correction: "Correct my name",
    deletion: "Delete my data",
    consent_withdrawal: "Stop messages to me (withdraw my consent)",
  },
  typeNames: {
    access: "Copy of your data",
    correction: "Correction of your name",
    deletion: "Deletion of your data",
    consent_withdrawal: "Withdrawal of consent",
  },
  numberLabel: "Your WhatsApp number",
  numberHint: "In international format, with the country code, for example +44 7700 900123.",
  nameLabel: "Your correct name (only for a correction)",
  submit: "Send me a code",
  followHeading: "Follow a request",
  followLabel: "Confirmation code",
  followHint: "The code you were given when you made the request, for example 7K3Q-…",
  follow: "Show the request",
  errorHeading: "There is a problem",
  errors: {
    type: "Choose what you would like us to do.",
    number: "Enter your WhatsApp number in international format, for example +44 7700 900123.",
    name: "Enter your correct name (at most 200 characters).",
    code: "Enter the six-digit code we sent to your WhatsApp number.",
    wrongCode: (left: number) =>
      `That code is not right. You can try ${left} more time${left === 1 ? "" : "s"}.`,
    expired: "That code has expired. Ask for a new one below.",
    locked:
      "The code was entered wrongly too many times. Make a new request if you still want one.",
    noCode:
      "No code is waiting for this request. Ask for one below; if we hold your number, it arrives on WhatsApp.",
    tooMany: "Too many requests from your connection. Please wait a minute and try again.",
    unknownRequest: "We found no request with this confirmation code.",
  },
  requestHeading: (prefix: string) => `Request ${prefix}…`,
  keepCode:
    "Keep this page's address, or its confirmation code, to come back to it. Anyone who has the code can see this request.",
  confirmation: "Confirmation code",
  sent:
    "If we hold data about this number, we have sent a code to it on WhatsApp. Enter it below. It works for 10 minutes.",
  resent: "If we hold data about this number, a new code is on its way.",
  resendTooSoon: "Please wait a minute before asking for another code.",
  resendTooMany: "We have sent all the codes we can for this request. Make a new request later.",
  verified: "Thank you: your request is verified.",
  codeLabel: "Code from WhatsApp",
  codeHint: "Six digits.",
  verify: "Confirm",
  resend: "Send a new code",
  facts: {
    type: "Request",
    status: "Status",
    received: "Received",
    deadline: "We answer by",
    extended: "Extended because",
    rejected: "Why we cannot do it",
    completed: "Completed",
  },
  statuses: {
    unverified: "Waiting for the code sent to your WhatsApp number",
    verified: "Verified; waiting for our privacy team",
    approved: "Approved; being carried out",
    in_progress: "Being carried out",
    completed: "Done",
    rejected: "Declined",
    expired: "Expired: the code was never entered",
  },
  held:
    "Part of this request is on hold because the law requires us to keep some of the data for now. We carry it out as soon as that obligation ends.",
  businesses: (n: number) =>
    n === 0
      ? "We found no business that holds data about this number."
      : `${n} business${n === 1 ? "" : "es"} hold${n === 1 ? "s" : ""} data about this number.`,
  downloadsHeading: "Your data",
  download: (n: number) => `Download the data of business ${n} (JSON)`,
  downloadNote: (until: string) => `The link works once, until ${until}.`,
  downloaded: (at: string) => `Downloaded on ${at}.`,
  linkGone:
    "This link has expired or was already used. Each link works once; ask the business or us for a new copy if you need one.",
  back: "Back to your privacy rights",
  contact: (email: string) => `Questions about your data: ${email}`,
  meta:
    "This request came from Meta when you removed our app from your Facebook account. We do not keep Facebook data about you beyond this request.",
};

export type Messages = typeof en;

const CATALOGUE: Record<string, Messages> = { en };

/** The language to answer in: `?lang=` if we have it, else the browser's first one we have. */
export function messagesFor(
  query: string | undefined,
  acceptLanguage: string | undefined,
): Messages {
  const wanted = [
    query,
    ...(acceptLanguage ?? "").split(",").map((part) => part.split(";")[0].trim()),
  ];
  for (const tag of wanted) {
    const lang = tag?.toLowerCase().split("-")[0];
    if (lang && CATALOGUE[lang]) return CATALOGUE[lang];
  }
  return en;
}

// The key page: OpenPGP.js makes a passphrase-protected key pair here, in the browser. The
// secret key is offered as a file (and to copy); only the public key is sent to our server.
import * as openpgp from "./vendor/openpgp.min.mjs";
import { api, errorText, loadStrings, t } from "./webapp.js";

const $ = (id) => document.getElementById(id);
// The passphrase the bot used to make: six groups of five from an unambiguous alphabet
// (~148 bits), drawn with the browser's CSPRNG.
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";
const MIN_PASSPHRASE = 12;

export function newPassphrase() {
  const groups = [];
  while (groups.length < 6) {
    let group = "";
    while (group.length < 5) {
      const [byte] = crypto.getRandomValues(new Uint8Array(1));
      // 248 = 8 × 31: rejecting the rest keeps every character equally likely
      if (byte < 248) group += ALPHABET[byte % ALPHABET.length];
    }
    groups.push(group);
  }
  return groups.join("-");
}

function show(text, cls = "") {
  const result = $("result");
  result.textContent = text;
  result.className = cls;
}

let made = null; // { publicKey, fingerprint }

async function generate() {
  const passphrase = $("passphrase").value;
  if (passphrase.length < MIN_PASSPHRASE) {
    show(t("webapp-keygen-passphrase-short"), "bad");
    return;
  }
  $("generate").disabled = true;
  $("new-passphrase").disabled = true;
  show(t("webapp-keygen-generating"), "muted");
  try {
    // v4 Curve25519 (Ed25519 + X25519): read by GnuPG 2.2 as well as by OpenPGP.js.
    const { privateKey, publicKey } = await openpgp.generateKey({
      type: "ecc",
      curve: "curve25519Legacy",
      userIDs: [{ name: "Libral log key" }],
      passphrase,
      format: "armored",
    });
    const key = await openpgp.readKey({ armoredKey: publicKey });
    made = { publicKey, fingerprint: key.getFingerprint().toUpperCase() };
    const blob = new Blob([privateKey], { type: "application/pgp-keys" });
    $("download").href = URL.createObjectURL(blob);
    $("copy").onclick = async () => {
      await navigator.clipboard.writeText(privateKey);
      $("copied").hidden = false;
    };
  } catch (error) {
    show(t("webapp-keygen-failed", { detail: String(error && error.message) }), "bad");
    $("generate").disabled = false;
    $("new-passphrase").disabled = false;
    return;
  }
  $("passphrase").readOnly = true;
  $("generate").hidden = true;
  $("new-passphrase").hidden = true;
  $("made").textContent = t("webapp-keygen-made", { fingerprint: made.fingerprint });
  $("save").hidden = false;
  show("");
}

async function send() {
  $("send").disabled = true;
  show(t("webapp-keygen-sending"), "muted");
  try {
    const linked = await api("keygen/public-key", {
      method: "POST",
      body: { public_key: made.publicKey },
    });
    show(t("webapp-keygen-done", { fingerprint: linked.fingerprint }), "ok");
    $("saved").disabled = true;
  } catch (error) {
    show(errorText(error), "bad");
    $("send").disabled = !$("saved").checked;
  }
}

async function main() {
  await loadStrings();
  const status = $("status");
  let state;
  try {
    state = await api("keygen/status");
  } catch (error) {
    status.textContent = errorText(error);
    status.className = "bad";
    return;
  }
  if (!state.expecting) {
    status.textContent = t("webapp-keygen-not-expected");
    return;
  }
  status.hidden = true;
  $("passphrase").value = newPassphrase();
  $("new-passphrase").onclick = () => {
    $("passphrase").value = newPassphrase();
  };
  $("generate").onclick = generate;
  $("saved").onchange = () => {
    $("send").disabled = !$("saved").checked;
  };
  $("send").onclick = send;
  $("make").hidden = false;
}

main().finally(() => {
  document.body.dataset.ready = "1";
});

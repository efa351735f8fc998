// Verify one cleartext-signed block with OpenPGP.js.
// usage: node verify.mjs SERVER_KEY.asc [...] < block.asc
// Prints JSON: {text, signatures: [{fingerprint, valid}]}
import { readFileSync } from "node:fs";
import * as openpgp from "openpgp";

const serverKeys = await Promise.all(
  process.argv.slice(2).map((p) => openpgp.readKey({ armoredKey: readFileSync(p, "utf8") })),
);
const message = await openpgp.readCleartextMessage({ cleartextMessage: readFileSync(0, "utf8") });
const { data, signatures } = await openpgp.verify({ message, verificationKeys: serverKeys });
const sigs = [];
for (const sig of signatures) {
  let valid = false;
  try {
    valid = await sig.verified;
  } catch {
    valid = false;
  }
  const owner = serverKeys.find((k) => k.getKeys(sig.keyID).length > 0);
  sigs.push({ fingerprint: owner ? owner.getFingerprint().toUpperCase() : null, valid });
}
process.stdout.write(JSON.stringify({ text: data, signatures: sigs }));

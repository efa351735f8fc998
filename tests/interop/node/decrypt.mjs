// Decrypt and verify one OpenPGP message with OpenPGP.js (an independent RFC 9580 implementation).
// usage: node decrypt.mjs SECRET_KEY.asc [SERVER_KEY.asc ...] < message.asc
// The secret key's passphrase comes from the environment variable KEY_PASSPHRASE.
// Prints JSON: {data, signatures: [{keyID, fingerprint, valid}], seipd: {version, cipher, aead}, pkesk}
import { readFileSync } from "node:fs";
import * as openpgp from "openpgp";

const [secretPath, ...serverPaths] = process.argv.slice(2);
const armoredMessage = readFileSync(0, "utf8");
let privateKey = await openpgp.readPrivateKey({ armoredKey: readFileSync(secretPath, "utf8") });
if (process.env.KEY_PASSPHRASE && !privateKey.isDecrypted()) {
  privateKey = await openpgp.decryptKey({ privateKey, passphrase: process.env.KEY_PASSPHRASE });
}
const serverKeys = await Promise.all(
  serverPaths.map((p) => openpgp.readKey({ armoredKey: readFileSync(p, "utf8") })),
);
const message = await openpgp.readMessage({ armoredMessage });

const tags = openpgp.enums.packet;
const seipd = message.packets.filterByTag(tags.symEncryptedIntegrityProtectedData)[0];
const pkesk = message.packets.filterByTag(tags.publicKeyEncryptedSessionKey)[0];

const { data, signatures } = await openpgp.decrypt({
  message,
  decryptionKeys: privateKey,
  verificationKeys: serverKeys,
  format: "utf8",
});
const sigs = [];
for (const sig of signatures) {
  let valid = false;
  try {
    valid = await sig.verified;
  } catch {
    valid = false;
  }
  const owner = serverKeys.find((k) => k.getKeys(sig.keyID).length > 0);
  sigs.push({
    keyID: sig.keyID.toHex(),
    fingerprint: owner ? owner.getFingerprint().toUpperCase() : null,
    valid,
  });
}
const enumName = (type, value) => (value == null ? null : openpgp.enums.read(type, value));
process.stdout.write(
  JSON.stringify({
    data,
    signatures: sigs,
    seipd: seipd
      ? {
          version: seipd.version,
          cipher: enumName(openpgp.enums.symmetric, seipd.cipherAlgorithm),
          aead: enumName(openpgp.enums.aead, seipd.aeadAlgorithm),
        }
      : null,
    pkesk: pkesk ? pkesk.version : null,
  }),
);

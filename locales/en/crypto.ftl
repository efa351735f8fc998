# Crypto: server key, user keys, record verification.
cmd-serverkey = The server's signing key (to verify your records)

crypto-serverkey =
    <b>Libral's signing key</b>
    Every record in your group is signed with this key. Fingerprint:
    <code>{ $fingerprint }</code>
    Created { $created }. Compare the fingerprint before you trust the key; the file below is the public key.
crypto-serverkey-old =
    Earlier keys (they still verify older records):
    { $fingerprints }
crypto-serverkey-missing = The server key is not ready yet. Please try again in a minute.
crypto-serverkey-caption = Libral server public key { $short }

# Why a key was refused (services.crypto.port.KeyErrorKind, "crypto-key-error-" + kind).
crypto-key-error-not-openpgp = This is not an OpenPGP public key. Send the text that starts with “-----BEGIN PGP PUBLIC KEY BLOCK-----”, or the .asc file.
crypto-key-error-secret-key = That was your SECRET key. I deleted the message and did not keep it. Send only the public key — and if others may have seen the message, consider making a new key.
crypto-key-error-multiple-keys = This contains several keys. Send exactly one public key.
crypto-key-error-expired = This key has expired. Extend its expiry date (or make a new key) and send it again.
crypto-key-error-revoked = This key has been revoked and can no longer be used.
crypto-key-error-no-encryption-subkey = This key has no usable encryption subkey, so records could not be encrypted to it.
crypto-key-error-no-signing-key = This key cannot sign.
crypto-key-error-weak-algorithm = This key uses a weak algorithm (for example RSA shorter than 2048 bits). Please use a Curve25519 key or RSA of at least 3072 bits.
crypto-key-error-unsupported = This kind of key is not supported here (for example an unusual curve). A Curve25519 or RSA key works everywhere.
crypto-key-error-too-large = This key is too large.
crypto-key-error-bad-passphrase = The passphrase does not unlock this key.

# Why a message could not be opened (DecryptErrorKind).
crypto-decrypt-error-not-openpgp = This is not an OpenPGP message.
crypto-decrypt-error-no-secret-key = This message is not encrypted to your key.
crypto-decrypt-error-bad-passphrase = Wrong passphrase.
crypto-decrypt-error-integrity = The message was modified or damaged.
crypto-decrypt-error-failed = The message could not be decrypted.

# Verification findings (RecordProblem).
crypto-record-forged = Not signed by Libral's server key — possibly forged.
crypto-record-moved = Signed for another group or topic — it was moved or copied here.
crypto-record-chain-broken = Does not follow the previous record — records are missing or out of order.
crypto-record-malformed = Not a record this version understands.

# A generated key pair, handed over once.
crypto-keygen-done =
    Your new key pair (fingerprint <code>{ $fingerprint }</code>).
    The file is your SECRET key, protected with this passphrase:
    <tg-spoiler><code>{ $passphrase }</code></tg-spoiler>
    Save both now (for example in a password manager) and delete this message: Libral does not keep them and cannot recover them.

# The reader tool (python -m bot.reader): transcript and verification report.
crypto-reader-title = Libral log — { $title }
crypto-reader-report = Verification report
crypto-reader-summary = { $verified } of { $total } records decrypted and verified.
crypto-reader-chain-start = The chain starts at the first record ever written (nothing is missing before it).
crypto-reader-clean = No problems found: every record is signed by Libral, sits in the group and topic it was written for, and none is missing or out of order from the first record to the last one the signed head names.
crypto-reader-transcript = Transcript
crypto-reader-general = General
crypto-reader-unreadable = Could not be read ({ $detail }).
crypto-reader-finding-forged = { $source } (record { $seq }): NOT signed by Libral's server key — possibly forged.
crypto-reader-finding-moved = { $source } (record { $seq }): moved or copied here — { $detail }.
crypto-reader-finding-missing = before { $source } (record { $seq }): record(s) { $detail } are missing.
crypto-reader-finding-reordered = { $source } (record { $seq }): out of order — it appears { $detail }.
crypto-reader-finding-chain-broken = { $source } (record { $seq }): does not follow the record before it (replaced or forged chain).
crypto-reader-finding-duplicate = { $source } (record { $seq }): appears more than once.
crypto-reader-finding-damaged = { $source }: damaged or not encrypted to your key ({ $detail }).
crypto-reader-finding-malformed = { $source }: signed content is not a Libral record ({ $detail }).
crypto-reader-finding-file-missing = { $source }: the .asc file is not in the export — export again with "Files" enabled.
crypto-reader-written = Transcript written to { $path }.
crypto-reader-bad-key = Cannot use the secret key: { $reason }
crypto-reader-no-server-key = No server key given: signatures cannot be checked. Send /serverkey to the bot, save the .asc file and pass it with --server-key.

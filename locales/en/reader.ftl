# The reader tool (python -m bot.reader): the signed head, records cut off, key file problems
crypto-reader-finding-cut-start = before { $source } (record { $seq }): record(s) { $detail } at the start of the log are missing.
crypto-reader-finding-cut-end = after { $source }: record(s) { $detail } at the end are missing (the signed head in the pinned panel says record { $seq } was delivered).
crypto-reader-finding-no-head = No signed head found (the group's pinned panel message): records cut off the end cannot be detected. Export the whole group, pinned panel included.
crypto-reader-finding-head-forged = { $source }: the signed head is NOT signed by Libral's server key — the export was altered ({ $detail }).
crypto-reader-finding-head-moved = { $source }: the signed head belongs to another group ({ $detail }).
crypto-reader-finding-head-mismatch = { $source } (record { $seq }): not the record the signed head names — replaced.
reader-head = Signed head in the pinned panel: the last record delivered is { $seq } ({ $ts }).
reader-key-unreadable = { $name }: cannot read the key file ({ $reason }).
reader-key-not-openpgp = { $name }: not an OpenPGP key.
reader-key-public-key = { $name }: this is a public key; --key needs your secret key (the file you saved when you made the key).
reader-key-bad-passphrase = { $name }: wrong passphrase for this key (LIBRAL_KEY_PASSPHRASE or the one typed).
reader-input-missing = { $path }: no such file or folder.
reader-server-key-unreadable = { $path }: not a readable public key ({ $reason }).
reader-output-failed = Cannot write the transcript to { $path } ({ $reason }).
reader-passphrase-prompt = Passphrase for { $name }: 

# The delivery side of the log server (self-repair, audit records, key expiry)

logserver-topics-recreated = I created the deleted topics again: { $topics }. The records waiting for them go there.
logserver-test-cannot-deliver = Your log server cannot receive records right now. Repair it with /logserver → “Check again”, then try again.
logserver-panel-head = Signed head (the reader checks the log against it):
logserver-key-expiring = The public key of your log server expires in { $days } days. Send an extended or new key with /logserver → “Change key”.
logserver-key-check-key-expired = Your log server's public key has expired, so logging is paused. Send a new key with /logserver → “Change key” to resume; waiting records are then encrypted to it.
logserver-key-check-key-revoked = Your log server's public key is revoked, so logging is paused. Send a new key with /logserver → “Change key” to resume; waiting records are then encrypted to it.
logserver-key-check-key-unusable = Your log server's public key can no longer encrypt (its encryption subkeys expired or were revoked), so logging is paused. Send a new key with /logserver → “Change key”.
logserver-reason-key-expired = The public key has expired. Send a new key to resume logging.
logserver-reason-key-revoked = The public key is revoked. Send a new key to resume logging.
logserver-reason-key-unusable = The public key can no longer encrypt. Send a new key to resume logging.

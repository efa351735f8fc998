# The delivery side of the log server (self-repair, audit records, key expiry)

logserver-topics-recreated = I created the deleted topics again: { $topics }. The records waiting for them go there.
logserver-test-cannot-deliver = Your log server cannot receive records right now. Repair it with /logserver → “Check again”, then try again.
logserver-panel-head = Signed head (the reader checks the log against it):

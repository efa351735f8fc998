# Making a key on the user's device (Mini App): the chat side
keygen-offer = No key yet? Press the button below. The key pair is made <b>on your device</b>; the secret key and its passphrase never leave it. Only the public key comes to me.
keygen-btn-open = Make a key on this device

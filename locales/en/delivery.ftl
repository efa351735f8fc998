# Update delivery: what the user hears while the service is briefly unavailable.
error-unavailable = We can't handle that right now because of a temporary problem. We'll answer as soon as we're back: no need to send it again.

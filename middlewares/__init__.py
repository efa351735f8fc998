"""Update middlewares: de-duplication, error boundary, metrics, session, user, i18n, throttling."""

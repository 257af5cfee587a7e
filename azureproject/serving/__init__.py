"""How the app serves requests on any host: hardening and speed-ups that are not Azure's (the
buffering worker, CSRF randomness, log filters, the login throttle, middleware for the health
probe and outages, page-part caches, static files before collectstatic). The Azure concerns
(credential, PostgreSQL backend, storage, Redis, telemetry, Easy Auth, the client address
behind App Service's front end) are the modules beside this package."""

"""GraphQL of simulation: runs, their series and residuals, models, specs, calibration and
line studies (the work is ``api.services.simulation``)."""

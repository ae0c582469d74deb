"""Service SLOs from alert history: config, interval math, figures and budget notifications."""

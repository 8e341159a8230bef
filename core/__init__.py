"""Pure pieces every layer may use: no models, no Django apps above config."""

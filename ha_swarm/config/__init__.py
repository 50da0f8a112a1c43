"""The stack configuration: the model (model.py), the one toolkit of checks (checks.py), one module
per settings section, and the loader (load.py)."""

from ha_swarm.config.checks import Refusal
from ha_swarm.config.load import load_settings, parse_settings
from ha_swarm.config.model import NAMESPACE, Settings

# The refusal of a setting (the name the settings tests and tools/verify.py know it by).
SettingsError = Refusal

__all__ = ["NAMESPACE", "Refusal", "Settings", "SettingsError", "load_settings", "parse_settings"]

"""ha-swarm's policy pack: `pulumi preview --policy-pack policy` (rules in rules.py)."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES

PolicyPack(name="ha-swarm", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)

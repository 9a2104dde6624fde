"""Builds the matching platform's policy pack; the policies live in `matching_policy`.

The CLI runs this file with the pack's directory first on `sys.path`, and the `PolicyPack`
constructor serves the analyzer over gRPC until the CLI stops it, so nothing may follow it.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from matching_policy import ALL_POLICIES

PolicyPack(
    name="matching-platform",
    description="Guards the matching platform's edge, network, cluster, data and identity.",
    policies=ALL_POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
)

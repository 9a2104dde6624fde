"""The edge's names: DNS-validated certificates and the public hostname's alias records.

Both hostnames live in the one public Route 53 zone the stack file names (settings refuse a
hostname outside it). ACM proves each certificate by a CNAME in that zone; the listener and the
distribution take the ARN from the `CertificateValidation`, so neither is ever given a
certificate that is still pending.

The origin hostname gets no record: CloudFront reaches a VPC origin through the endpoint it
made for the ALB (by the ALB's ARN), and uses the origin's domain name only for TLS (SNI and
the certificate check), so nothing ever resolves it.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.owner import Owner

VALIDATION_TTL = 300


def hosted_zone_id(owner: Owner, zone: str) -> pulumi.Output[str]:
    """The id of the public zone named `zone` in this account."""
    found = aws.route53.get_zone_output(name=zone, private_zone=False, opts=owner.invoke())
    return found.zone_id


def validated_certificate(
    owner: Owner, role: str, domain: str, zone_id: pulumi.Input[str], region: str | None = None
) -> aws.acm.CertificateValidation:
    """A certificate for `domain`, its validation record, and the wait for ACM to issue it."""
    certificate = aws.acm.Certificate(
        f"{owner.name}-{role}",
        domain_name=domain,
        validation_method="DNS",
        region=region,
        opts=owner.child(),
    )
    # One domain per certificate, so exactly one validation option.
    option = certificate.domain_validation_options.apply(lambda options: options[0])
    record = aws.route53.Record(
        f"{owner.name}-{role}-validation",
        zone_id=zone_id,
        name=option.apply(lambda o: o.resource_record_name or ""),
        type=option.apply(lambda o: o.resource_record_type or "CNAME"),
        records=[option.apply(lambda o: o.resource_record_value or "")],
        ttl=VALIDATION_TTL,
        # ACM gives the same record to every certificate of the name: a replacement reuses it.
        allow_overwrite=True,
        opts=owner.child(),
    )
    return aws.acm.CertificateValidation(
        f"{owner.name}-{role}-validated",
        certificate_arn=certificate.arn,
        validation_record_fqdns=[record.fqdn],
        region=region,
        opts=owner.child(),
    )


def alias_records(
    owner: Owner,
    hostname: str,
    zone_id: pulumi.Input[str],
    distribution: aws.cloudfront.Distribution,
) -> None:
    """A and AAAA aliases of the public hostname to the distribution (IPv6 is on)."""
    for record_type in ("A", "AAAA"):
        aws.route53.Record(
            f"{owner.name}-public-{record_type.lower()}",
            zone_id=zone_id,
            name=hostname,
            type=record_type,
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=distribution.domain_name,
                    zone_id=distribution.hosted_zone_id,
                    evaluate_target_health=False,
                )
            ],
            opts=owner.child(),
        )

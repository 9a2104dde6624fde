"""The edge's names under the mocks: certificates validated in the zone, aliases to CloudFront."""

from __future__ import annotations

import pytest

from components.settings import StackSettings
from tests.components.edge_ingress_run import NAME, build
from tests.conftest import ComponentRunner, one
from tools.mocks import CLOUDFRONT_ZONE_ID
from tools.offline import ProgramRun
from tools.records import ResourceRecord

RECORD = "aws:route53/record:Record"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def zone_id(run: ProgramRun) -> str:
    (zone,) = {r.inputs["zoneId"] for r in run.resources if r.type == RECORD}
    return zone


def validated(run: ProgramRun, role: str) -> tuple[ResourceRecord, ResourceRecord, ResourceRecord]:
    certificate = one(run, CERTIFICATE, f"{NAME}-{role}")
    record = one(run, RECORD, f"{NAME}-{role}-validation")
    validation = one(run, VALIDATION, f"{NAME}-{role}-validated")
    return certificate, record, validation


@pytest.mark.parametrize(
    ("role", "host", "region"),
    [("origin-cert", "origin_hostname", None), ("viewer-cert", "public_hostname", "us-east-1")],
)
def test_certificates_are_dns_validated_in_the_hosted_zone(
    run: ProgramRun, settings: StackSettings, role: str, host: str, region: str | None
) -> None:
    certificate, record, validation = validated(run, role)
    (option,) = certificate.outputs["domainValidationOptions"]

    assert certificate.inputs["domainName"] == getattr(settings.edge, host), certificate.urn
    assert certificate.inputs["validationMethod"] == "DNS", certificate.urn
    assert certificate.inputs.get("region") == region, certificate.urn
    assert validation.inputs.get("region") == region, validation.urn
    assert record.inputs["name"] == option["resourceRecordName"], record.urn
    assert record.inputs["type"] == "CNAME", record.urn
    assert record.inputs["records"] == [option["resourceRecordValue"]], record.urn
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"], validation.urn
    assert validation.inputs["validationRecordFqdns"] == [record.outputs["fqdn"]]


def test_listener_and_distribution_use_the_validated_certificates(run: ProgramRun) -> None:
    listener = one(run, "aws:lb/listener:Listener")
    distribution = one(run, "aws:cloudfront/distribution:Distribution")
    origin = validated(run, "origin-cert")[2]
    viewer = validated(run, "viewer-cert")[2]

    assert origin.urn in listener.dependencies, f"{listener.urn} must wait for validation"
    assert viewer.urn in distribution.dependencies, f"{distribution.urn} must wait for validation"
    assert listener.inputs["certificateArn"] == origin.outputs["certificateArn"]
    assert (
        distribution.inputs["viewerCertificate"]["acmCertificateArn"]
        == (viewer.outputs["certificateArn"])
    )


def test_zone_is_the_one_the_settings_name(run: ProgramRun, settings: StackSettings) -> None:
    zone = zone_id(run)

    assert zone.startswith("Z"), zone
    for hostname in (settings.edge.public_hostname, settings.edge.origin_hostname):
        assert hostname.endswith(settings.edge.hosted_zone)


@pytest.mark.parametrize("record_type", ["A", "AAAA"])
def test_public_hostname_aliases_the_distribution(
    run: ProgramRun, settings: StackSettings, record_type: str
) -> None:
    record = one(run, RECORD, f"{NAME}-public-{record_type.lower()}")
    distribution = one(run, "aws:cloudfront/distribution:Distribution")

    assert record.inputs["name"] == settings.edge.public_hostname, record.urn
    assert record.inputs["type"] == record_type, record.urn
    assert record.inputs["aliases"] == [
        {
            "name": distribution.outputs["domainName"],
            "zoneId": CLOUDFRONT_ZONE_ID,
            "evaluateTargetHealth": False,
        }
    ], record.urn


def test_origin_hostname_gets_no_record(run: ProgramRun, settings: StackSettings) -> None:
    names = {r.inputs["name"] for r in run.resources if r.type == RECORD}

    assert settings.edge.origin_hostname not in names

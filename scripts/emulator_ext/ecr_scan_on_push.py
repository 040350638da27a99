"""ECR's PutImageScanningConfiguration with scanning turned off.

The SDK leaves `scanOnPush` out of the request when it is false (the model's
default), and AWS reads the empty configuration as "off". moto 5.2.5 reads it as
"no change", so a repository could never have scanning turned off on the
emulator. This reads the missing member as AWS does.
"""
from moto.ecr.models import ECRBackend


def install():
    put = ECRBackend.put_image_scanning_configuration

    def put_as_aws_does(self, registry_id, repository_name, image_scan_config):
        config = {"scanOnPush": bool((image_scan_config or {}).get("scanOnPush", False))}
        return put(self, registry_id, repository_name, config)

    ECRBackend.put_image_scanning_configuration = put_as_aws_does

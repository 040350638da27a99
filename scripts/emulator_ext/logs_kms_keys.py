"""CloudWatch Logs' AssociateKmsKey and DisassociateKmsKey.

svc-up encrypts every service's log group with the cluster's KMS key, and
gives an existing group the key (or a new one) with AssociateKmsKey. moto
5.2.5 keeps a key given at CreateLogGroup but has neither call (it answers
500). These keep or drop the group's key as AWS does; the key's own checks
(a key CloudWatch Logs may not use yet) are AWS's answers, injected by the
fault proxy in the tests.
"""
from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.responses import LogsResponse


def _group(response):
    name = response._get_param("logGroupName")
    group = response.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException()
    return group


def install():
    def associate_kms_key(self):
        _group(self).kms_key_id = self._get_param("kmsKeyId")
        return ""

    def disassociate_kms_key(self):
        _group(self).kms_key_id = None
        return ""

    LogsResponse.associate_kms_key = associate_kms_key
    LogsResponse.disassociate_kms_key = disassociate_kms_key

"""The emulator's account, with its VPC and Elastic IP limits raised.

net-up checks the account's limits before it changes anything: Elastic IPs
(EC2's `vpc-max-elastic-ips` account attribute) and VPCs per region (Service
Quotas, L-F678F1CE). moto answers AWS's defaults, 5 of each, but never
enforces them, and the test suites run dozens of stacks side by side in one
region of one emulator. So the emulator plays an account whose limits were
raised (as a busy account's are); the refusals themselves are tested by
answering a lane's calls with lower limits (tests/faults.py `answer`).
"""

RAISED = 100000


def install():
    from moto.ec2.responses import account_attributes
    from moto.servicequotas.resources.default_quotas import vpc

    for quota in vpc.VPC_DEFAULT_QUOTAS:
        if quota.get("QuotaCode") == "L-F678F1CE":
            quota["Value"] = float(RAISED)

    original = account_attributes.AccountAttributes.describe_account_attributes

    def describe_account_attributes(self):
        result = original(self)
        for attribute in result.result["AccountAttributes"]:
            if attribute["AttributeName"] in ("vpc-max-elastic-ips", "max-elastic-ips"):
                attribute["AttributeValues"] = [{"AttributeValue": str(RAISED)}]
        return result

    account_attributes.AccountAttributes.describe_account_attributes = describe_account_attributes

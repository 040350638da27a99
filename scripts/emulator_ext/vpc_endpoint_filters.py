"""DescribeVpcEndpoints' `vpc-endpoint-id`, `vpc-id` and `service-name` filters.

moto 5.2.5 implements only the type and state filters and answers any other
with a 500 (FilterNotImplementedError). On AWS they hold, and net-up relies on
the id filter: unlike the VpcEndpointIds list, a filter answers nothing for an
endpoint that is gone instead of failing the whole call, which is what a wait
for deletion and a check of a document's ids need.
"""

FIELDS = {
    "vpc-endpoint-id": "id",
    "vpc-id": "vpc_id",
    "service-name": "service_name",
}


def install():
    from moto.ec2.models.vpcs import VPCEndPoint

    original = VPCEndPoint.get_filter_value

    def get_filter_value(self, filter_name, method_name=None):
        field = FIELDS.get(filter_name)
        if field is not None:
            return getattr(self, field)
        return original(self, filter_name, method_name)

    VPCEndPoint.get_filter_value = get_filter_value

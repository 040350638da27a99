"""ELBv2 DescribeTags for an ARN that does not exist, as AWS answers it.

AWS refuses the whole call with LoadBalancerNotFound, TargetGroupNotFound,
ListenerNotFound or RuleNotFound when one of the ARNs names nothing; moto 5.2.5
answers with an empty tag list for it, which reads as "a resource of nobody's".
alb-up checks the document's ids by their tags: an id of a resource deleted
meanwhile must read as gone, not as someone else's.
"""
from moto.elbv2.models import ELBv2Backend


def install():
    describe_tags = ELBv2Backend.describe_tags

    def checked(self, resource_arns):
        for arn in resource_arns:
            # Raises the NotFound error of the ARN's kind, as AWS does.
            self._get_resource_by_arn(arn)
        return describe_tags(self, resource_arns)

    ELBv2Backend.describe_tags = checked

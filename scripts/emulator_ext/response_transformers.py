"""Per-request `include` switches (DescribeServices/DescribeClusters TAGS...).

moto 5.2.5 records "include TAGS in this answer" in a dict shared by the
class (`RESPONSE_KEY_PATH_TO_TRANSFORMER`), and the threaded server answers
requests concurrently: a DescribeServices without `include=TAGS` from one
client can strip the tags from another client's concurrent answer that asked
for them. On AWS each answer has exactly what its request asked for; tools
that check ownership by the tags DescribeServices returns would otherwise see
a service of their own "without tags" now and then and refuse it.

The switch is kept on the request's own response object instead.
"""
from moto.core.responses import BaseResponse

KEY = "RESPONSE_KEY_PATH_TO_TRANSFORMER"


def _own(self):
    if KEY not in self.__dict__:
        setattr(self, KEY, dict(getattr(type(self), KEY)))
    return self.__dict__[KEY]


def install():
    include = BaseResponse._include_in_response
    exclude = BaseResponse._exclude_from_response

    def _include_in_response(self, response_key_path):
        _own(self)
        include(self, response_key_path)

    def _exclude_from_response(self, response_key_path):
        _own(self)
        exclude(self, response_key_path)

    BaseResponse._include_in_response = _include_in_response
    BaseResponse._exclude_from_response = _exclude_from_response

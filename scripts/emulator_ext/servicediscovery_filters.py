"""Cloud Map's ListServices and ListNamespaces filters, which moto ignores.

moto 5.2.5 answers ListServices with every service of the region whatever the
NAMESPACE_ID filter says, and ListNamespaces likewise ignores TYPE and NAME. On
AWS the filters hold, and the tools rely on them: without this, two stacks in one
emulator region would see (and adopt) each other's discovery services.
"""
import json

from moto.servicediscovery.responses import ServiceDiscoveryResponse

# Filter name -> the member of moto's JSON answer it tests.
SERVICE_KEYS = {"NAMESPACE_ID": "NamespaceId"}
NAMESPACE_KEYS = {"TYPE": "Type", "NAME": "Name"}


def install():
    list_services = ServiceDiscoveryResponse.list_services
    list_namespaces = ServiceDiscoveryResponse.list_namespaces

    def filtered_services(self):
        body = list_services(self)
        return apply(self, body, "Services", SERVICE_KEYS)

    def filtered_namespaces(self):
        status, headers, body = list_namespaces(self)
        return status, headers, apply(self, body, "Namespaces", NAMESPACE_KEYS)

    ServiceDiscoveryResponse.list_services = filtered_services
    ServiceDiscoveryResponse.list_namespaces = filtered_namespaces


def apply(response, body, member, keys):
    filters = json.loads(response.body or "{}").get("Filters") or []
    items = json.loads(body)[member]
    for f in filters:
        key = keys.get(f.get("Name"))
        if key is None:
            continue
        values = f.get("Values") or []
        # EQ takes one value, IN several; BEGINS_WITH (NAME only) a prefix.
        if f.get("Condition") == "BEGINS_WITH":
            items = [i for i in items if any(str(i.get(key, "")).startswith(v) for v in values)]
        else:
            items = [i for i in items if i.get(key) in values]
    return json.dumps({member: items})

"""CloudWatch over Smithy RPC v2 CBOR, which moto does not speak.

The AWS SDK for Rust calls CloudWatch with the RPC v2 CBOR protocol
(POST /service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies). moto
5.2.5 understands CloudWatch's query and JSON protocols only, so this middleware
translates: the CBOR request becomes the same call in JSON (X-Amz-Target
GraniteServiceVersion20100801.<Op>), and moto's JSON answer, errors included, goes
back as CBOR with the `smithy-protocol: rpc-v2-cbor` header the SDK checks.

Timestamps are the one type the two encodings spell differently: JSON has epoch
seconds, CBOR wants them under tag 1. CloudWatch's timestamp members all end in
"Timestamp" (StateUpdatedTimestamp, ...) or are the Timestamps list of metric
data, so those keys are tagged on the way out and untagged on the way in.
"""
import io
import json

import cbor2

PREFIX = "/service/GraniteServiceVersion20100801/operation/"


def wrap(app):
    def middleware(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = json.dumps(untag(cbor2.loads(raw)) if raw else {}).encode()
        environ = dict(environ)
        environ.update({
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "HTTP_X_AMZ_TARGET": "GraniteServiceVersion20100801." + path[len(PREFIX):],
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        })
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        answer = b"".join(app(environ, capture))
        value = json.loads(answer) if answer.strip() else {}
        if isinstance(value, dict) and "__type" in value:
            # JSON error codes may carry a namespace prefix ("ns#Code"); CBOR wants the bare name.
            value["__type"] = value["__type"].rsplit("#", 1)[-1]
        data = cbor2.dumps(tag(value))
        headers = [(k, v) for k, v in captured["headers"]
                   if k.lower() not in ("content-type", "content-length")]
        headers += [("Content-Type", "application/cbor"), ("Content-Length", str(len(data))),
                    ("smithy-protocol", "rpc-v2-cbor")]
        start_response(captured["status"], headers)
        return [data]

    return middleware


def is_time(key):
    return key.endswith("Timestamp") or key in ("Timestamps", "StartTime", "EndTime", "StartDate", "EndDate")


def tag(value, key=""):
    if isinstance(value, dict):
        return {k: tag(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [tag(v, key) for v in value]
    if is_time(key) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return cbor2.CBORTag(1, value)
    return value


def untag(value):
    if isinstance(value, dict):
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    if isinstance(value, cbor2.CBORTag) and value.tag == 1:
        return value.value
    if hasattr(value, "timestamp"):  # cbor2 decodes tag 1 to datetime
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        import base64
        return base64.b64encode(value).decode()
    return value

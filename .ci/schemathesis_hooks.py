"""Checks of Valise's own that schemathesis runs beside its built-in ones (loaded through
SCHEMATHESIS_HOOKS by .ci/schemathesis.sh).

`undeclared_response_headers`: a header a client relies on (entity tags, locations, the replay
marker, rate limits) that a response carries must be declared on that response in the
document. schemathesis's own `response_headers_conformance` checks the other direction: a
required header that is declared is sent, and matches its schema.
"""

import schemathesis

TRACKED = ("etag", "location", "idempotent-replayed", "retry-after", "ratelimit", "ratelimit-policy",
           "x-request-id", "x-policy-version", "deprecation", "sunset")


@schemathesis.check
def undeclared_response_headers(ctx, response, case):
    definition = case.operation.responses.find_by_status_code(response.status_code)
    if definition is None:
        return None  # an undocumented status is status_code_conformance's finding
    declared = {name.lower() for name, _ in definition.headers.items()} if definition.headers else set()
    sent = {name.lower() for name in response.headers}
    missing = sorted(name for name in TRACKED if name in sent and name not in declared)
    if missing:
        raise AssertionError(
            f"{case.operation.label} answered {response.status_code} with headers the document "
            f"does not declare on that response: {', '.join(missing)}"
        )
    return None
